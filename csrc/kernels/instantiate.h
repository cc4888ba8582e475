/*
 * kernels/instantiate.h -- emit every rule for float and double under the
 * current ISA. The including file defines FO_ISA_SUFFIX (scalar, baseline,
 * avx2, avx512) and sets the matching target pragma first.
 */
#include "common.h"

#define T float
#define FO_UINT_T uint32_t
#define FO_T_SQRT FO_SQRTF
#define FO_T_FMA __builtin_fmaf
#define FO_FN(name) FO_CAT(FO_CAT(name, _f32_), FO_ISA_SUFFIX)
#include "all.h"
#undef FO_FN
#undef FO_T_SQRT
#undef FO_T_FMA
#undef FO_UINT_T
#undef T

#define T double
#define FO_UINT_T uint64_t
#define FO_T_SQRT FO_SQRT
#define FO_T_FMA __builtin_fma
#define FO_FN(name) FO_CAT(FO_CAT(name, _f64_), FO_ISA_SUFFIX)
#include "all.h"
#undef FO_FN
#undef FO_T_SQRT
#undef FO_T_FMA
#undef FO_UINT_T
#undef T
