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
 *            the identity for lo = -inf, hi = +inf, scale = 1: exact; left
 *            out when neither clamp nor scale is asked for and no average)
 *   FO_TM_S  sums of (pn - pi)^2, pi^2 and gi^2 (order and precision
 *            below), added to the span's stats
 *   FO_TM_A  a = a + w (pn - a)     (kernels/average.h's op, lerp's w < 0.5
 *            form; the other form and equal averaging run staged: they are
 *            the first steps of an EMA warmup and SWA's once-an-epoch update)
 * With tm = 0 it is the rule's plain loop: the plain kernel and the fused
 * kernel run the same statements in the same order, so a tool that is the
 * identity changes no bit of the result.
 *   FO_TM_P  no tools: the plain loop in chunks of 32 elements with every
 *            stream prefetched ahead in software (a plain step larger than
 *            FO_PREFETCH_MIN: fo_run calls the fused form with an empty pipe)
 *
 * Compared with the staged pipe (kernels/pipeline.h), the fused loop reads
 * the grads and the old params once, from the rule's own streams, and its
 * extra arithmetic overlaps the memory traffic of the step.
 */
#ifndef FO_TM_X
enum { FO_TM_X = 1, FO_TM_S = 2, FO_TM_A = 4, FO_TM_P = 8 };
#define FO_TM_X FO_TM_X
#endif

typedef struct {
    T lo, hi, scale, w, omw;
    int gstats;    /* write the gi^2 sum (FO_PIPE_GSTATS)     */
    int pstats;    /* write the dw^2, p^2 sums (FO_PIPE_STATS) */
    T *a;          /* the span's average, or NULL             */
    double *stats; /* the span's FO_OUT_WIDTH sums, or NULL   */
    int prefetch;                   /* the loop prefetches (fo_pipe.prefetch)    */
    int npf;                        /* the rule's other streams (state buffers), */
    const char *pf[FO_MAX_SLOTS];   /* prefetched with the params and grads      */
} FO_FN(fo_tools);

/* The tool context of one span, and the mode it runs in. */
FO_INLINE int FO_FN(tools_init)(FO_FN(fo_tools) *tc, const fo_pipe *pipe, const fo_span *sp, char *const *ptr,
                                char *avg, double *stats)
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
    /* The clamp and scale only when asked for, or with an average (so the
     * modes are X, S, X|S, X|A, X|S|A and P: six loops per flag word, not 16). */
    const int x = (f & (FO_PIPE_CLIP | FO_PIPE_SCALE)) || tc->a;
    int tm = (x ? FO_TM_X : 0) | (tc->stats ? FO_TM_S : 0) | (tc->a ? FO_TM_A : 0);
    if (tm == 0 && pipe->prefetch) tm = FO_TM_P;
    /* The streams the telemetry and P loops prefetch besides p and g: the
     * rule's state slots of this span and the average (at most 6 + 1 <
     * FO_MAX_SLOTS). */
    tc->prefetch = pipe->prefetch && (tm & (FO_TM_S | FO_TM_P));
    tc->npf = 0;
    if (tc->prefetch) {
        for (int k = 1; k < FO_MAX_SLOTS; k++)
            if (((pipe->streams >> k) & 1u) && ptr[k]) tc->pf[tc->npf++] = ptr[k];
        if (tc->a) tc->pf[tc->npf++] = avg;
    }
    return tm;
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

/* Calls CALL (which names the mode as TMC) with TMC a compile-time constant;
 * returns 1 (declined) from the enclosing fused form for tm = 0. */
#define FO_TOOLS_SWITCH(tm, ...)                  \
    switch (tm) {                                 \
    case 0:                                       \
        return 1; /* nothing to fuse: the caller  \
                     runs the plain kernel */     \
    case FO_TM_X: {                               \
        const int TMC = FO_TM_X;                  \
        __VA_ARGS__;                              \
    } break;                                      \
    case FO_TM_S: {                               \
        const int TMC = FO_TM_S;                  \
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
    case FO_TM_P: {                               \
        const int TMC = FO_TM_P;                  \
        __VA_ARGS__;                              \
    } break;                                      \
    default: {                                    \
        const int TMC = FO_TM_X | FO_TM_S | FO_TM_A; \
        __VA_ARGS__;                              \
    } break;                                      \
    }

/* One element: grad transform, the rule's body, store, average; with FO_TM_S
 * the three values whose squares are summed, pn - pi, pi and gi, go to dq,
 * pq, gq. */
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
            dq = pn - pi;                                                        \
            pq = pi;                                                             \
            gq = gi;                                                             \
        }                                                                        \
    }

/* The sums' order, fixed by the code (so every ISA and thread count gives
 * the same bits): the span runs in blocks of FO_TS_BLOCK elements; per block
 * and lane j < 32, the squares of elements j, j+32, ... are accumulated in T,
 * in order, each by one fused multiply-add (acc = fma(x, x, acc): correctly
 * rounded, so the same bits from the FMA instruction and from libm's fma on
 * ISAs without one); that partial sum is added to lane j's double sum; the
 * lanes are combined as in kernels/common.h (adjacent pairs) and the last
 * n % 32 elements' squares, taken in double, added one by one. The element
 * loop runs in chunks of 32 with the 32 partial sums as its accumulators
 * (the pattern of kernels/gradclip.h; GCC ivdep: the rule's buffers never
 * overlap, so no runtime alias check sits in front of each chunk and the
 * accumulators stay in registers). In float32 a partial sum of at most 32
 * squares rounds at 2^-24 relative per term: far below what a norm for
 * monitoring needs (a square overflows only for |x| > 1.8e19). Measured with
 * Adam in cache (AVX-512): blocks of 256 cost 1.24x the plain loop and 1024
 * cost 1.12x (the block end waits for the accumulators); separate multiply
 * and add, 1.73x. */
#define FO_TS_BLOCK 1024
#define FO_TS_TAIL 32
/* The telemetry loop has more instructions per cache line than the rule's
 * plain loop, so fewer lines are in flight from one core's instruction window:
 * it prefetches the lines of every stream of the step (params, grads and the
 * rule's state buffers, fo_pipe.streams) this many bytes ahead (a prefetch
 * never faults, past the end of an array included), when the step's arrays are
 * larger than FO_PREFETCH_MIN (fo_pipe.prefetch: in cache the prefetches are
 * extra instructions only). On a 2^24-element Adam step at 1 thread
 * (`python -m fastopt bench --tools`, docs/performance.md): 1.02-1.14x the
 * plain step with params and grads prefetched, 0.94-1.00x with every stream. */
#define FO_TS_AHEAD 2048

/* Prefetch the lines FO_TS_AHEAD bytes past elements [i0, i0 + 32) of p, g
 * and the streams in tc->pf (written: p and the state; read: g). */
#define FO_PREFETCH_CHUNK_(p, g, tc, i0)                                                        \
    for (int q_ = 0; q_ < (int)(FO_LANES32 * sizeof(T)); q_ += 64) {                            \
        __builtin_prefetch((const char *)((p) + (i0)) + FO_TS_AHEAD + q_, 1);                   \
        __builtin_prefetch((const char *)((g) + (i0)) + FO_TS_AHEAD + q_, 0);                   \
        for (int s_ = 0; s_ < (tc)->npf; s_++)                                                  \
            __builtin_prefetch((tc)->pf[s_] + (i0) * (int64_t)sizeof(T) + FO_TS_AHEAD + q_, 1); \
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
        if ((tm) & FO_TM_P) {                                                                     \
            T dq_, pq_, gq_;                                                                      \
            (void)dq_; (void)pq_; (void)gq_;                                                      \
            const int64_t nb_ = (n) - (n) % FO_LANES32;                                           \
            for (int64_t k_ = 0; k_ < nb_; k_ += FO_LANES32) {                                    \
                FO_PREFETCH_CHUNK_(p, g, tc, k_)                                                  \
                _Pragma("GCC ivdep") for (int j_ = 0; j_ < FO_LANES32; j_++) {                    \
                    const int64_t i = k_ + j_;                                                    \
                    FO_ELEM_STEP_(tm, p, g, dq_, pq_, gq_, __VA_ARGS__)                           \
                }                                                                                 \
            }                                                                                     \
            for (int64_t i = nb_; i < (n); i++) FO_ELEM_STEP_(tm, p, g, dq_, pq_, gq_, __VA_ARGS__) \
        } else if (!((tm) & FO_TM_S)) {                                                           \
            T dq_, pq_, gq_;                                                                      \
            (void)dq_; (void)pq_; (void)gq_;                                                      \
            for (int64_t i = 0; i < (n); i++) FO_ELEM_STEP_(tm, p, g, dq_, pq_, gq_, __VA_ARGS__) \
        } else {                                                                                       \
            double d32_[FO_LANES32] = {0}, p32_[FO_LANES32] = {0}, g32_[FO_LANES32] = {0};             \
            T dt_[FO_TS_TAIL], pt_[FO_TS_TAIL], gt_[FO_TS_TAIL];                                       \
            const int pf_ = (tc)->prefetch;                                                            \
            int64_t nt_ = 0;                                                                           \
            for (int64_t ib_ = 0; ib_ < (n); ib_ += FO_TS_BLOCK) {                                     \
                const int64_t m_ = (n) - ib_ < FO_TS_BLOCK ? (n) - ib_ : FO_TS_BLOCK;                  \
                const int64_t mb_ = m_ - m_ % FO_LANES32;                                              \
                T dl_[FO_LANES32], pl_[FO_LANES32], gl_[FO_LANES32];                                   \
                for (int j_ = 0; j_ < FO_LANES32; j_++) dl_[j_] = pl_[j_] = gl_[j_] = 0;               \
                for (int64_t k_ = 0; k_ < mb_; k_ += FO_LANES32) {                                     \
                    if (pf_) FO_PREFETCH_CHUNK_(p, g, tc, ib_ + k_)                                    \
                    _Pragma("GCC ivdep") for (int j_ = 0; j_ < FO_LANES32; j_++) {                     \
                        const int64_t i = ib_ + k_ + j_;                                               \
                        T dq_, pq_, gq_;                                                               \
                        FO_ELEM_STEP_(tm, p, g, dq_, pq_, gq_, __VA_ARGS__)                            \
                        dl_[j_] = FO_T_FMA(dq_, dq_, dl_[j_]);                                         \
                        pl_[j_] = FO_T_FMA(pq_, pq_, pl_[j_]);                                         \
                        gl_[j_] = FO_T_FMA(gq_, gq_, gl_[j_]);                                         \
                    }                                                                                  \
                }                                                                                      \
                for (int j_ = 0; j_ < FO_LANES32; j_++) {                                              \
                    d32_[j_] += (double)dl_[j_];                                                       \
                    p32_[j_] += (double)pl_[j_];                                                       \
                    g32_[j_] += (double)gl_[j_];                                                       \
                }                                                                                      \
                for (int64_t k_ = mb_; k_ < m_; k_++, nt_++) {                                         \
                    const int64_t i = ib_ + k_;                                                        \
                    FO_ELEM_STEP_(tm, p, g, dt_[nt_], pt_[nt_], gt_[nt_], __VA_ARGS__)                 \
                }                                                                                      \
            }                                                                                          \
            double sd_ = fo_lanes32_sum(d32_), sp_ = fo_lanes32_sum(p32_), sg_ = fo_lanes32_sum(g32_); \
            for (int64_t k_ = 0; k_ < nt_; k_++) {                                                     \
                sd_ += (double)dt_[k_] * (double)dt_[k_];                                              \
                sp_ += (double)pt_[k_] * (double)pt_[k_];                                              \
                sg_ += (double)gt_[k_] * (double)gt_[k_];                                              \
            }                                                                                          \
            double *st_ = (tc)->stats;                                                                 \
            if ((tc)->pstats) {                                                                        \
                st_[0] += sd_;                                                                         \
                st_[1] += sp_;                                                                         \
            }                                                                                          \
            if ((tc)->gstats) st_[2] += sg_;                                                           \
        }                                                                                              \
    } while (0)
