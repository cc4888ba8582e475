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
 * Fused form fo_f_adagrad: the same loop with the training tools inside, flags 0
 * (kernels/fused.h).
 */
FO_INLINE void FO_FN(adagrad_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2,
                                   const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT s = (T *)ptr[2];
    const T sign = (T)h->s[0], wd = (T)h->s[1], eps = (T)h->s[2], neg_clr = (T)h->s[3];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        if (l2) gs = gs + wd * pi;
        const T si = s[i] + gs * gs;
        s[i] = si;
        const T std = FO_T_SQRT(si) + eps;
        pn = pi + (neg_clr * gs) / std;
    });
}

void FO_FN(fo_k_adagrad)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    if (h->flags & 1)
        FO_FN(adagrad_loop)(h, ptr, sp->n, 1, NULL, 0);
    else
        FO_FN(adagrad_loop)(h, ptr, sp->n, 0, NULL, 0);
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for Adagrad without L2 (flags 0, the default); with L2 it returns 1 and
 * the driver stages the span. */
int FO_FN(fo_f_adagrad)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                         double *stats)
{
    if (h->flags & 1) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(adagrad_loop)(h, ptr, sp->n, 0, &tc, TMC))
    return 0;
}
