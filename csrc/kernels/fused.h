/*
 * kernels/fused.h -- the element loop of rules that run fastopt's training
 * tools inside their own loop (the "fused" form of a pipe, see fo_pipe and
 * fo_fused_fn in fastopt.h; rules listed in csrc/fused.def).
 *
 * A rule that opts in writes its per-element math once, as the body of
 * FO_ELEM_LOOP: statements that read `gi` (the grad element, already clipped
 * and scaled when the tools ask for it) and `pi` (the param element before
 * the step), may read and write the rule's other buffers at index `i`, and set
 * `pn` (the new param element). The macro stores pn and, per the tool mode tm
 * (a compile-time constant, so each mode is its own vectorised loop), adds
 *   FO_TM_X  gi = min(max(g, lo), hi) * scale       (kernels/gradclip.h's op,
 *            the identity for lo = -inf, hi = +inf, scale = 1: exact)
 *   FO_TM_S  sums of (pn - pi)^2, pi^2 and gi^2 (order and precision
 *            below), added to the span's stats
 *   FO_TM_A  a = a + w (pn - a)     (kernels/average.h's op, lerp's w < 0.5
 *            form; the other form and equal averaging run staged: they are
 *            the first steps of an EMA warmup and SWA's once-an-epoch update)
 * With tm = 0 it is the rule's plain loop: the plain kernel and the fused
 * kernel run the same statements in the same order, so a tool that is the
 * identity changes no bit of the result.
 *
 * Compared with the staged pipe (kernels/pipeline.h), the fused loop reads
 * the grads and the old params once, from the rule's own streams, and its
 * extra arithmetic overlaps the memory traffic of the step.
 */
#ifndef FO_TM_X
enum { FO_TM_X = 1, FO_TM_S = 2, FO_TM_A = 4 };
#define FO_TM_X FO_TM_X
#endif

typedef struct {
    T lo, hi, scale, w, omw;
    int gstats;    /* write the gi^2 sum (FO_PIPE_GSTATS)     */
    int pstats;    /* write the dw^2, p^2 sums (FO_PIPE_STATS) */
    T *a;          /* the span's average, or NULL             */
    double *stats; /* the span's FO_OUT_WIDTH sums, or NULL   */
} FO_FN(fo_tools);

/* The tool context of one span, and the mode it runs in. */
FO_INLINE int FO_FN(tools_init)(FO_FN(fo_tools) *tc, const fo_pipe *pipe, const fo_span *sp, char *avg,
                                double *stats)
{
    const fo_hyper *ph = &pipe->h;
    const int64_t f = ph->flags;
    tc->lo = (f & FO_PIPE_CLIP) ? (T)ph->s[0] : (T)-INFINITY;
    tc->hi = (f & FO_PIPE_CLIP) ? (T)ph->s[1] : (T)INFINITY;
    tc->scale = ((f & FO_PIPE_SCALE) && ph->per_tensor) ? (T)ph->per_tensor[sp->tensor * ph->per_tensor_width]
                                                         : (T)1;
    tc->w = (T)ph->s[2];
    tc->omw = (T)1 - tc->w;
    tc->gstats = (f & FO_PIPE_GSTATS) != 0;
    tc->pstats = (f & FO_PIPE_STATS) != 0;
    tc->a = (f & FO_PIPE_EMA) ? (T *)avg : NULL;
    tc->stats = (tc->gstats || tc->pstats) ? stats : NULL;
    return FO_TM_X | (tc->stats ? FO_TM_S : 0) | (tc->a ? FO_TM_A : 0);
}

/* c ? a : b as a bit select, for flags that a fused form tests at runtime:
 * both values are computed, nothing is branched over (gcc would move FP math
 * into a branch and then not vectorise it), and the result has a's or b's
 * bits exactly. With a compile-time c it folds to a or b. */
FO_INLINE T FO_FN(sel)(const int c, const T a, const T b)
{
    FO_UINT_T ua, ub, r;
    __builtin_memcpy(&ua, &a, sizeof ua);
    __builtin_memcpy(&ub, &b, sizeof ub);
    const FO_UINT_T mk = (FO_UINT_T)0 - (FO_UINT_T)(c != 0);
    r = (ua & mk) | (ub & ~mk);
    T out;
    __builtin_memcpy(&out, &r, sizeof out);
    return out;
}

/* Calls CALL (which names the mode as TMC) with TMC a compile-time constant. */
#define FO_TOOLS_SWITCH(tm, ...)                  \
    switch (tm) {                                 \
    case FO_TM_X: {                               \
        const int TMC = FO_TM_X;                  \
        __VA_ARGS__;                              \
    } break;                                      \
    case FO_TM_X | FO_TM_S: {                     \
        const int TMC = FO_TM_X | FO_TM_S;        \
        __VA_ARGS__;                              \
    } break;                                      \
    case FO_TM_X | FO_TM_A: {                     \
        const int TMC = FO_TM_X | FO_TM_A;        \
        __VA_ARGS__;                              \
    } break;                                      \
    default: {                                    \
        const int TMC = FO_TM_X | FO_TM_S | FO_TM_A; \
        __VA_ARGS__;                              \
    } break;                                      \
    }

/* One element: grad transform, the rule's body, store, average; with FO_TM_S
 * the element's three squares, in T, go to dq, pq, gq. */
#define FO_ELEM_STEP_(tm, p, g, dq, pq, gq, ...)                                 \
    {                                                                            \
        T gi = (g)[i];                                                           \
        if ((tm) & FO_TM_X) gi = FO_FN(clip_op)(gi, lo_, hi_, scale_, 1, 1);     \
        const T pi = (p)[i];                                                     \
        T pn;                                                                    \
        __VA_ARGS__                                                              \
        (p)[i] = pn;                                                             \
        if ((tm) & FO_TM_A) a_[i] = FO_FN(average_op)(a_[i], pn, w_, omw_, 0, 0); \
        if ((tm) & FO_TM_S) {                                                    \
            const T dd_ = pn - pi;                                               \
            dq = dd_ * dd_;                                                      \
            pq = pi * pi;                                                        \
            gq = gi * gi;                                                        \
        }                                                                        \
    }

/* The sums' order, fixed by the code (so every ISA and thread count gives
 * the same bits): the span runs in blocks of FO_TS_BLOCK elements; the rule's
 * element loop stores each element's squares (taken in T) in three small
 * arrays; per block and lane j < 32, the squares of elements j, j+32, ...
 * are added in T, in order, and that partial sum is added to lane j's double
 * sum; the lanes are combined as in kernels/common.h (adjacent pairs) and the
 * last n % 32 elements added one by one. In float32 the squares and the
 * partial sums of at most 8 squares round at 2^-24 relative each: far below
 * what a norm for monitoring needs (a square overflows only for |x| >
 * 1.8e19), while the loop stays at float32 width and converts to double once
 * per 256 elements. Neither loop keeps more values live than registers hold. */
#define FO_TS_BLOCK 256
FO_INLINE void FO_FN(ts_add)(double *FO_RESTRICT acc, const T *FO_RESTRICT x, const int64_t m)
{
    T part[FO_LANES32];
    for (int j = 0; j < FO_LANES32; j++) part[j] = 0;
    for (int64_t k = 0; k < m; k += FO_LANES32)
        for (int j = 0; j < FO_LANES32; j++) part[j] += x[k + j];
    for (int j = 0; j < FO_LANES32; j++) acc[j] += (double)part[j];
}

/* The loop over i in [0, n): see the header comment. `tc` is a pointer to
 * this dtype's fo_tools (unused when tm == 0). */
#define FO_ELEM_LOOP(tm, n, p, g, tc, ...)                                                        \
    do {                                                                                          \
        const T lo_ = ((tm) & FO_TM_X) ? (tc)->lo : (T)0;                                         \
        const T hi_ = ((tm) & FO_TM_X) ? (tc)->hi : (T)0;                                         \
        const T scale_ = ((tm) & FO_TM_X) ? (tc)->scale : (T)1;                                   \
        const T w_ = ((tm) & FO_TM_A) ? (tc)->w : (T)0;                                           \
        const T omw_ = ((tm) & FO_TM_A) ? (tc)->omw : (T)1;                                       \
        T *FO_RESTRICT a_ = ((tm) & FO_TM_A) ? (tc)->a : (T *)0;                                  \
        (void)lo_; (void)hi_; (void)scale_; (void)w_; (void)omw_; (void)a_;        \
        if (!((tm) & FO_TM_S)) {                                                                  \
            T dq_, pq_, gq_;                                                                      \
            (void)dq_; (void)pq_; (void)gq_;                                                      \
            for (int64_t i = 0; i < (n); i++) FO_ELEM_STEP_(tm, p, g, dq_, pq_, gq_, __VA_ARGS__) \
        } else {                                                                                  \
            double d32_[FO_LANES32] = {0}, p32_[FO_LANES32] = {0}, g32_[FO_LANES32] = {0};        \
            T dq_[FO_TS_BLOCK], pq_[FO_TS_BLOCK], gq_[FO_TS_BLOCK];                               \
            int64_t mb_ = 0, m_ = 0;                                                              \
            for (int64_t ib_ = 0; ib_ < (n); ib_ += FO_TS_BLOCK) {                                \
                m_ = (n) - ib_ < FO_TS_BLOCK ? (n) - ib_ : FO_TS_BLOCK;                           \
                for (int64_t k_ = 0; k_ < m_; k_++) {                                             \
                    const int64_t i = ib_ + k_;                                                   \
                    FO_ELEM_STEP_(tm, p, g, dq_[k_], pq_[k_], gq_[k_], __VA_ARGS__)               \
                }                                                                                 \
                mb_ = m_ - m_ % FO_LANES32;                                                       \
                FO_FN(ts_add)(d32_, dq_, mb_);                                                    \
                FO_FN(ts_add)(p32_, pq_, mb_);                                                    \
                FO_FN(ts_add)(g32_, gq_, mb_);                                                    \
            }                                                                                     \
            double sd_ = fo_lanes32_sum(d32_), sp_ = fo_lanes32_sum(p32_), sg_ = fo_lanes32_sum(g32_); \
            for (int64_t k_ = mb_; k_ < m_; k_++) {                                               \
                sd_ += (double)dq_[k_];                                                           \
                sp_ += (double)pq_[k_];                                                           \
                sg_ += (double)gq_[k_];                                                           \
            }                                                                                     \
            double *st_ = (tc)->stats;                                                            \
            if ((tc)->pstats) {                                                                   \
                st_[0] += sd_;                                                                    \
                st_[1] += sp_;                                                                    \
            }                                                                                     \
            if ((tc)->gstats) st_[2] += sg_;                                                      \
        }                                                                                         \
    } while (0)
