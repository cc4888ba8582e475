/*
 * kernels/average.h -- running averages of the parameters (fastopt.EMA,
 * fastopt.swa_utils): the element update, shared with kernels/pipeline.h
 * (where it is fused into an optimizer's pass), and the standalone rule.
 *
 *   a = a + w * (p - a)            exponential (w = 1 - decay), w < 0.5
 *   a = p - (p - a) * (1 - w)      the same for w >= 0.5   (torch.lerp's two forms)
 *   a = a + (p - a) / d            equal averaging (SWA, d = n_averaged + 1)
 *
 * Rule average:
 *   Slots:   0 a (rw), 1 p (r)
 *   Scalars: s[0] w, or d with DIV
 *   Flags:   bit0 HI (w >= 0.5 form), bit1 DIV
 *   Bytes per element moved: 3·sizeof(T) (read a p, write a).
 */
FO_INLINE T FO_FN(average_op)(const T a, const T p, const T w, const T omw, const int hi, const int div)
{
    if (div) return a + (p - a) / w;
    return hi ? p - (p - a) * omw : a + w * (p - a);
}

FO_INLINE void FO_FN(average_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int hi,
                                   const int div)
{
    T *FO_RESTRICT a = (T *)ptr[0];
    const T *FO_RESTRICT p = (const T *)ptr[1];
    const T w = (T)h->s[0], omw = (T)1 - w;
    for (int64_t i = 0; i < n; i++) a[i] = FO_FN(average_op)(a[i], p[i], w, omw, hi, div);
}

void FO_FN(fo_k_average)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    switch (h->flags & 3) {
    case 0: FO_FN(average_loop)(h, ptr, sp->n, 0, 0); break;
    case 1: FO_FN(average_loop)(h, ptr, sp->n, 1, 0); break;
    default: FO_FN(average_loop)(h, ptr, sp->n, 0, 1); break;
    }
}
