/*
 * kernels/muon.h -- the elementwise passes of Muon (torch.optim.Muon
 * semantics and op order). Between the two passes the caller orthogonalises
 * each 2-D update with Newton-Schulz iterations (NumPy matmul, one matrix at a
 * time: fastopt/muon.py), so a step is pass 1, NS per param, pass 2.
 *
 * torch's lerp(a, b, w) is  a + w * (b - a)  when |w| < 0.5, else
 * b - (b - a) * (1 - w); the branch depends only on the per-step weight, so
 * Python picks it once per step (flag bits), computed on w cast to T.
 *
 * Pass 1 (flag bit0 = 0): momentum buffer, then the Nesterov update
 *   B = lerp(B, g, 1 - momentum)                    (torch: buf.lerp_(grad, 1 - momentum))
 *   U = lerp(g, B, momentum)   if nesterov          (torch: grad.lerp(buf, momentum))
 *   without nesterov U is B itself: U is not written, NS reads B.
 * Pass 2 (flag bit0 = 1): decoupled weight decay and the update, fused
 *   p = p * (1 - lr * weight_decay)                  (torch: param.mul_(...))
 *   p = p + (-adjusted_lr) * O                       (torch: param.add_(O, alpha=-adjusted_lr))
 *   O is the NS output converted to T; adjusted_lr depends on the param's
 *   shape and comes per tensor. torch runs both ops after NS; the weight decay
 *   does not depend on O, so fusing them keeps torch's values and op order.
 *
 * Slots:   0 p (rw, pass 2), 1 g (r, pass 1), 2 U / O (w pass 1 with nesterov,
 *          r pass 2), 3 momentum buffer B (rw, pass 1)
 * Scalars: s[0] w1 = 1 - momentum, s[1] momentum, s[2] 1 - lr * weight_decay
 * per_tensor (pass 2): width 1, -adjusted_lr of each param
 * Flags:   bit0 pass 2; pass 1: bit1 nesterov, bit2 |w1| < 0.5 (small-weight
 *          form of the buffer lerp), bit3 |momentum| < 0.5 (small-weight form
 *          of the Nesterov lerp)
 * Newton-Schulz's elementwise steps on the iterate X (flag bit4; op in bits
 * 5-6; fastopt/muon.py newton_schulz, the matmuls stay NumPy's):
 *   op 0: x = r(x)                      slot 0 x (rw)   (the cast of U)
 *   op 1: x = r(x / s[0])               slot 0 x (rw)   (X / max(||X||, eps))
 *   op 2: y = r(y + s[0] * x)           slot 0 y (rw), slot 1 x (r)
 *                                       (addmm(X, M, X, beta=a): y = M @ X from BLAS)
 *   r rounds to bfloat16 with flag bit7 (nearest, ties to even, on the bits;
 *   NaN becomes the positive quiet NaN, as torch's conversion and
 *   muon._round_bf16 do), else it is the identity (ns_dtype float32/float64).
 *   Each was several NumPy passes and temporaries over the 64 x N iterate.
 * Bytes per element moved: pass 1 reads g, B and writes B (+ U with nesterov):
 *   3·sizeof(T) or 4·sizeof(T); pass 2 reads p, O and writes p: 3·sizeof(T).
 *   Total 7·sizeof(T) with nesterov (28 bytes in float32), 6·sizeof(T) without,
 *   plus the Newton-Schulz matmuls and their temporaries.
 */
FO_INLINE void FO_FN(muon_momentum)(const T *FO_RESTRICT g, T *FO_RESTRICT b, T *FO_RESTRICT u, const int64_t n,
                                    const T w1, const T mu, const int nesterov, const int small1,
                                    const int small2)
{
    const T one = (T)1;
    const T omw1 = one - w1, ommu = one - mu;
    for (int64_t i = 0; i < n; i++) {
        const T gi = g[i], bo = b[i];
        const T bn = small1 ? bo + w1 * (gi - bo) : gi - (gi - bo) * omw1;
        b[i] = bn;
        if (nesterov) u[i] = small2 ? gi + mu * (bn - gi) : bn - (bn - gi) * ommu;
    }
}

FO_INLINE void FO_FN(muon_apply)(T *FO_RESTRICT p, const T *FO_RESTRICT o, const int64_t n, const T decay,
                                 const T neg_lr)
{
    for (int64_t i = 0; i < n; i++) {
        const T pd = p[i] * decay;
        p[i] = pd + neg_lr * o[i];
    }
}

/* Round to bfloat16 (a float32 value with the low 16 bits clear); identity for double. */
FO_INLINE T FO_FN(muon_bf16)(const T x)
{
    if (sizeof(T) != sizeof(float)) return x;
    const float f = (float)x;
    uint32_t u;
    __builtin_memcpy(&u, &f, sizeof u);
    const uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    const uint32_t v = (f != f) ? 0x7FC00000u : r;
    float o;
    __builtin_memcpy(&o, &v, sizeof o);
    return (T)o;
}

FO_INLINE void FO_FN(muon_ns)(char *const *ptr, const int64_t n, const T s, const int op, const int bf)
{
    T *FO_RESTRICT y = (T *)ptr[0];
    const T *FO_RESTRICT x = (const T *)ptr[1];
    for (int64_t i = 0; i < n; i++) {
        const T t = op == 0 ? y[i] : op == 1 ? y[i] / s : y[i] + s * x[i];
        y[i] = bf ? FO_FN(muon_bf16)(t) : t;
    }
}

void FO_FN(fo_k_muon)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
    if (h->flags & 16) {
        const T s = (T)h->s[0];
        switch (h->flags & (96 | 128)) {
        case 0: FO_FN(muon_ns)(ptr, n, s, 0, 0); break;
        case 32: FO_FN(muon_ns)(ptr, n, s, 1, 0); break;
        case 64: FO_FN(muon_ns)(ptr, n, s, 2, 0); break;
        case 128: FO_FN(muon_ns)(ptr, n, s, 0, 1); break;
        case 160: FO_FN(muon_ns)(ptr, n, s, 1, 1); break;
        case 192: FO_FN(muon_ns)(ptr, n, s, 2, 1); break;
        default: break;
        }
        return;
    }
    if (h->flags & 1) {
        const T neg_lr = (T)h->per_tensor[sp->tensor * h->per_tensor_width];
        FO_FN(muon_apply)((T *)ptr[0], (const T *)ptr[2], n, (T)h->s[2], neg_lr);
        return;
    }
    const T *g = (const T *)ptr[1];
    T *b = (T *)ptr[3], *u = (T *)ptr[2];
    const T w1 = (T)h->s[0], mu = (T)h->s[1];
#define FO_MUON_CASE(f) \
    case f: FO_FN(muon_momentum)(g, b, u, n, w1, mu, ((f) >> 1) & 1, ((f) >> 2) & 1, ((f) >> 3) & 1); break;
    switch (h->flags & 14) {
        FO_MUON_CASE(0) FO_MUON_CASE(2) FO_MUON_CASE(4) FO_MUON_CASE(6)
        FO_MUON_CASE(8) FO_MUON_CASE(10) FO_MUON_CASE(12) FO_MUON_CASE(14)
        default: break;
    }
#undef FO_MUON_CASE
}
