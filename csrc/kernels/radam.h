/*
 * kernels/radam.h -- RAdam, Adam with variance rectification (Liu et al.
 * 2020), with L2 or decoupled weight decay and maximize; torch.optim.RAdam
 * semantics and op order.
 *
 *   g  = sign * g                               sign = -1 when maximize
 *   p  = p * decay                              decay = 1 - lr*wd (decoupled), else 1
 *   g  = g + wd * p                             if L2
 *   m  = m + w1 * (g - m)       (w1 < 0.5)      torch's lerp(m, g, w1), w1 = 1 - beta1
 *   m  = g - (g - m) * (1 - w1) (w1 >= 0.5)
 *   v  = v * beta2 + ((1 - beta2) * g) * g
 *   mh = m / bc1
 *   rectified step (rho_t > 5):
 *     a = (1 / (sqrt(v) + eps)) * bc2_sqrt     torch's bc2**0.5 / (sqrt(v) + eps), which
 *                                               torch evaluates as reciprocal(..) * bc2**0.5
 *     p = p - (((mh * lr) * a) * rect)
 *   otherwise (un-adapted momentum step):
 *     p = p - mh * lr
 * with bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, bc2_sqrt = bc2**0.5,
 * rho_inf = 2/(1 - beta2) - 1, rho_t = rho_inf - 2 t beta2^t / bc2 and
 * rect = ((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))**0.5,
 * all computed in double once per step; whether the step is rectified is a
 * per-step choice made there too (flag bit2).
 *
 * Slots:   0 p (rw), 1 g (r), 2 m = exp_avg (rw), 3 v = exp_avg_sq (rw)
 * Scalars: s[0] sign, s[1] wd (L2), s[2] decay, s[3] w1, s[4] beta2, s[5] 1-beta2,
 *          s[6] bc1, s[7] lr, s[8] bc2_sqrt, s[9] eps, s[10] rect
 * Flags:   bit0 L2, bit1 w1 >= 0.5, bit2 rectified (rho_t > 5)
 * Bytes per element moved: 7·sizeof(T) (read p g m v, write p m v).
 * Fused form fo_f_radam: the same loop with the training tools inside, flags 4
 * (kernels/fused.h).
 */
FO_INLINE void FO_FN(radam_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2,
                                 const int lerp_hi, const int rectified, const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT v = (T *)ptr[3];
    const T sign = (T)h->s[0], wd = (T)h->s[1], decay = (T)h->s[2], w1 = (T)h->s[3];
    const T b2 = (T)h->s[4], omb2 = (T)h->s[5], bc1 = (T)h->s[6], lr = (T)h->s[7];
    const T bc2s = (T)h->s[8], eps = (T)h->s[9], rect = (T)h->s[10], omw1 = (T)1 - w1;
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        const T pd = pi * decay;
        if (l2) gs = gs + wd * pd;
        const T mi = lerp_hi ? gs - (gs - m[i]) * omw1 : m[i] + w1 * (gs - m[i]);
        const T vi = v[i] * b2 + (omb2 * gs) * gs;
        m[i] = mi;
        v[i] = vi;
        const T mh = mi / bc1;
        if (rectified) {
            const T a = ((T)1 / (FO_T_SQRT(vi) + eps)) * bc2s;
            pn = pd - ((mh * lr) * a) * rect;
        } else {
            pn = pd - mh * lr;
        }
    });
}

void FO_FN(fo_k_radam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
#define FO_RADAM_CASE(f) \
    case f: FO_FN(radam_loop)(h, ptr, n, (f) & 1, ((f) >> 1) & 1, ((f) >> 2) & 1, NULL, 0); break;
    switch (h->flags & 7) {
        FO_RADAM_CASE(0) FO_RADAM_CASE(1) FO_RADAM_CASE(2) FO_RADAM_CASE(3)
        FO_RADAM_CASE(4) FO_RADAM_CASE(5) FO_RADAM_CASE(6) FO_RADAM_CASE(7)
    }
#undef FO_RADAM_CASE
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for flags 4, the flag word of the defaults once the step is rectified
 * (from step 6 on with beta2 = 0.999). The first, unrectified steps (flags
 * 0) and every other flag word return 1 and the driver stages the span: a
 * loop for a handful of early steps is not worth its build time. */
int FO_FN(fo_f_radam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                       double *stats)
{
    if ((h->flags & 7) != 4) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(radam_loop)(h, ptr, sp->n, 0, 0, 1, &tc, TMC))
    return 0;
}
