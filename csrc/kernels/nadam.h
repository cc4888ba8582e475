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
 */
FO_INLINE void FO_FN(nadam_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const T c1, const T c2,
                                 const int l2, const int lerp_hi)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT v = (T *)ptr[3];
    const T sign = (T)h->s[0], wd = (T)h->s[1], decay = (T)h->s[2], w1 = (T)h->s[3];
    const T b2 = (T)h->s[4], omb2 = (T)h->s[5], bc2 = (T)h->s[6], eps = (T)h->s[7], omw1 = (T)1 - w1;
    for (int64_t i = 0; i < n; i++) {
        T gi = sign * g[i];
        T pi = p[i] * decay;
        if (l2) gi = gi + wd * pi;
        const T mi = lerp_hi ? gi - (gi - m[i]) * omw1 : m[i] + w1 * (gi - m[i]);
        const T vi = v[i] * b2 + (omb2 * gi) * gi;
        m[i] = mi;
        v[i] = vi;
        const T d = FO_T_SQRT(vi / bc2) + eps;
        pi = pi + (c1 * gi) / d;
        p[i] = pi + (c2 * mi) / d;
    }
}

void FO_FN(fo_k_nadam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
    T c1 = (T)h->s[8], c2 = (T)h->s[9];
    if (h->flags & 4) {
        const double *row = h->per_tensor + sp->tensor * h->per_tensor_width;
        c1 = (T)row[0];
        c2 = (T)row[1];
    }
#define FO_NADAM_CASE(f) \
    case f: FO_FN(nadam_loop)(h, ptr, n, c1, c2, (f) & 1, ((f) >> 1) & 1); break;
    switch (h->flags & 3) {
        FO_NADAM_CASE(0) FO_NADAM_CASE(1) FO_NADAM_CASE(2) FO_NADAM_CASE(3)
    }
#undef FO_NADAM_CASE
}
