/*
 * kernels/pipeline.h -- the stages the driver runs around a rule's kernel on
 * each span when a pipe is given (see fo_pipe in fastopt.h, run_chunk_pipe in
 * engine.c). They make fastopt's clip_value / clip_norm / clip_global_norm,
 * track_update_ratio and fused EMA options ride inside any rule's pass.
 *
 * pipe_pre, before the rule:
 *   g' = clip_op(g)  into the scratch span      (kernels/gradclip.h; CLIP/SCALE)
 *   GSTATS: out[2] = sum g'^2
 *   STATS: out[1] = sum p^2; old p copied to scratch
 * pipe_post, after the rule (p is the updated param):
 *   STATS: out[0] = sum (p - p_old)^2, differences taken in double
 *   EMA / EMA_DIV: a = average_op(a, p)         (kernels/average.h)
 * Sums use kernels/common.h's 32-lane order, in double.
 *
 * Pointers: 0 p (span), 1 g (span, may be NULL), 2 scratch g', 3 scratch old p,
 *           4 a (span; post only)
 * Scalars:  s[0] lo, s[1] hi, s[2] w (or d with EMA_DIV);
 *           per_tensor[t * width] the grad scale of tensor t (SCALE)
 * Flags:    FO_PIPE_* (fastopt.h)
 * Memory traffic added to the rule's own: none for transforms and telemetry
 * (scratch spans stay in cache), 2·sizeof(T) per element for an average.
 */
FO_INLINE void FO_FN(pipe_transform_loop)(const fo_hyper *h, char *const *ptr, const fo_span *sp,
                                          const int clip, const int sc)
{
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT gs = (T *)ptr[2];
    const T lo = (T)h->s[0], hi = (T)h->s[1], scale = FO_FN(clip_scale_of)(h, sp);
    const int64_t n = sp->n;
    for (int64_t i = 0; i < n; i++) gs[i] = FO_FN(clip_op)(g[i], lo, hi, scale, clip, sc);
}

FO_INLINE double FO_FN(pipe_sum_sq)(const T *FO_RESTRICT x, const int64_t n)
{
    double acc[FO_LANES32] = {0};
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32)
        for (int j = 0; j < FO_LANES32; j++) acc[j] += (double)x[i + j] * (double)x[i + j];
    double s = fo_lanes32_sum(acc);
    for (int64_t i = nb; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}

FO_INLINE double FO_FN(pipe_copy_sum_sq)(const T *FO_RESTRICT p, T *FO_RESTRICT old, const int64_t n)
{
    double acc[FO_LANES32] = {0};
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32) {
        for (int j = 0; j < FO_LANES32; j++) {
            const T x = p[i + j];
            old[i + j] = x;
            acc[j] += (double)x * (double)x;
        }
    }
    double s = fo_lanes32_sum(acc);
    for (int64_t i = nb; i < n; i++) {
        old[i] = p[i];
        s += (double)p[i] * (double)p[i];
    }
    return s;
}

void FO_FN(fo_k_pipe_pre)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const int64_t f = h->flags;
    const T *g = (const T *)ptr[1];
    if (g != NULL && (f & FO_PIPE_TRANSFORM)) {
        switch (f & FO_PIPE_TRANSFORM) {
        case FO_PIPE_CLIP: FO_FN(pipe_transform_loop)(h, ptr, sp, 1, 0); break;
        case FO_PIPE_SCALE: FO_FN(pipe_transform_loop)(h, ptr, sp, 0, 1); break;
        default: FO_FN(pipe_transform_loop)(h, ptr, sp, 1, 1); break;
        }
        g = (const T *)ptr[2];
    }
    if (f & FO_PIPE_GSTATS) out[2] = g ? FO_FN(pipe_sum_sq)(g, sp->n) : 0.0;
    if (f & FO_PIPE_STATS) out[1] = FO_FN(pipe_copy_sum_sq)((const T *)ptr[0], (T *)ptr[3], sp->n);
}

FO_INLINE double FO_FN(pipe_delta_sq)(const T *FO_RESTRICT p, const T *FO_RESTRICT old, const int64_t n)
{
    double acc[FO_LANES32] = {0};
    const int64_t nb = n - n % FO_LANES32;
    for (int64_t i = 0; i < nb; i += FO_LANES32) {
        for (int j = 0; j < FO_LANES32; j++) {
            const double d = (double)p[i + j] - (double)old[i + j];
            acc[j] += d * d;
        }
    }
    double s = fo_lanes32_sum(acc);
    for (int64_t i = nb; i < n; i++) {
        const double d = (double)p[i] - (double)old[i];
        s += d * d;
    }
    return s;
}

FO_INLINE void FO_FN(pipe_average_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int hi,
                                        const int div)
{
    const T *FO_RESTRICT p = (const T *)ptr[0];
    T *FO_RESTRICT a = (T *)ptr[4];
    const T w = (T)h->s[2], omw = (T)1 - w;
    for (int64_t i = 0; i < n; i++) a[i] = FO_FN(average_op)(a[i], p[i], w, omw, hi, div);
}

void FO_FN(fo_k_pipe_post)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const int64_t f = h->flags;
    if (f & FO_PIPE_STATS) out[0] = FO_FN(pipe_delta_sq)((const T *)ptr[0], (const T *)ptr[3], sp->n);
    if (ptr[4] == NULL) return;
    if (f & FO_PIPE_EMA_DIV)
        FO_FN(pipe_average_loop)(h, ptr, sp->n, 0, 1);
    else if (f & FO_PIPE_EMA_HI)
        FO_FN(pipe_average_loop)(h, ptr, sp->n, 1, 0);
    else if (f & FO_PIPE_EMA)
        FO_FN(pipe_average_loop)(h, ptr, sp->n, 0, 0);
}
