/*
 * kernels/nadam.h -- NAdam, Adam with Nesterov momentum and a momentum
 * schedule (Dozat 2016), with L2 or decoupled weight decay and maximize;
 * torch.optim.NAdam semantics and op order.
 *
 *   g  = sign * g                               sign = -1 when maximize
 *   p  = p * decay                              decay = 1 - lr*wd (decoupled), else 1
 *   g  = g + wd * p                             if L2
 *   m  = m + w1 * (g - m)       (w1 < 0.5)      torch's lerp(m, g, w1), w1 = 1 - beta1
 *   m  = g - (g - m) * (1 - w1) (w1 >= 0.5)
 *   v  = v * beta2 + ((1 - beta2) * g) * g
 *   d  = sqrt(v / bc2) + eps
 *   p  = p + (c1 * g) / d                       two addcdiv's, as torch
 *   p  = p + (c2 * m) / d
 * with, in double once per step (mu_product kept per param in float32, as torch):
 *   mu_t = beta1 (1 - 0.5 * 0.96^(t psi)),  mu_{t+1} likewise,
 *   mu_product = mu_product * mu_t (float32),
 *   c1 = -lr (1 - mu_t) / (1 - mu_product),
 *   c2 = -lr mu_{t+1} / (1 - mu_product mu_{t+1}),  bc2 = 1 - beta2^t.
 * c1 and c2 come from s[8], s[9], or, when the params of one call have
 * different mu_products (flag bit2), from the per-tensor table
 * (per_tensor[tensor * width + 0..1]); they are constants of the loop either way.
 *
 * Slots:   0 p (rw), 1 g (r), 2 m = exp_avg (rw), 3 v = exp_avg_sq (rw)
 * Scalars: s[0] sign, s[1] wd (L2), s[2] decay, s[3] w1, s[4] beta2, s[5] 1-beta2,
 *          s[6] bc2, s[7] eps, s[8] c1, s[9] c2
 * Flags:   bit0 L2, bit1 w1 >= 0.5, bit2 c1, c2 per tensor
 * Bytes per element moved: 7·sizeof(T) (read p g m v, write p m v).
 * Fused form fo_f_nadam: the same loop with the training tools inside, flags 0
 * and 4 (the same loop; kernels/fused.h).
 */
FO_INLINE void FO_FN(nadam_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const T c1, const T c2,
                                 const int l2, const int lerp_hi, const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT v = (T *)ptr[3];
    const T sign = (T)h->s[0], wd = (T)h->s[1], decay = (T)h->s[2], w1 = (T)h->s[3];
    const T b2 = (T)h->s[4], omb2 = (T)h->s[5], bc2 = (T)h->s[6], eps = (T)h->s[7], omw1 = (T)1 - w1;
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        T pd = pi * decay;
        if (l2) gs = gs + wd * pd;
        const T mi = lerp_hi ? gs - (gs - m[i]) * omw1 : m[i] + w1 * (gs - m[i]);
        const T vi = v[i] * b2 + (omb2 * gs) * gs;
        m[i] = mi;
        v[i] = vi;
        const T d = FO_T_SQRT(vi / bc2) + eps;
        pd = pd + (c1 * gs) / d;
        pn = pd + (c2 * mi) / d;
    });
}

/* c1 and c2 of this span: s[8], s[9], or the tensor's row of the table (flag bit2). */
FO_INLINE void FO_FN(nadam_c12)(const fo_hyper *h, const fo_span *sp, T *c1, T *c2)
{
    *c1 = (T)h->s[8];
    *c2 = (T)h->s[9];
    if (h->flags & 4) {
        const double *row = h->per_tensor + sp->tensor * h->per_tensor_width;
        *c1 = (T)row[0];
        *c2 = (T)row[1];
    }
}

void FO_FN(fo_k_nadam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
    T c1, c2;
    FO_FN(nadam_c12)(h, sp, &c1, &c2);
#define FO_NADAM_CASE(f) \
    case f: FO_FN(nadam_loop)(h, ptr, n, c1, c2, (f) & 1, ((f) >> 1) & 1, NULL, 0); break;
    switch (h->flags & 3) {
        FO_NADAM_CASE(0) FO_NADAM_CASE(1) FO_NADAM_CASE(2) FO_NADAM_CASE(3)
    }
#undef FO_NADAM_CASE
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for the default flag word (no L2, w1 < 0.5), with c1, c2 from the scalars
 * or the per-tensor table (bit2 only picks where the loop's constants come
 * from); every other flag word returns 1 and the driver stages the span. */
int FO_FN(fo_f_nadam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                       double *stats)
{
    if (h->flags & 3) return 1;
    T c1, c2;
    FO_FN(nadam_c12)(h, sp, &c1, &c2);
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(nadam_loop)(h, ptr, sp->n, c1, c2, 0, 0, &tc, TMC))
    return 0;
}
