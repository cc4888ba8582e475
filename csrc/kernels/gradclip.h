/*
 * kernels/gradclip.h -- gradient clipping: the element transform, the
 * in-place clip of standalone arrays, and the reduction pass that measures
 * gradients (norms for clip_norm / clip_global_norm, the non-finite guard).
 *
 * Transform of one gradient element (also applied by kernels/pipeline.h):
 *   x = min(max(g, lo), hi)        with CLIP   (NaN stays NaN, as torch.clamp)
 *   x = x * scale                  with SCALE  (scale = (T) per-tensor factor)
 *
 * Rule clip (in place, fastopt.clip_by_value_ / clip_by_global_norm_):
 *   Slots:   0 x (rw)
 *   Scalars: s[0] lo, s[1] hi; per_tensor[t * width] the scale of tensor t
 *   Flags:   bit0 CLIP, bit1 SCALE
 *   Bytes per element moved: 2·sizeof(T).
 *
 * Rule grad_stats (reduction, writes nothing but `out`):
 *   out[0] = sum x^2 in double      x = the transformed g (CLIP only)
 *   out[1] = sum (g - g)            0, or NaN when any g is NaN or +-Inf
 *   Lane order: kernels/common.h's 32 lanes (fo_lanes32_sum), the same on
 *   every ISA, reproduced by fastopt._multipass.ref_sum_sq(x, lanes=32).
 *   Slots:   0 p, 1 g (NULL: an absent grad, sums 0); with bit3 the grads
 *            are slot 0 (standalone arrays)
 *   Scalars: s[0] lo, s[1] hi.  Flags: bit0 CLIP, bit3 grads in slot 0.
 *   Bytes per element moved: 1·sizeof(T).
 */
FO_INLINE T FO_FN(clip_op)(T x, const T lo, const T hi, const T scale, const int clip, const int sc)
{
    if (clip) {          /* min/max forms that keep NaN (x is the operand returned when unordered) */
        x = hi < x ? hi : x;
        x = lo > x ? lo : x;
    }
    if (sc) x = x * scale;
    return x;
}

FO_INLINE T FO_FN(clip_scale_of)(const fo_hyper *h, const fo_span *sp)
{
    return h->per_tensor ? (T)h->per_tensor[sp->tensor * h->per_tensor_width] : (T)1;
}

FO_INLINE void FO_FN(clip_loop)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const int clip,
                                const int sc)
{
    T *FO_RESTRICT x = (T *)ptr[0];
    const T lo = (T)h->s[0], hi = (T)h->s[1], scale = FO_FN(clip_scale_of)(h, sp);
    const int64_t n = sp->n;
    for (int64_t i = 0; i < n; i++) x[i] = FO_FN(clip_op)(x[i], lo, hi, scale, clip, sc);
}

void FO_FN(fo_k_clip)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    switch (h->flags & 3) {
    case 1: FO_FN(clip_loop)(h, ptr, sp, 1, 0); break;
    case 2: FO_FN(clip_loop)(h, ptr, sp, 0, 1); break;
    case 3: FO_FN(clip_loop)(h, ptr, sp, 1, 1); break;
    default: break;
    }
}

FO_INLINE void FO_FN(grad_stats_loop)(const T *FO_RESTRICT g, const int64_t n, const T lo, const T hi,
                                      const int clip, double *out)
{
    double acc[FO_LANES32] = {0};
    T nf[FO_LANES32] = {0}; /* g - g: 0, or NaN for NaN/Inf; in T, to leave registers to acc */
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32) {
        for (int j = 0; j < FO_LANES32; j++) {
            const T gi = g[i + j];
            const double x = (double)FO_FN(clip_op)(gi, lo, hi, (T)1, clip, 0);
            acc[j] += x * x;
            nf[j] += gi - gi;
        }
    }
    double s = fo_lanes32_sum(acc), f = 0.0;
    for (int j = 0; j < FO_LANES32; j++) f += (double)nf[j];
    for (int64_t i = nb; i < n; i++) {
        const T gi = g[i];
        const double x = (double)FO_FN(clip_op)(gi, lo, hi, (T)1, clip, 0);
        s += x * x;
        f += (double)(gi - gi);
    }
    out[0] = s;
    out[1] = f;
}

void FO_FN(fo_k_grad_stats)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const T *g = (const T *)((h->flags & 8) ? ptr[0] : ptr[1]);
    out[0] = out[1] = 0.0;
    if (g == NULL) return;
    const T lo = (T)h->s[0], hi = (T)h->s[1];
    if (h->flags & 1)
        FO_FN(grad_stats_loop)(g, sp->n, lo, hi, 1, out);
    else
        FO_FN(grad_stats_loop)(g, sp->n, lo, hi, 0, out);
}
