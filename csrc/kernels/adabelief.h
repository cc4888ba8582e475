/*
 * kernels/adabelief.h -- AdaBelief (Zhuang et al. 2020), in optax's
 * definition (scale_by_belief) and op order, with optional L2 or decoupled
 * weight decay.
 *
 *   g  = sign * g                        sign = -1 when maximize
 *   p  = p * decay                       decay = 1 - lr*wd when decoupled, else 1
 *   g  = g + wd * p                      if L2 (coupled weight decay)
 *   d  = g - m                           prediction error against the OLD m (as optax)
 *   m  = (1 - beta1) * g + beta1 * m
 *   s  = ((1 - beta2) * (d * d) + beta2 * s) + eps_root
 *   p  = p + neg_lr * ((m / bc1) / (sqrt(s / bc2) + eps))
 * with bc_k = 1 - beta_k^t computed in double once per step; optax divides by
 * the bias corrections, and so does this kernel. eps_root sits inside the
 * stored s (so it accumulates, as in the paper's algorithm), eps outside the
 * square root.
 *
 * Slots:   0 p (rw), 1 g (r), 2 exp_avg m (rw), 3 exp_avg_var s (rw)
 * Scalars: s[0] sign, s[1] decay, s[2] wd (L2), s[3] beta1, s[4] 1-beta1, s[5] beta2,
 *          s[6] 1-beta2, s[7] eps_root, s[8] bc1, s[9] bc2, s[10] eps, s[11] neg_lr
 * Flags:   bit0 L2
 * Bytes per element moved: 7·sizeof(T) (read p g m s, write p m s): 28 in float32.
 */
FO_INLINE void FO_FN(adabelief_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT v = (T *)ptr[3];
    const T sign = (T)h->s[0], decay = (T)h->s[1], wd = (T)h->s[2], b1 = (T)h->s[3], omb1 = (T)h->s[4];
    const T b2 = (T)h->s[5], omb2 = (T)h->s[6], eps_root = (T)h->s[7], bc1 = (T)h->s[8], bc2 = (T)h->s[9];
    const T eps = (T)h->s[10], neg_lr = (T)h->s[11];
    for (int64_t i = 0; i < n; i++) {
        T gi = sign * g[i];
        const T pi = p[i] * decay;
        if (l2) gi = gi + wd * pi;
        const T mo = m[i];
        const T d = gi - mo;
        const T mi = omb1 * gi + b1 * mo;
        const T si = (omb2 * (d * d) + b2 * v[i]) + eps_root;
        m[i] = mi;
        v[i] = si;
        p[i] = pi + neg_lr * ((mi / bc1) / (FO_T_SQRT(si / bc2) + eps));
    }
}

void FO_FN(fo_k_adabelief)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    if (h->flags & 1)
        FO_FN(adabelief_loop)(h, ptr, sp->n, 1);
    else
        FO_FN(adabelief_loop)(h, ptr, sp->n, 0);
}
