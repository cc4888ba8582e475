/*
 * kernels/adagrad.h -- Adagrad (Duchi, Hazan & Singer 2011) with L2 weight
 * decay, learning-rate decay and maximize; torch.optim.Adagrad semantics and
 * op order (dense gradients).
 *
 *   g   = sign * g                        sign = -1 when maximize
 *   g   = g + wd * p                      if L2
 *   s   = s + g * g                       torch's addcmul(g, g, value=1)
 *   std = sqrt(s) + eps                   eps outside the square root
 *   p   = p + (neg_clr * g) / std         torch's addcdiv(g, std, value=-clr)
 * with clr = lr / (1 + (t - 1) * lr_decay), computed in double once per step.
 * The 'sum' state starts at initial_accumulator_value (the Python class fills it).
 *
 * Slots:   0 p (rw), 1 g (r), 2 s = 'sum' (rw)
 * Scalars: s[0] sign, s[1] wd, s[2] eps, s[3] neg_clr
 * Flags:   bit0 L2
 * Bytes per element moved: 5·sizeof(T) (read p g s, write p s).
 */
FO_INLINE void FO_FN(adagrad_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT s = (T *)ptr[2];
    const T sign = (T)h->s[0], wd = (T)h->s[1], eps = (T)h->s[2], neg_clr = (T)h->s[3];
    for (int64_t i = 0; i < n; i++) {
        T gi = sign * g[i];
        const T pi = p[i];
        if (l2) gi = gi + wd * pi;
        const T si = s[i] + gi * gi;
        s[i] = si;
        const T std = FO_T_SQRT(si) + eps;
        p[i] = pi + (neg_clr * gi) / std;
    }
}

void FO_FN(fo_k_adagrad)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    if (h->flags & 1)
        FO_FN(adagrad_loop)(h, ptr, sp->n, 1);
    else
        FO_FN(adagrad_loop)(h, ptr, sp->n, 0);
}
