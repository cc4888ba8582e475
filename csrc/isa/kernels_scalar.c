/* isa/kernels_scalar.c -- every rule with vectorization switched off: the
 * reference path (FASTOPT_CPU=scalar) that the SIMD paths are tested against. */
#include "../kernels/common.h"
#pragma GCC optimize("no-tree-vectorize", "no-tree-slp-vectorize")
#define FO_ISA_SUFFIX scalar
#include "../kernels/instantiate.h"
