/* isa/kernels_baseline.c -- every rule for the build's baseline target
 * (SSE2 on x86-64), auto-vectorized: runs on any CPU of the architecture. */
#include "../kernels/common.h"
#define FO_ISA_SUFFIX baseline
#include "../kernels/instantiate.h"
