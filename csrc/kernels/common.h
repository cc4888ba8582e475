/*
 * kernels/common.h -- what every rule header needs, included once per ISA file.
 *
 * Rule headers are templates: each ISA file (csrc/isa/kernels_*.c) includes
 * kernels/instantiate.h, which includes every rule header twice, with
 *   T      = float or double (the element type; per-step scalars are cast to T
 *            once per span, so float32 arithmetic stays float32 as in torch),
 *   FO_FN(name) -> name_f32_avx2, name_f64_scalar, ... (unique symbol per copy).
 * Kernels contain no threads, no Python and no static data.
 */
#ifndef FASTOPT_KERNELS_COMMON_H
#define FASTOPT_KERNELS_COMMON_H
#include <math.h>
#include <stdint.h>
#include "../fastopt.h"

#define FO_CAT_(a, b) a##b
#define FO_CAT(a, b) FO_CAT_(a, b)
/* Specialised inner loops are always inlined into the switch that picks them,
 * so flag tests are compile-time constants and every variant vectorises. */
#define FO_INLINE static inline __attribute__((always_inline))
#define FO_RESTRICT __restrict__
/* sqrt without errno (setup.py also passes -fno-math-errno): vectorisable. */
#define FO_SQRTF(x) __builtin_sqrtf(x)
#define FO_SQRT(x) __builtin_sqrt(x)

/* Deterministic sums in double: element k of a span goes to lane k % 32, the
 * 32 lanes are combined by a tree of adjacent pairs (l[j] = l[2j] + l[2j+1],
 * 32 -> 16 -> ... -> 1), then the tail elements are added one by one. 32
 * independent chains keep the adder busy (8 lanes waited on its latency);
 * the order is fixed by the code, not by the SIMD width, so every ISA gives
 * the same bits. fastopt._multipass reproduces it in NumPy. */
#ifndef FO_LANES32_HELPERS
#define FO_LANES32_HELPERS
#define FO_LANES32 32
static inline __attribute__((always_inline)) double fo_lanes32_sum(double *a)
{
    for (int w = FO_LANES32 / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) a[j] = a[2 * j] + a[2 * j + 1];
    return a[0];
}
#endif
#endif
