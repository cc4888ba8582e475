/* isa/kernels_avx2.c -- every rule with AVX2 + FMA enabled for these functions
 * only (the rest of the library stays baseline). Chosen at runtime by cpu.c.
 * -ffp-contract=off keeps FMA out of the arithmetic, so results equal the
 * scalar path bit for bit. */
#include "../kernels/common.h"
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma")
#define FO_ISA_SUFFIX avx2
#include "../kernels/instantiate.h"
#endif
