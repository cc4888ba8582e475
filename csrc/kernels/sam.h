/*
 * kernels/sam.h -- the passes of SAM (Foret et al. 2020) and ASAM (Kwon et
 * al. 2021) around any base optimizer (fastopt.SAM); davda54/sam op order.
 *
 *   mode 0, reduce (flags & 3 == 0):
 *     out[0] += x^2,  x = g, or x = p * g with adaptive     (|p| g squared = (p g)^2)
 *     in double, 32 lane accumulators (kernels/lamb.h's order: 8 lanes waited on
 *     the adder's latency, ~60% of the bandwidth for this one-array read); Python sums all
 *     spans of all tensors into ||T_w g||^2 and forms
 *     scale = ±rho / (||T_w g|| + 1e-12)   (- when the group maximizes)
 *   mode 1, perturb (flags & 3 == 1):
 *     old = p
 *     e   = g * scale, or e = ((p * p) * g) * scale with adaptive (T_w^2 g)
 *     p   = p + e
 *   mode 2, restore (flags & 3 == 2):
 *     p   = old                          exact: no (p + e) - e rounding
 *
 * The old weights are kept rather than e: restoring costs 2 elements moved
 * (read old, write p) instead of 3 (read e and p, write p), and is exact.
 *
 * Slots:   0 p (rw), 1 g (r; modes 0, 1), 2 old p (rw; modes 1, 2)
 * Scalars: s[0] scale (mode 1)
 * Flags:   bits 0-1 mode, bit2 adaptive
 * Out:     out[0] sum x^2 (mode 0)
 * Bytes per element moved: reduce 1·sizeof(T) (2 adaptive), perturb 4·sizeof(T),
 *   restore 2·sizeof(T): SAM adds 7·sizeof(T) (8 adaptive) to the base step,
 *   28 (32) B in float32.
 */
/* fo_lanes32_sum, FO_LANES32: kernels/common.h */

FO_INLINE void FO_FN(sam_reduce_loop)(char *const *ptr, const int64_t n, const int adaptive, double *out)
{
    const T *FO_RESTRICT p = (const T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    if (!adaptive) {
        out[0] = FO_FN(pipe_sum_sq)(g, n); /* kernels/pipeline.h: the same lanes and order */
        return;
    }
    double acc[FO_LANES32] = {0};
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32)
        for (int j = 0; j < FO_LANES32; j++) {
            const double x = (double)(p[i + j] * g[i + j]);
            acc[j] += x * x;
        }
    double s = fo_lanes32_sum(acc);
    for (int64_t i = nb; i < n; i++) {
        const double x = (double)(p[i] * g[i]);
        s += x * x;
    }
    out[0] = s;
}

FO_INLINE void FO_FN(sam_perturb_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int adaptive)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT old = (T *)ptr[2];
    const T scale = (T)h->s[0];
    for (int64_t i = 0; i < n; i++) {
        const T pi = p[i];
        old[i] = pi;
        const T e = adaptive ? ((pi * pi) * g[i]) * scale : g[i] * scale;
        p[i] = pi + e;
    }
}

FO_INLINE void FO_FN(sam_restore_loop)(char *const *ptr, const int64_t n)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT old = (const T *)ptr[2];
    for (int64_t i = 0; i < n; i++) p[i] = old[i];
}

void FO_FN(fo_k_sam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const int64_t n = sp->n;
    switch (h->flags & 7) {
    case 0: FO_FN(sam_reduce_loop)(ptr, n, 0, out); break;
    case 4: FO_FN(sam_reduce_loop)(ptr, n, 1, out); break;
    case 1: FO_FN(sam_perturb_loop)(h, ptr, n, 0); break;
    case 5: FO_FN(sam_perturb_loop)(h, ptr, n, 1); break;
    case 2: case 6: FO_FN(sam_restore_loop)(ptr, n); break;
    default: break;
    }
}
