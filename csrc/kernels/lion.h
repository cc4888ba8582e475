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
 * Fused form fo_f_lion: the same loop with the training tools inside, flags 0
 * and 1 (kernels/fused.h).
 */
FO_INLINE void FO_FN(lion_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int wdec,
                                const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    const T sign = (T)h->s[0], b1 = (T)h->s[1], omb1 = (T)h->s[2], b2 = (T)h->s[3], omb2 = (T)h->s[4];
    const T wd = (T)h->s[5], neg_lr = (T)h->s[6];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        const T gs = sign * gi;
        const T mi = m[i];
        const T c = omb1 * gs + b1 * mi;
        T u = c > (T)0 ? (T)1 : (T)0;
        u = c < (T)0 ? (T)-1 : u;
        u = c != c ? c : u;
        if (wdec) u = u + wd * pi;
        pn = pi + u * neg_lr;
        m[i] = omb2 * gs + b2 * mi;
    });
}

void FO_FN(fo_k_lion)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    if (h->flags & 1)
        FO_FN(lion_loop)(h, ptr, sp->n, 1, NULL, 0);
    else
        FO_FN(lion_loop)(h, ptr, sp->n, 0, NULL, 0);
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for both flag words: the default (no weight decay) and decoupled weight
 * decay, which Lion is nearly always trained with; its loop is short (no
 * division or square root), so the second variant costs little to build. */
int FO_FN(fo_f_lion)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                      double *stats)
{
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    if (h->flags & 1)
        FO_TOOLS_SWITCH(tm, FO_FN(lion_loop)(h, ptr, sp->n, 1, &tc, TMC))
    else
        FO_TOOLS_SWITCH(tm, FO_FN(lion_loop)(h, ptr, sp->n, 0, &tc, TMC))
    return 0;
}
