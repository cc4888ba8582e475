/*
 * fastopt.h -- the C interface of the fastopt engine.
 *
 * Layers (see docs/architecture.md):
 *   Python optimizer class  -> fastopt/_engine.pyx (Cython binding: checks, pointer tables)
 *   -> fo_run() in engine.c (multi-tensor driver: blocks, threads)
 *   -> a rule kernel from kernels/<rule>.h (math + SIMD, one element range at a time).
 *
 * The C side trusts its inputs: every array, count and scalar is checked by the binding.
 */
#ifndef FASTOPT_H
#define FASTOPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dtypes ----------------------------------------------------------- */
enum { FO_F32 = 0, FO_F64 = 1, FO_N_DTYPES = 2 };

/* ---- instruction-set levels (runtime dispatch, see cpu.c) -------------- */
enum {
    FO_ISA_SCALAR = 0,   /* no vectorization at all: the reference path        */
    FO_ISA_BASELINE = 1, /* what the build targets (SSE2 on x86-64), vectorized */
    FO_ISA_AVX2 = 2,     /* AVX2 + FMA instructions enabled per function        */
    FO_ISA_AVX512 = 3,   /* AVX-512 F/VL/BW/DQ, 512-bit vectors                 */
    FO_N_ISAS = 4
};

/* ---- rules ------------------------------------------------------------ */
#define FO_RULE(name) FO_RULE_##name,
enum {
#include "rules.def"
    FO_N_RULES
};
#undef FO_RULE

/* ---- per-call scalars --------------------------------------------------
 * Every kernel receives the same struct: per-step scalars computed once per
 * step in double (bias corrections etc.), a flag word that selects the
 * specialised inner loop, and an optional per-tensor scalar table (used by
 * rules whose update depends on a per-tensor quantity, e.g. a trust ratio).
 * The meaning of s[] and flags for each rule is documented in its header.   */
#define FO_MAX_SCALARS 16
typedef struct {
    double s[FO_MAX_SCALARS];
    int64_t flags;
    const double *per_tensor; /* n_tensors * per_tensor_width, or NULL */
    int64_t per_tensor_width;
} fo_hyper;

/* One contiguous piece of one tensor: elements [offset, offset + n). */
typedef struct {
    int64_t tensor;
    int64_t offset;
    int64_t n;
} fo_span;

/* A kernel updates one span. `ptr[k]` is slot k's pointer already advanced to
 * the span's first element (NULL for an absent optional slot). `out`, when
 * the rule reduces, points at this span's FO_OUT_WIDTH doubles.              */
typedef void (*fo_kernel_fn)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out);

/* ---- the plan ----------------------------------------------------------
 * Built once per list of tensors (a param group's params of one dtype):
 * every tensor is cut into spans of at most FO_BLOCK elements, and
 * consecutive spans are packed into chunks of about FO_BLOCK elements, so a
 * huge tensor yields many chunks and a thousand tiny ones share a few.
 * Threads take whole chunks dynamically; a span never straddles tensors.   */
#define FO_BLOCK 16384 /* elements: 64 KiB of float32, 128 KiB of float64 (whole cache lines) */
/* A tiled plan (a rule's pass that reduces a matrix along both axes, e.g.
 * Adafactor's row and column statistics) has one span per tile: span k of a
 * tensor covers [k * FO_TILE, (k + 1) * FO_TILE) in a virtual index, every
 * slot is passed unadvanced (as a fixed slot) and the kernel finds its tile's
 * rows and columns from the span offset. A tile is at most FO_TILE_STRIP
 * columns wide (whole rows below that: one stream for the prefetchers; row
 * pieces with a long stride between them ran at a third of the bandwidth). */
#define FO_TILE 131072
#define FO_TILE_STRIP 16384
#define FO_MAX_SLOTS 8
#define FO_OUT_WIDTH 4 /* doubles a reducing kernel may write per span */

typedef struct {
    int64_t n_tensors;
    int64_t n_spans;
    int64_t n_chunks;
    int64_t total;        /* elements over all tensors */
    fo_span *spans;       /* n_spans                     */
    int64_t *chunk_first; /* n_chunks + 1, indices into spans */
} fo_plan;

/* Returns 0, or -1 when out of memory (plan left empty). */
int fo_plan_init(fo_plan *plan, const int64_t *sizes, int64_t n_tensors, int64_t block);
void fo_plan_free(fo_plan *plan);

/* ---- the per-span pipeline ---------------------------------------------
 * Gradient transforms and parameter observers that ride inside a rule's pass
 * (fastopt's clip_* options, update telemetry, a fused parameter EMA). For
 * each span the driver calls
 *   pre  (kernel of rule `pipe_pre`):  g' = transform(g) into a per-thread
 *        scratch span; with FO_PIPE_GSTATS the sum of g'^2; with
 *        FO_PIPE_STATS old p into a second scratch span and the sum of p^2;
 *   fn   (the rule) with its grad slot pointing at g' when transformed;
 *   post (kernel of rule `pipe_post`): with FO_PIPE_STATS the sum of
 *        (p_new - p_old)^2; with FO_PIPE_EMA the average update
 *        a = a + w (p_new - a)   (or a = a + (p_new - a) / d, FO_PIPE_EMA_DIV).
 * The scratch spans stay in cache, so a pipe adds no memory traffic except the
 * average's own buffer. See kernels/pipeline.h for the scalars and flags.
 * Rules with a fused form (pipe.fused set) run all of it inside their own
 * loop instead, one call per span: no scratch, no second look at p or g,
 * the extra arithmetic hidden under the step's memory traffic.             */
enum {
    FO_PIPE_CLIP = 1,       /* g = min(max(g, lo), hi)                      */
    FO_PIPE_SCALE = 2,      /* g = g * (T)scale[tensor]  (after CLIP)       */
    FO_PIPE_STATS = 4,      /* per span: out[0] dw^2, out[1] p^2 (old p)    */
    FO_PIPE_EMA = 8,        /* a = a + w (p - a)                            */
    FO_PIPE_EMA_HI = 16,    /* lerp's w >= 0.5 form: a = p - (p - a)(1 - w)  */
    FO_PIPE_EMA_DIV = 32,   /* a = a + (p - a) / d  (equal averaging)       */
    FO_PIPE_GSTATS = 64     /* per span: out[2] g^2 (g as the rule reads it) */
};
#define FO_PIPE_TRANSFORM (FO_PIPE_CLIP | FO_PIPE_SCALE)
#define FO_PIPE_AVERAGE (FO_PIPE_EMA | FO_PIPE_EMA_DIV)

/* A rule's fused form (csrc/fused.def, kernels/fused.h): the rule's kernel
 * with the pipe's transforms and observers inside its own element loop, run
 * on a whole span. `avg` is the span's average (or NULL), `stats` its
 * FO_OUT_WIDTH sums (or NULL), added to as the staged stages would. Returns
 * 0, or 1 without touching anything for a flag word it has no loop for (a
 * rule may fuse only its common variants); the driver then stages the span. */
struct fo_pipe_;
typedef int (*fo_fused_fn)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const struct fo_pipe_ *pipe,
                            char *avg, double *stats);

typedef struct fo_pipe_ {
    fo_kernel_fn pre, post; /* rules pipe_pre / pipe_post for the plan's dtype and ISA */
    fo_fused_fn fused;      /* the rule's fused form, or NULL: run the staged pre/post  */
    fo_hyper h;             /* their scalars, FO_PIPE_* flags, per-tensor grad scales   */
    int grad_slot;          /* the slot of the grads the rule reads                     */
    char *const *avg_base;  /* n_tensors pointers of the averages (FO_PIPE_AVERAGE)     */
    double *stats;          /* n_spans * FO_OUT_WIDTH doubles (FO_PIPE_STATS), or NULL  */
    unsigned int streams;   /* set by fo_run: the slots other than the params' and the
                               grads' that are per-element arrays (not fixed)          */
    int prefetch;           /* set by fo_run: the step's arrays exceed FO_PREFETCH_MIN
                               bytes, so a fused form prefetches its streams            */
} fo_pipe;

/* Bytes over all of a step's streams from which the fused forms prefetch in
 * software (kernels/fused.h): below it the step is cache-resident and the
 * prefetches would be extra instructions only. */
#define FO_PREFETCH_MIN ((int64_t)4 << 20)

/* Run `fn` over every span of `plan`.
 *   base:      n_slots * n_tensors pointers, slot-major (base[k * n_tensors + t]);
 *              NULL entries stay NULL.
 *   elsize:    bytes per element (all slots share the dtype).
 *   fixed_mask: bit k set = slot k's pointers are passed as they are, not
 *              advanced to the span's offset (per-tensor arrays of another
 *              shape that the kernel indexes itself, e.g. factored statistics).
 *   n_threads: threads to use; <= 1, or a workload below the serial threshold,
 *              never enters an OpenMP region.
 *   out:       n_spans * FO_OUT_WIDTH doubles for reducing kernels, else NULL.
 *   ftz:       1 sets flush-to-zero/denormals-are-zero on each worker thread for
 *              the duration of the call and restores the previous mode.
 * Results never depend on n_threads: spans are fixed by the plan.
 *   pipe:      NULL, or transforms/observers run around `fn` on each span.
 * Returns 0, or -1 when the pipe's scratch memory cannot be allocated (then
 * nothing was written). */
int fo_run(const fo_plan *plan, fo_kernel_fn fn, const fo_hyper *h, char *const *base, int n_slots,
           int elsize, unsigned int fixed_mask, int n_threads, double *out, int ftz, const fo_pipe *pipe);

/* Workloads with fewer elements than this run on the calling thread. */
int64_t fo_serial_threshold(void);
void fo_set_serial_threshold(int64_t n);

/* ---- kernels and ISA dispatch (registry.c, cpu.c) --------------------- */
/* NULL when the rule has no kernel for that dtype/ISA in this build. */
fo_kernel_fn fo_kernel(int rule, int dtype, int isa);
/* The rule's fused form (csrc/fused.def), or NULL when it has none. */
fo_fused_fn fo_fused_kernel(int rule, int dtype, int isa);
const char *fo_rule_name(int rule);

int fo_isa_compiled(int isa);  /* 1 if this build contains kernels for the level */
int fo_isa_supported(int isa); /* 1 if this CPU and OS can run them (CPUID + XGETBV) */
int fo_isa_best(void);         /* highest level both compiled and supported */
const char *fo_isa_name(int isa);

/* ---- threads (engine.c) ----------------------------------------------- */
int fo_openmp_enabled(void);
int fo_omp_max_threads(void); /* omp_get_max_threads(), or 1 in a serial build */

#ifdef __cplusplus
}
#endif
#endif /* FASTOPT_H */
