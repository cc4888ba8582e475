/*
 * kernels/adabelief.h -- AdaBelief (Zhuang et al. 2020), in optax's
 * definition (scale_by_belief) and op order, with optional L2 or decoupled
 * weight decay.
 *
 *   g  = sign * g                        sign = -1 when maximize
 *   p  = p * decay                       decay = 1 - lr*wd when decoupled, else 1
 *   g  = g + wd * p                      if L2 (coupled weight decay)
 *   m  = (1 - beta1) * g + beta1 * m
 *   d  = g - m                           prediction error against the NEW m (paper, optax)
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
 * Fused form fo_f_adabelief: the same loop with the training tools inside, flags 0
 * (kernels/fused.h).
 */
FO_INLINE void FO_FN(adabelief_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2,
                                     const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT v = (T *)ptr[3];
    const T sign = (T)h->s[0], decay = (T)h->s[1], wd = (T)h->s[2], b1 = (T)h->s[3], omb1 = (T)h->s[4];
    const T b2 = (T)h->s[5], omb2 = (T)h->s[6], eps_root = (T)h->s[7], bc1 = (T)h->s[8], bc2 = (T)h->s[9];
    const T eps = (T)h->s[10], neg_lr = (T)h->s[11];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        const T pd = pi * decay;
        if (l2) gs = gs + wd * pd;
        const T mi = omb1 * gs + b1 * m[i];
        const T d = gs - mi;
        const T si = (omb2 * (d * d) + b2 * v[i]) + eps_root;
        m[i] = mi;
        v[i] = si;
        pn = pd + neg_lr * ((mi / bc1) / (FO_T_SQRT(si / bc2) + eps));
    });
}

void FO_FN(fo_k_adabelief)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    if (h->flags & 1)
        FO_FN(adabelief_loop)(h, ptr, sp->n, 1, NULL, 0);
    else
        FO_FN(adabelief_loop)(h, ptr, sp->n, 0, NULL, 0);
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for flags 0 (the default: decoupled weight decay, if any, is the decay
 * scalar); with L2 it returns 1 and the driver stages the span. */
int FO_FN(fo_f_adabelief)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                           double *stats)
{
    if (h->flags & 1) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(adabelief_loop)(h, ptr, sp->n, 0, &tc, TMC))
    return 0;
}
