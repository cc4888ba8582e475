/*
 * kernels/stream.h -- STREAM-like bandwidth probes run through the same
 * driver, plan and threads as the optimizer kernels.
 *
 * stream_triad: a = b + q * c (STREAM's triad; slots 0 a (w), 1 b, 2 c).
 *   Counted as 3·sizeof(T) per element: the write-allocate read of `a` is
 *   hidden, which is why triad understates what in-place kernels can reach.
 *
 * stream_inplace: the access pattern of an in-place optimizer step with
 *   trivial arithmetic. Reads slots 0..k-1, writes slots 0..j-1 in place:
 *     t = x0 + x1 + ... + x(k-1);   xw = q * t   for w < j
 *   with q = 1/k so values stay bounded. Counted as (k + j)·sizeof(T).
 *   Flags: k | (j << 4), 1 <= j < k <= 6 or k = j = 1 (x0 = x0 in place,
 *   LBFGS's SCALE); bit 8 (FO_INPLACE_PREFETCH): in
 *   chunks of 32 elements with every array prefetched FO_TS_AHEAD bytes ahead,
 *   as the optimizer loops do above FO_PREFETCH_MIN (kernels/fused.h, FO_TM_P),
 *   so the probe stays the ceiling of what they can reach.
 *   Scalars: s[0] q.
 *   j = 0 (1 <= k <= 6) is the read-only pattern of a reduction pass (the
 *   norm passes of LARS, LAMB's trust ratio, SAM, LBFGS's dot products,
 *   Adafactor's statistics): out[0] = sum of x0 + ... + x(k-1) over the span,
 *   in 32 lanes of T (the rules sum in 32 lanes of double: no cheaper), values
 *   1.0 so every partial sum is exact. Counted as k·sizeof(T). It does not
 *   prefetch (neither do the reduction loops: the hardware prefetchers keep
 *   up with one or two read streams).
 */
#ifndef FO_INPLACE_PREFETCH
#define FO_INPLACE_PREFETCH 0x100
#endif
/* x0[i] + ... + x(k-1)[i], added in slot order (the in-place and read-only loops) */
#define FO_STREAM_SUM_(i)           \
    ({                              \
        T t_ = x0[i];               \
        if (k > 1) t_ += x1[i];     \
        if (k > 2) t_ += x2[i];     \
        if (k > 3) t_ += x3[i];     \
        if (k > 4) t_ += x4[i];     \
        if (k > 5) t_ += x5[i];     \
        t_;                         \
    })
#define FO_INPLACE_ELEM_(i)         \
    {                               \
        T t = FO_STREAM_SUM_(i);    \
        t = q * t;                  \
        x0[i] = t;                  \
        if (j > 1) x1[i] = t;       \
        if (j > 2) x2[i] = t;       \
        if (j > 3) x3[i] = t;       \
        if (j > 4) x4[i] = t;       \
    }
FO_INLINE void FO_FN(inplace_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int k,
                                   const int j, const int pf)
{
    T *FO_RESTRICT x0 = (T *)ptr[0];
    T *FO_RESTRICT x1 = (T *)ptr[1];
    T *FO_RESTRICT x2 = (T *)ptr[2];
    T *FO_RESTRICT x3 = (T *)ptr[3];
    T *FO_RESTRICT x4 = (T *)ptr[4];
    T *FO_RESTRICT x5 = (T *)ptr[5];
    const T q = (T)h->s[0];
    T *const xs[6] = {x0, x1, x2, x3, x4, x5};
    const int64_t nb = pf ? n - n % FO_LANES32 : 0;
    for (int64_t i0 = 0; i0 < nb; i0 += FO_LANES32) {
        for (int q_ = 0; q_ < (int)(FO_LANES32 * sizeof(T)); q_ += 64)
            for (int s_ = 0; s_ < k; s_++) __builtin_prefetch((const char *)(xs[s_] + i0) + FO_TS_AHEAD + q_, 1);
        _Pragma("GCC ivdep") for (int64_t i = i0; i < i0 + FO_LANES32; i++) FO_INPLACE_ELEM_(i)
    }
    for (int64_t i = nb; i < n; i++) FO_INPLACE_ELEM_(i)
}
#undef FO_INPLACE_ELEM_

FO_INLINE double FO_FN(read_loop)(char *const *ptr, const int64_t n, const int k)
{
    const T *FO_RESTRICT x0 = (const T *)ptr[0];
    const T *FO_RESTRICT x1 = (const T *)ptr[1];
    const T *FO_RESTRICT x2 = (const T *)ptr[2];
    const T *FO_RESTRICT x3 = (const T *)ptr[3];
    const T *FO_RESTRICT x4 = (const T *)ptr[4];
    const T *FO_RESTRICT x5 = (const T *)ptr[5];
    T acc[FO_LANES32] = {0};
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32)
        for (int l = 0; l < FO_LANES32; l++) acc[l] += FO_STREAM_SUM_(i + l);
    double s = 0.0;
    for (int l = 0; l < FO_LANES32; l++) s += (double)acc[l];
    for (int64_t i = nb; i < n; i++) s += (double)FO_STREAM_SUM_(i);
#undef FO_STREAM_SUM_
    return s;
}

void FO_FN(fo_k_stream_inplace)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const int64_t n = sp->n;
    if (((h->flags >> 4) & 0xf) == 0) {
        const int k = (int)(h->flags & 0xf);
        double s = 0.0;
        switch (k) {
        case 1: s = FO_FN(read_loop)(ptr, n, 1); break;
        case 2: s = FO_FN(read_loop)(ptr, n, 2); break;
        case 3: s = FO_FN(read_loop)(ptr, n, 3); break;
        case 4: s = FO_FN(read_loop)(ptr, n, 4); break;
        case 5: s = FO_FN(read_loop)(ptr, n, 5); break;
        case 6: s = FO_FN(read_loop)(ptr, n, 6); break;
        default: break;
        }
        if (out) out[0] = s;
        return;
    }
    const int pf = (h->flags & FO_INPLACE_PREFETCH) != 0;
#define FO_INPLACE_CASE(k, j) \
    case (k) | ((j) << 4): FO_FN(inplace_loop)(h, ptr, n, k, j, pf); break;
    switch (h->flags & 0xff) {
        FO_INPLACE_CASE(1, 1) FO_INPLACE_CASE(2, 1) FO_INPLACE_CASE(3, 1) FO_INPLACE_CASE(3, 2) FO_INPLACE_CASE(4, 1)
        FO_INPLACE_CASE(4, 2) FO_INPLACE_CASE(4, 3) FO_INPLACE_CASE(5, 2) FO_INPLACE_CASE(5, 3)
        FO_INPLACE_CASE(5, 4) FO_INPLACE_CASE(6, 3) FO_INPLACE_CASE(6, 4) FO_INPLACE_CASE(6, 5)
        default: break;
    }
#undef FO_INPLACE_CASE
}

void FO_FN(fo_k_stream_triad)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    T *FO_RESTRICT a = (T *)ptr[0];
    const T *FO_RESTRICT b = (const T *)ptr[1];
    const T *FO_RESTRICT c = (const T *)ptr[2];
    const T q = (T)h->s[0];
    const int64_t n = sp->n;
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + q * c[i];
}
