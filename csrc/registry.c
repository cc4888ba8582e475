/*
 * registry.c -- the table of kernels: rule x dtype x ISA -> function.
 * Generated from rules.def; AVX2/AVX-512 entries exist only on x86-64.
 */
#include "fastopt.h"

#define FO_DECL(name, dt, isa) \
    void fo_k_##name##_##dt##_##isa(const fo_hyper *, char *const *, const fo_span *, double *);
#if defined(__x86_64__) && defined(__GNUC__)
#define FO_HAVE_X86_ISAS 1
#define FO_RULE(name) \
    FO_DECL(name, f32, scalar) FO_DECL(name, f32, baseline) FO_DECL(name, f32, avx2) FO_DECL(name, f32, avx512) \
    FO_DECL(name, f64, scalar) FO_DECL(name, f64, baseline) FO_DECL(name, f64, avx2) FO_DECL(name, f64, avx512)
#else
#define FO_HAVE_X86_ISAS 0
#define FO_RULE(name) \
    FO_DECL(name, f32, scalar) FO_DECL(name, f32, baseline) FO_DECL(name, f64, scalar) FO_DECL(name, f64, baseline)
#endif
#include "rules.def"
#undef FO_RULE

#if FO_HAVE_X86_ISAS
#define FO_ROW(name, dt) {fo_k_##name##_##dt##_scalar, fo_k_##name##_##dt##_baseline, fo_k_##name##_##dt##_avx2, fo_k_##name##_##dt##_avx512}
#else
#define FO_ROW(name, dt) {fo_k_##name##_##dt##_scalar, fo_k_##name##_##dt##_baseline, 0, 0}
#endif
#define FO_RULE(name) {FO_ROW(name, f32), FO_ROW(name, f64)},
static const fo_kernel_fn kernels[FO_N_RULES][FO_N_DTYPES][FO_N_ISAS] = {
#include "rules.def"
};
#undef FO_RULE

/* Fused forms (fused.def), indexed by rule id; NULL for rules without one. */
#define FO_FDECL(name, dt, isa)                                                                   \
    int fo_f_##name##_##dt##_##isa(const fo_hyper *, char *const *, const fo_span *, const fo_pipe *, \
                                    char *, double *);
#if FO_HAVE_X86_ISAS
#define FO_FUSED(name) \
    FO_FDECL(name, f32, scalar) FO_FDECL(name, f32, baseline) FO_FDECL(name, f32, avx2) FO_FDECL(name, f32, avx512) \
    FO_FDECL(name, f64, scalar) FO_FDECL(name, f64, baseline) FO_FDECL(name, f64, avx2) FO_FDECL(name, f64, avx512)
#define FO_FROW(name, dt) {fo_f_##name##_##dt##_scalar, fo_f_##name##_##dt##_baseline, fo_f_##name##_##dt##_avx2, fo_f_##name##_##dt##_avx512}
#else
#define FO_FUSED(name) \
    FO_FDECL(name, f32, scalar) FO_FDECL(name, f32, baseline) FO_FDECL(name, f64, scalar) FO_FDECL(name, f64, baseline)
#define FO_FROW(name, dt) {fo_f_##name##_##dt##_scalar, fo_f_##name##_##dt##_baseline, 0, 0}
#endif
#include "fused.def"
#undef FO_FUSED
#define FO_FUSED(name) [FO_RULE_##name] = {FO_FROW(name, f32), FO_FROW(name, f64)},
static const fo_fused_fn fused[FO_N_RULES][FO_N_DTYPES][FO_N_ISAS] = {
#include "fused.def"
};
#undef FO_FUSED

fo_fused_fn fo_fused_kernel(int rule, int dtype, int isa)
{
    if (rule < 0 || rule >= FO_N_RULES || dtype < 0 || dtype >= FO_N_DTYPES || isa < 0 || isa >= FO_N_ISAS)
        return 0;
    return fused[rule][dtype][isa];
}

#define FO_RULE(name) #name,
static const char *const rule_names[FO_N_RULES] = {
#include "rules.def"
};
#undef FO_RULE

fo_kernel_fn fo_kernel(int rule, int dtype, int isa)
{
    if (rule < 0 || rule >= FO_N_RULES || dtype < 0 || dtype >= FO_N_DTYPES || isa < 0 || isa >= FO_N_ISAS)
        return 0;
    return kernels[rule][dtype][isa];
}

const char *fo_rule_name(int rule) { return (rule >= 0 && rule < FO_N_RULES) ? rule_names[rule] : ""; }

int fo_isa_compiled(int isa)
{
    if (isa == FO_ISA_SCALAR || isa == FO_ISA_BASELINE) return 1;
    return FO_HAVE_X86_ISAS && (isa == FO_ISA_AVX2 || isa == FO_ISA_AVX512);
}
