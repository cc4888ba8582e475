/*
 * kernels/adam.h -- Adam (Kingma & Ba 2015) with AMSGrad (Reddi et al. 2018),
 * L2 weight decay (Adam) or decoupled weight decay (AdamW, Loshchilov &
 * Hutter 2019), maximize; torch.optim.Adam/AdamW semantics and op order.
 *
 *   g  = sign * g                               sign = -1 when maximize
 *   p  = p * decay                              decay = 1 - lr*wd (AdamW), else 1
 *   g  = g + wd * p                             if L2 (Adam's weight_decay)
 *   m  = m + w1 * (g - m)       (w1 < 0.5)      torch's lerp(m, g, w1), w1 = 1 - beta1
 *   m  = g - (g - m) * (1 - w1) (w1 >= 0.5)
 *   v  = v * beta2 + ((1 - beta2) * g) * g
 *   vm = max(vm, v)                             AMSGrad; vm replaces v below
 *   p  = p + (neg_step * m) / (sqrt(v) / bc2_sqrt + eps)
 * with bc1 = 1 - beta1^t, bc2_sqrt = sqrt(1 - beta2^t), neg_step = -lr / bc1,
 * all computed in double once per step by the Python class.
 *
 * Slots:   0 p (rw), 1 g (r), 2 m (rw), 3 v (rw), 4 vmax (rw; NULL unless AMSGrad)
 * Scalars: s[0] sign, s[1] wd (L2), s[2] decay, s[3] w1, s[4] beta2, s[5] 1-beta2,
 *          s[6] bc2_sqrt, s[7] eps, s[8] neg_step
 * Flags:   bit0 AMSGrad, bit1 L2, bit2 w1 >= 0.5
 * Bytes per element moved: 7·sizeof(T) (read p g m v, write p m v); 9·sizeof(T) with AMSGrad.
 * Fused form fo_f_adam: the same loop with the training tools inside (kernels/fused.h).
 */
FO_INLINE void FO_FN(adam_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int ams,
                                const int l2, const int lerp_hi, const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT v = (T *)ptr[3];
    T *FO_RESTRICT vm = (T *)ptr[4];
    const T sign = (T)h->s[0], wd = (T)h->s[1], decay = (T)h->s[2], w1 = (T)h->s[3];
    const T b2 = (T)h->s[4], omb2 = (T)h->s[5], bc2s = (T)h->s[6], eps = (T)h->s[7];
    const T neg_step = (T)h->s[8], omw1 = (T)1 - w1;
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        /* Both values, then a select (kernels/fused.h): the fused form tests
         * l2 and lerp_hi at runtime. */
        const T g0 = sign * gi;
        const T pd = pi * decay;
        const T gl = g0 + wd * pd;
        const T gs = FO_FN(sel)(l2, gl, g0);
        const T m_hi = gs - (gs - m[i]) * omw1, m_lo = m[i] + w1 * (gs - m[i]);
        const T mi = FO_FN(sel)(lerp_hi, m_hi, m_lo);
        T vi = v[i] * b2 + (omb2 * gs) * gs;
        m[i] = mi;
        v[i] = vi;
        if (ams) {
            vi = vm[i] > vi ? vm[i] : vi;
            vm[i] = vi;
        }
        const T denom = FO_T_SQRT(vi) / bc2s + eps;
        pn = pd + (neg_step * mi) / denom;
    });
}

#define FO_ADAM_SWITCH(CALL)                                                        \
    switch (h->flags & 7) {                                                        \
    case 0: CALL(0); break;                                                        \
    case 1: CALL(1); break;                                                        \
    case 2: CALL(2); break;                                                        \
    case 3: CALL(3); break;                                                        \
    case 4: CALL(4); break;                                                        \
    case 5: CALL(5); break;                                                        \
    case 6: CALL(6); break;                                                        \
    default: CALL(7); break;                                                       \
    }

void FO_FN(fo_k_adam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
#define FO_ADAM_PLAIN(f) FO_FN(adam_loop)(h, ptr, n, (f) & 1, ((f) >> 1) & 1, ((f) >> 2) & 1, NULL, 0)
    FO_ADAM_SWITCH(FO_ADAM_PLAIN)
#undef FO_ADAM_PLAIN
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside.
 * Plain Adam/AdamW (flags 0) has its own loops; the other flag words share
 * one loop per AMSGrad setting that tests L2 and the lerp form at runtime
 * as selects (same bits), so 12 loops, not 32, are compiled per ISA. */
int FO_FN(fo_f_adam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                      double *stats)
{
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    const int64_t n = sp->n;
    const int l2 = (h->flags >> 1) & 1, lerp_hi = (h->flags >> 2) & 1;
    if ((h->flags & 7) == 0)
        FO_TOOLS_SWITCH(tm, FO_FN(adam_loop)(h, ptr, n, 0, 0, 0, &tc, TMC))
    else if (h->flags & 1)
        FO_TOOLS_SWITCH(tm, FO_FN(adam_loop)(h, ptr, n, 1, l2, lerp_hi, &tc, TMC))
    else
        FO_TOOLS_SWITCH(tm, FO_FN(adam_loop)(h, ptr, n, 0, l2, lerp_hi, &tc, TMC))
    return 0;
}
#undef FO_ADAM_SWITCH
