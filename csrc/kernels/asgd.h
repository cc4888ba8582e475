/*
 * kernels/asgd.h -- averaged SGD (Polyak & Juditsky 1992; the decaying step
 * size of Bottou 2012 / Xu 2011), torch.optim.ASGD semantics and op order
 * (_single_tensor_asgd).
 *
 *   g  = sign * g                       sign = -1 when maximize
 *   g  = g + wd * p                     if L2 (weight_decay != 0)
 *   p  = p * decay                      decay = 1 - lambd * eta
 *   p  = p + neg_eta * g                neg_eta = -eta
 *   ax = ax + (p - ax) * mu             when mu != 1
 *   ax = p                              when mu == 1 (torch copies)
 * eta = lr / (1 + lambd*lr*(t-1))^alpha and mu = 1 / max(1, (t-1) - t0) are
 * the values torch keeps in its state from the previous step (float32, its
 * scalar dtype); the Python class computes them once per step in double,
 * rounds them to float32 as torch stores them, and passes them here.
 *
 * Slots:   0 p (rw), 1 g (r), 2 ax (rw)
 * Scalars: s[0] sign, s[1] wd, s[2] decay, s[3] neg_eta, s[4] mu
 * Flags:   bit0 L2, bit1 averaging (mu != 1)
 * Bytes per element moved: 4·sizeof(T) without averaging (read p g, write p ax),
 *          5·sizeof(T) with (read p g ax, write p ax): 16 / 20 in float32.
 * Fused form fo_f_asgd: the same loop with the training tools inside, flags 0
 * and 2 (kernels/fused.h).
 */
FO_INLINE void FO_FN(asgd_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2, const int avg,
                                const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT ax = (T *)ptr[2];
    const T sign = (T)h->s[0], wd = (T)h->s[1], decay = (T)h->s[2], neg_eta = (T)h->s[3], mu = (T)h->s[4];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        T pd = pi;
        if (l2) gs = gs + wd * pd;
        pd = pd * decay;
        pd = pd + neg_eta * gs;
        pn = pd;
        ax[i] = avg ? ax[i] + (pd - ax[i]) * mu : pd;
    });
}

void FO_FN(fo_k_asgd)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
    switch (h->flags & 3) {
        case 0: FO_FN(asgd_loop)(h, ptr, n, 0, 0, NULL, 0); break;
        case 1: FO_FN(asgd_loop)(h, ptr, n, 1, 0, NULL, 0); break;
        case 2: FO_FN(asgd_loop)(h, ptr, n, 0, 1, NULL, 0); break;
        case 3: FO_FN(asgd_loop)(h, ptr, n, 1, 1, NULL, 0); break;
    }
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * without L2: flags 0 (the default: no averaging until step t0 = 1e6, so ax
 * is a copy of p) and 2 (averaging); a flag word with L2 returns 1 and the
 * driver stages the span. */
int FO_FN(fo_f_asgd)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                      double *stats)
{
    if (h->flags & 1) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    if (h->flags & 2)
        FO_TOOLS_SWITCH(tm, FO_FN(asgd_loop)(h, ptr, sp->n, 0, 1, &tc, TMC))
    else
        FO_TOOLS_SWITCH(tm, FO_FN(asgd_loop)(h, ptr, sp->n, 0, 0, &tc, TMC))
    return 0;
}
