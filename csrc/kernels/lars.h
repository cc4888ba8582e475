/*
 * kernels/lars.h -- LARS (You, Gitman & Ginsburg 2017): momentum SGD with a
 * per-tensor trust ratio, on top of torch.optim.SGD's momentum semantics.
 *
 *   pass 1 (flags bit0 = 0, reduces; skipped for excluded groups):
 *     out[0] += p^2, out[1] += g^2                 in double, 32 lane accumulators
 *   between the passes, in Python (double, per tensor):
 *     r = (||p|| / (||g|| + wd * ||p|| + eps)) * trust_coefficient,
 *     or 1 when ||p|| == 0 or ||g|| == 0
 *   pass 2 (flags bit0 = 1, applies):
 *     d  = sign * g                                sign = -1 when maximize
 *     d  = d + wd * p                              if wd != 0
 *     d  = d * r                                   if trust (not an excluded group)
 *     b  = d (first step) or momentum * b + (1 - dampening) * d
 *     d  = d + momentum * b (nesterov)  or  d = b
 *     p  = p + (-lr) * d
 *
 * Reduction order: as kernels/lamb.h (lanes k % 32, a tree of adjacent pairs,
 * then the tail): with 8 lanes the pass waited on the adder's latency (one
 * dependent chain per 8 elements) and ran at 60-70% of the bandwidth.
 *
 * Slots:      0 p (rw), 1 g (r), 2 momentum buffer (rw; NULL without momentum)
 * Scalars:    s[0] sign, s[1] wd, s[2] momentum, s[3] 1 - dampening, s[4] -lr
 * Per tensor: [0] trust ratio r (pass 2 with trust)
 * Flags:      bit0 apply pass; apply flags >> 1: bit0 momentum, bit1 first step,
 *             bit2 nesterov, bit3 wd, bit4 trust
 * Out:        out[0] sum p^2, out[1] sum g^2 (pass 1)
 * Bytes per element moved: pass 1 reads p g (2·sizeof(T)); pass 2 as SGD:
 *   3·sizeof(T), 5·sizeof(T) with momentum. With momentum: 7·sizeof(T) = 28 B
 *   in float32; an excluded group runs pass 2 only (5·sizeof(T)).
 */
/* fo_lanes32_sum, FO_LANES32: kernels/common.h */

FO_INLINE void FO_FN(lars_reduce_loop)(char *const *ptr, const int64_t n, double *out)
{
    const T *FO_RESTRICT p = (const T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    double aw[FO_LANES32] = {0}, ag[FO_LANES32] = {0};
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32) {
        for (int j = 0; j < FO_LANES32; j++) {
            const double dp = (double)p[i + j], dg = (double)g[i + j];
            aw[j] += dp * dp;
            ag[j] += dg * dg;
        }
    }
    double sw = fo_lanes32_sum(aw), sg = fo_lanes32_sum(ag);
    for (int64_t i = nb; i < n; i++) {
        const double dp = (double)p[i], dg = (double)g[i];
        sw += dp * dp;
        sg += dg * dg;
    }
    out[0] = sw;
    out[1] = sg;
}

FO_INLINE void FO_FN(lars_apply_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const T r,
                                      const int mom, const int first, const int nesterov, const int wdf,
                                      const int trust)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT b = (T *)ptr[2];
    const T sign = (T)h->s[0], wd = (T)h->s[1], mu = (T)h->s[2], omd = (T)h->s[3], neg_lr = (T)h->s[4];
    for (int64_t i = 0; i < n; i++) {
        T d = sign * g[i];
        if (wdf) d = d + wd * p[i];
        if (trust) d = d * r;
        if (mom) {
            const T bi = first ? d : mu * b[i] + omd * d;
            b[i] = bi;
            d = nesterov ? d + mu * bi : bi;
        }
        p[i] = p[i] + neg_lr * d;
    }
}

void FO_FN(fo_k_lars)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const int64_t n = sp->n;
    if (!(h->flags & 1)) {
        FO_FN(lars_reduce_loop)(ptr, n, out);
        return;
    }
    const int64_t f = (h->flags >> 1) & 31;
    const T r = (f & 16) ? (T)h->per_tensor[sp->tensor * h->per_tensor_width] : (T)1;
#define FO_LARS_CASE(c) \
    case c: FO_FN(lars_apply_loop)(h, ptr, n, r, (c) & 1, ((c) >> 1) & 1, ((c) >> 2) & 1, ((c) >> 3) & 1, \
                                   ((c) >> 4) & 1); break;
    switch (f) {
        FO_LARS_CASE(0) FO_LARS_CASE(1) FO_LARS_CASE(3) FO_LARS_CASE(5) FO_LARS_CASE(7) FO_LARS_CASE(8)
        FO_LARS_CASE(9) FO_LARS_CASE(11) FO_LARS_CASE(13) FO_LARS_CASE(15) FO_LARS_CASE(16) FO_LARS_CASE(17)
        FO_LARS_CASE(19) FO_LARS_CASE(21) FO_LARS_CASE(23) FO_LARS_CASE(24) FO_LARS_CASE(25) FO_LARS_CASE(27)
        FO_LARS_CASE(29) FO_LARS_CASE(31)
        default: break; /* first/nesterov without momentum: never sent by fastopt.LARS */
    }
#undef FO_LARS_CASE
}
