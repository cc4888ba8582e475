/*
 * kernels/lamb.h -- LAMB (You et al. 2019), optax's `lamb` definition:
 * Adam moments, decoupled weight decay inside the trust ratio, per-tensor
 * trust ratio ||w|| / ||u|| (1 where either norm is 0).
 *
 * Two passes per step (the ratio needs the norm of the whole update first):
 *
 *   pass 1 (flags bit0 = 0, reduces):
 *     g  = sign * g                               sign = -1 when maximize
 *     m  = (1 - beta1) * g + beta1 * m            optax's update_moment order
 *     v  = (1 - beta2) * (g * g) + beta2 * v
 *     u  = (m * ibc1) / (sqrt(v * ibc2) + eps)    ibc_k = 1 / (1 - beta_k^t), rounded to T;
 *                                                 eps outside the sqrt
 *     u  = u + wd * p                             if wd != 0 (flags bit1)
 *     out[0] += p^2, out[1] += u^2                in double, 32 lane accumulators
 *   between the passes, in Python (double, per tensor, spans summed in order):
 *     r = ||p|| / ||u||, or 1 when ||p|| == 0 or ||u|| == 0
 *   pass 2 (flags bit0 = 1, applies):
 *     u  = (m * ibc1) / (sqrt(v * ibc2) + eps) [+ wd * p]   recomputed from the stored m, v
 *     p  = p + (u * r) * (-lr)
 *
 * u is never stored: recomputing it in pass 2 from m and v costs less memory
 * traffic than writing it in pass 1 and reading it back. The bias corrections
 * multiply by their reciprocals (optax divides m and v by bc1, bc2): one
 * division and one square root per element and pass instead of three
 * divisions, which keeps both passes memory-bound in float64 (a division
 * costs as much as the memory traffic of an element there).
 *
 * Reduction order (identical on every ISA, reproduced by
 * fastopt._multipass.ref_sum_sq(x, lanes=32)): element k of a span goes to
 * lane k % 32 for k < n - n % 32; the lanes are combined by a tree of
 * adjacent pairs (l[j] = l[2j] + l[2j+1], 32 -> 16 -> ... -> 1), then the
 * tail elements are added one by one. 32 lanes, not 8: each lane is one
 * dependent chain of additions, and with 8 lanes (one 512-bit register of
 * doubles) the pass waited on the adder's latency instead of memory.
 *
 * Slots:      0 p (rw), 1 g (r, pass 1 only), 2 m (rw), 3 v (rw)
 * Scalars:    s[0] sign, s[1] 1-beta1, s[2] beta1, s[3] 1-beta2, s[4] beta2,
 *             s[5] 1/bc1, s[6] 1/bc2, s[7] eps, s[8] wd, s[9] -lr
 * Per tensor: [0] trust ratio r (pass 2)
 * Flags:      bit0 apply pass, bit1 weight decay
 * Out:        out[0] sum p^2, out[1] sum u^2 (pass 1)
 * Bytes per element moved: pass 1 reads p g m v, writes m v (6·sizeof(T));
 *   pass 2 reads p m v, writes p (4·sizeof(T)): 10·sizeof(T), 40 B in float32.
 */
/* fo_lanes32_sum, FO_LANES32: kernels/common.h */

FO_INLINE void FO_FN(lamb_reduce_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int wdf,
                                       double *out)
{
    const T *FO_RESTRICT p = (const T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT m = (T *)ptr[2];
    T *FO_RESTRICT v = (T *)ptr[3];
    const T sign = (T)h->s[0], omb1 = (T)h->s[1], b1 = (T)h->s[2], omb2 = (T)h->s[3], b2 = (T)h->s[4];
    const T ibc1 = (T)h->s[5], ibc2 = (T)h->s[6], eps = (T)h->s[7], wd = (T)h->s[8];
    double aw[FO_LANES32] = {0}, au[FO_LANES32] = {0};
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32) {
        for (int j = 0; j < FO_LANES32; j++) {
            const T gi = sign * g[i + j];
            const T mi = omb1 * gi + b1 * m[i + j];
            const T vi = omb2 * (gi * gi) + b2 * v[i + j];
            m[i + j] = mi;
            v[i + j] = vi;
            T u = (mi * ibc1) / (FO_T_SQRT(vi * ibc2) + eps);
            if (wdf) u = u + wd * p[i + j];
            const double dp = (double)p[i + j], du = (double)u;
            aw[j] += dp * dp;
            au[j] += du * du;
        }
    }
    double sw = fo_lanes32_sum(aw), su = fo_lanes32_sum(au);
    for (int64_t i = nb; i < n; i++) {
        const T gi = sign * g[i];
        const T mi = omb1 * gi + b1 * m[i];
        const T vi = omb2 * (gi * gi) + b2 * v[i];
        m[i] = mi;
        v[i] = vi;
        T u = (mi * ibc1) / (FO_T_SQRT(vi * ibc2) + eps);
        if (wdf) u = u + wd * p[i];
        const double dp = (double)p[i], du = (double)u;
        sw += dp * dp;
        su += du * du;
    }
    out[0] = sw;
    out[1] = su;
}

FO_INLINE void FO_FN(lamb_apply_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int wdf,
                                      const T r)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT m = (const T *)ptr[2];
    const T *FO_RESTRICT v = (const T *)ptr[3];
    const T ibc1 = (T)h->s[5], ibc2 = (T)h->s[6], eps = (T)h->s[7], wd = (T)h->s[8], neg_lr = (T)h->s[9];
    for (int64_t i = 0; i < n; i++) {
        T u = (m[i] * ibc1) / (FO_T_SQRT(v[i] * ibc2) + eps);
        if (wdf) u = u + wd * p[i];
        p[i] = p[i] + (u * r) * neg_lr;
    }
}

void FO_FN(fo_k_lamb)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const int64_t n = sp->n;
    switch (h->flags & 3) {
    case 0: FO_FN(lamb_reduce_loop)(h, ptr, n, 0, out); break;
    case 2: FO_FN(lamb_reduce_loop)(h, ptr, n, 1, out); break;
    case 1: FO_FN(lamb_apply_loop)(h, ptr, n, 0, (T)h->per_tensor[sp->tensor * h->per_tensor_width]); break;
    case 3: FO_FN(lamb_apply_loop)(h, ptr, n, 1, (T)h->per_tensor[sp->tensor * h->per_tensor_width]); break;
    }
}
