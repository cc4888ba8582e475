/*
 * kernels/adamax.h -- Adamax, the infinity-norm variant of Adam (Kingma & Ba
 * 2015, section 7.1), with L2 weight decay and maximize; torch.optim.Adamax
 * semantics and op order.
 *
 *   g  = sign * g                               sign = -1 when maximize
 *   g  = g + wd * p                             if L2
 *   m  = m + w1 * (g - m)       (w1 < 0.5)      torch's lerp(m, g, w1), w1 = 1 - beta1
 *   m  = g - (g - m) * (1 - w1) (w1 >= 0.5)
 *   u  = max(u * beta2, |g| + eps)              eps inside the max; NaN if either is NaN
 *                                               (torch.maximum)
 *   p  = p + (neg_clr * m) / u                  torch's addcdiv(m, u, value=-clr)
 * with clr = lr / (1 - beta1^t), computed in double once per step.
 *
 * Slots:   0 p (rw), 1 g (r), 2 m = exp_avg (rw), 3 u = exp_inf (rw)
 * Scalars: s[0] sign, s[1] wd, s[2] w1, s[3] beta2, s[4] eps, s[5] neg_clr
 * Flags:   bit0 L2, bit1 w1 >= 0.5
 * Bytes per element moved: 7·sizeof(T) (read p g m u, write p m u).
 * Fused form fo_f_adamax: the same loop with the training tools inside, flags 0
 * (kernels/fused.h).
 */
FO_INLINE void FO_FN(adamax_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2,
                                  const int lerp_hi, const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT u = (T *)ptr[3];
    const T sign = (T)h->s[0], wd = (T)h->s[1], w1 = (T)h->s[2], b2 = (T)h->s[3], eps = (T)h->s[4];
    const T neg_clr = (T)h->s[5], omw1 = (T)1 - w1;
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        if (l2) gs = gs + wd * pi;
        const T mi = lerp_hi ? gs - (gs - m[i]) * omw1 : m[i] + w1 * (gs - m[i]);
        m[i] = mi;
        const T a = u[i] * b2;
        const T b = (gs < (T)0 ? -gs : gs) + eps;
        T ui = a > b ? a : b; /* b when b is NaN */
        ui = a != a ? a : ui; /* a when a is NaN */
        u[i] = ui;
        pn = pi + (neg_clr * mi) / ui;
    });
}

void FO_FN(fo_k_adamax)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
#define FO_ADAMAX_CASE(f) \
    case f: FO_FN(adamax_loop)(h, ptr, n, (f) & 1, ((f) >> 1) & 1, NULL, 0); break;
    switch (h->flags & 3) {
        FO_ADAMAX_CASE(0) FO_ADAMAX_CASE(1) FO_ADAMAX_CASE(2) FO_ADAMAX_CASE(3)
    }
#undef FO_ADAMAX_CASE
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for the default flag word (flags 0: no L2, w1 < 0.5); every other flag
 * word returns 1 and the driver stages the span. */
int FO_FN(fo_f_adamax)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                        double *stats)
{
    if (h->flags & 3) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(adamax_loop)(h, ptr, sp->n, 0, 0, &tc, TMC))
    return 0;
}
