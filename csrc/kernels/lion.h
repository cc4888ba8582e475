/*
 * kernels/lion.h -- Lion, EvoLved Sign Momentum (Chen et al. 2023), in the
 * op order of the paper's Program 1 / optax's scale_by_lion + decoupled decay.
 *
 *   g  = sign * g                        sign = -1 when maximize
 *   c  = (1 - beta1) * g + beta1 * m     interpolation that is only signed
 *   u  = sign(c)                         sign(0) = 0, sign(NaN) = NaN
 *   u  = u + wd * p                      if wd != 0 (decoupled weight decay)
 *   p  = p + u * neg_lr                  neg_lr = -lr
 *   m  = (1 - beta2) * g + beta2 * m     the momentum tracked with beta2
 *
 * Slots:   0 p (rw), 1 g (r), 2 exp_avg m (rw)
 * Scalars: s[0] sign, s[1] beta1, s[2] 1-beta1, s[3] beta2, s[4] 1-beta2, s[5] wd, s[6] neg_lr
 * Flags:   bit0 weight decay
 * Bytes per element moved: 5·sizeof(T) (read p g m, write p m): 20 in float32.
 */
FO_INLINE void FO_FN(lion_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int wdec)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    const T sign = (T)h->s[0], b1 = (T)h->s[1], omb1 = (T)h->s[2], b2 = (T)h->s[3], omb2 = (T)h->s[4];
    const T wd = (T)h->s[5], neg_lr = (T)h->s[6];
    for (int64_t i = 0; i < n; i++) {
        const T gi = sign * g[i];
        const T mi = m[i];
        const T c = omb1 * gi + b1 * mi;
        T u = c > (T)0 ? (T)1 : (T)0;
        u = c < (T)0 ? (T)-1 : u;
        u = c != c ? c : u;
        const T pi = p[i];
        if (wdec) u = u + wd * pi;
        p[i] = pi + u * neg_lr;
        m[i] = omb2 * gi + b2 * mi;
    }
}

void FO_FN(fo_k_lion)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    if (h->flags & 1)
        FO_FN(lion_loop)(h, ptr, sp->n, 1);
    else
        FO_FN(lion_loop)(h, ptr, sp->n, 0);
}
