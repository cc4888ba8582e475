/* isa/kernels_avx512.c -- every rule with AVX-512 (F, VL, BW, DQ) and 512-bit
 * vectors enabled for these functions only. Chosen at runtime by cpu.c. */
#include "../kernels/common.h"
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")
#define FO_ISA_SUFFIX avx512
#include "../kernels/instantiate.h"
#endif
