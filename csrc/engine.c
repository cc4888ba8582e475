/*
 * engine.c -- the multi-tensor driver: plans (tensors cut into spans, spans
 * packed into chunks) and one parallel loop over the chunks of all tensors.
 *
 * Threading policy:
 *   - one OpenMP region per call, whatever the number of tensors;
 *   - chunks are handed out dynamically (a descheduled thread on a shared
 *     machine does not hold the others back at a static partition);
 *   - work under fo_serial_threshold() elements, or n_threads <= 1, runs on
 *     the calling thread and never enters OpenMP (no fork/join cost, and no
 *     libgomp pool is created in processes that only take small steps).
 * The spans are fixed by the plan, so results are independent of threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastopt.h"
#include "omp_shim.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define FO_HAVE_MXCSR 1
#define FO_MXCSR_FTZ_DAZ 0x8040u
#else
#define FO_HAVE_MXCSR 0
#endif

static int64_t serial_threshold = 131072;

int64_t fo_serial_threshold(void) { return serial_threshold; }
void fo_set_serial_threshold(int64_t n) { serial_threshold = n < 0 ? 0 : n; }

int fo_openmp_enabled(void) { return FO_HAVE_OPENMP; }
int fo_omp_max_threads(void) { return omp_get_max_threads(); }

void fo_plan_free(fo_plan *plan)
{
    free(plan->spans);
    free(plan->chunk_first);
    memset(plan, 0, sizeof(*plan));
}

int fo_plan_init(fo_plan *plan, const int64_t *sizes, int64_t n_tensors, int64_t block)
{
    int64_t n_spans = 0, total = 0;
    memset(plan, 0, sizeof(*plan));
    if (block <= 0) block = FO_BLOCK;
    for (int64_t t = 0; t < n_tensors; t++) {
        n_spans += (sizes[t] + block - 1) / block;
        total += sizes[t];
    }
    /* n_spans + 1 chunk bounds at most; allocate at least one element each. */
    plan->spans = (fo_span *)malloc(sizeof(fo_span) * (size_t)(n_spans > 0 ? n_spans : 1));
    plan->chunk_first = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n_spans + 1));
    if (plan->spans == NULL || plan->chunk_first == NULL) {
        fo_plan_free(plan);
        return -1;
    }
    int64_t s = 0, c = 0, in_chunk = 0;
    for (int64_t t = 0; t < n_tensors; t++) {
        for (int64_t off = 0; off < sizes[t]; off += block) {
            int64_t n = sizes[t] - off < block ? sizes[t] - off : block;
            if (in_chunk == 0) plan->chunk_first[c++] = s;
            plan->spans[s].tensor = t;
            plan->spans[s].offset = off;
            plan->spans[s].n = n;
            s++;
            in_chunk += n;
            if (in_chunk >= block) in_chunk = 0; /* chunk full: next span opens one */
        }
    }
    plan->chunk_first[c] = s;
    plan->n_tensors = n_tensors;
    plan->n_spans = n_spans;
    plan->n_chunks = c;
    plan->total = total;
    return 0;
}

/* The slot pointers of tensor t at byte_off: NULL stays NULL, a fixed slot
 * (one value per tensor) is not offset. */
static inline void span_ptrs(char **ptr, char *const *base, int n_slots, int64_t nt, int64_t t, int64_t byte_off,
                             unsigned int fixed_mask)
{
    for (int k = 0; k < n_slots; k++) {
        char *b = base[(int64_t)k * nt + t];
        ptr[k] = (b && !((fixed_mask >> k) & 1u)) ? b + byte_off : b;
    }
}

/* Ask for the first lines of the next tensor's buffers while this span runs:
 * the hardware prefetchers start afresh on every new stream, and on many small
 * tensors that start-up is a large part of each span. */
#define FO_HEAD_BYTES 2048
static inline void prefetch_span_head(const fo_plan *plan, const fo_span *sp, char *const *base, int n_slots,
                                      int elsize, unsigned int fixed_mask)
{
    const int64_t nt = plan->n_tensors;
    int64_t bytes = sp->n * (int64_t)elsize;
    if (bytes > FO_HEAD_BYTES) bytes = FO_HEAD_BYTES;
    const int64_t byte_off = sp->offset * (int64_t)elsize;
    for (int k = 0; k < n_slots; k++) {
        const char *b = base[(int64_t)k * nt + sp->tensor];
        if (!b || ((fixed_mask >> k) & 1u)) continue;
        for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(b + byte_off + o, 1, 3);
    }
}

/* Run the spans of chunk c; with `pf` (a plain step large enough to prefetch,
 * see fo_run) through the rule's fused form, whose tool-less loop prefetches
 * every stream, unless it declines the flag word. */
static inline void run_chunk(const fo_plan *plan, int64_t c, fo_kernel_fn fn, const fo_hyper *h,
                             char *const *base, int n_slots, int elsize, unsigned int fixed_mask, double *out,
                             const fo_pipe *pf)
{
    char *ptr[FO_MAX_SLOTS];
    const int64_t nt = plan->n_tensors;
    const int64_t last = plan->chunk_first[c + 1];
    for (int64_t s = plan->chunk_first[c]; s < last; s++) {
        const fo_span *sp = &plan->spans[s];
        const int64_t byte_off = sp->offset * (int64_t)elsize;
        span_ptrs(ptr, base, n_slots, nt, sp->tensor, byte_off, fixed_mask);
        if (s + 1 < last && sp[1].tensor != sp->tensor)
            prefetch_span_head(plan, &sp[1], base, n_slots, elsize, fixed_mask);
        if (!pf || !ptr[pf->grad_slot] || pf->fused(h, ptr, sp, pf, NULL, NULL) != 0)
            fn(h, ptr, sp, out ? out + s * FO_OUT_WIDTH : NULL);
    }
}

/* The same with a pipe around each span (see fastopt.h). `scratch` is this
 * thread's two FO_PIPE_SUB-element buffers: transformed grads, then old params.
 * Spans are run in sub-spans of FO_PIPE_SUB elements, so the scratch stays in
 * L1 and the rule's streams keep flowing between the stages; a rule that
 * reduces per span (out != NULL) gets whole spans, as without a pipe. The
 * stages' sums of a span are added up over its sub-spans in order.
 * A rule with a fused form (pipe->fused) gets each span whole, tools inside. */
#define FO_PIPE_SUB 2048
static void run_chunk_pipe(const fo_plan *plan, int64_t c, fo_kernel_fn fn, const fo_hyper *h,
                           char *const *base, int n_slots, int elsize, unsigned int fixed_mask, double *out,
                           const fo_pipe *pipe, char *scratch, int64_t sub)
{
    char *ptr[FO_MAX_SLOTS];
    char *pp[FO_MAX_SLOTS] = {0};
    const int64_t nt = plan->n_tensors;
    const int64_t last = plan->chunk_first[c + 1];
    const int64_t fl = pipe->h.flags;
    const int gs = pipe->grad_slot;
    const int do_pre = (fl & (FO_PIPE_TRANSFORM | FO_PIPE_STATS | FO_PIPE_GSTATS)) != 0;
    const int do_post = (fl & (FO_PIPE_STATS | FO_PIPE_AVERAGE)) != 0;
    /* The fused forms do lerp's w < 0.5 average only (kernels/fused.h). */
    const int fused = pipe->fused != NULL && !(fl & (FO_PIPE_EMA_HI | FO_PIPE_EMA_DIV));
    pp[2] = scratch;
    pp[3] = scratch + sub * elsize;
    for (int64_t s = plan->chunk_first[c]; s < last; s++) {
        const fo_span *sp = &plan->spans[s];
        double *st = pipe->stats ? pipe->stats + s * FO_OUT_WIDTH : NULL;
        char *avg = pipe->avg_base ? pipe->avg_base[sp->tensor] : NULL;
        if (fused && base[(int64_t)gs * nt + sp->tensor]) {
            /* The rule's fused form: the whole span in one loop. */
            const int64_t byte_off = sp->offset * (int64_t)elsize;
            span_ptrs(ptr, base, n_slots, nt, sp->tensor, byte_off, fixed_mask);
            if (pipe->fused(h, ptr, sp, pipe, avg ? avg + byte_off : NULL, st) == 0) continue;
        }
        for (int64_t o = 0; o < sp->n; o += sub) {
            const fo_span piece = {sp->tensor, sp->offset + o, sp->n - o < sub ? sp->n - o : sub};
            const int64_t byte_off = piece.offset * (int64_t)elsize;
            double part[FO_OUT_WIDTH] = {0, 0, 0, 0};
            span_ptrs(ptr, base, n_slots, nt, sp->tensor, byte_off, fixed_mask);
            pp[0] = ptr[0];
            pp[1] = ptr[gs];
            if (do_pre) pipe->pre(&pipe->h, pp, &piece, part);
            if ((fl & FO_PIPE_TRANSFORM) && ptr[gs]) ptr[gs] = pp[2];
            fn(h, ptr, &piece, out ? out + s * FO_OUT_WIDTH : NULL);
            if (do_post) {
                pp[4] = avg ? avg + byte_off : NULL;
                pipe->post(&pipe->h, pp, &piece, part);
            }
            if (st)
                for (int k = 0; k < FO_OUT_WIDTH; k++) st[k] += part[k];
        }
    }
}

int fo_run(const fo_plan *plan, fo_kernel_fn fn, const fo_hyper *h, char *const *base, int n_slots,
           int elsize, unsigned int fixed_mask, int n_threads, double *out, int ftz, const fo_pipe *pipe)
{
    const int64_t n_chunks = plan->n_chunks;
    if (n_chunks == 0) return 0;
    int nt = FO_HAVE_OPENMP ? n_threads : 1;
    if (plan->total < serial_threshold) nt = 1;
    if (nt > n_chunks) nt = (int)n_chunks;
    if (nt < 1) nt = 1;

    /* The pipe as the caller set it, plus the rule's own streams (fo_pipe.streams)
     * and whether to prefetch them: the bytes of the slots the first tensor has
     * (a slot is absent for all tensors or for none, e.g. AMSGrad's max). */
    fo_pipe pipe_run;
    if (pipe) {
        pipe_run = *pipe;
        pipe_run.streams = 0;
        int n_streams = 2;
        for (int k = 1; k < n_slots && k < 32; k++)
            if (k != pipe->grad_slot && !((fixed_mask >> k) & 1u)) {
                pipe_run.streams |= 1u << k;
                n_streams += base[(int64_t)k * plan->n_tensors] != NULL;
            }
        pipe_run.prefetch = plan->total * (int64_t)elsize * n_streams >= FO_PREFETCH_MIN;
        pipe = &pipe_run;
    }
    /* A pipe without tools (flags 0) names the rule's fused form for a plain
     * step: above FO_PREFETCH_MIN its loop prefetches in software (kernels/
     * fused.h, FO_TM_P); below, or for a reducing rule, the plain kernel runs. */
    const fo_pipe *pf = NULL;
    if (pipe && pipe->h.flags == 0) {
        if (pipe->fused && pipe->prefetch && !out) pf = pipe;
        pipe = NULL;
    }

    /* Pipe scratch: two (sub-)spans per thread, on 64-byte lines, allocated before
     * anything is written so a failure leaves every array as it was. */
    char *scratch = NULL, *scratch_mem = NULL;
    const int64_t sub = out ? FO_BLOCK : FO_PIPE_SUB;
    const size_t per_thread = (size_t)2 * (size_t)sub * (size_t)elsize;
    if (pipe) {
        scratch_mem = (char *)malloc(per_thread * (size_t)nt + 64);
        if (scratch_mem == NULL) return -1;
        scratch = scratch_mem + ((64 - ((uintptr_t)scratch_mem & 63)) & 63);
    }

#if FO_HAVE_MXCSR
    const unsigned int csr_caller = _mm_getcsr();
#endif
    if (nt <= 1) {
#if FO_HAVE_MXCSR
        if (ftz) _mm_setcsr(csr_caller | FO_MXCSR_FTZ_DAZ);
#endif
        if (pipe) {
            for (int64_t c = 0; c < n_chunks; c++)
                run_chunk_pipe(plan, c, fn, h, base, n_slots, elsize, fixed_mask, out, pipe, scratch, sub);
        } else {
            for (int64_t c = 0; c < n_chunks; c++)
                run_chunk(plan, c, fn, h, base, n_slots, elsize, fixed_mask, out, pf);
        }
#if FO_HAVE_MXCSR
        if (ftz) _mm_setcsr(csr_caller);
#endif
        free(scratch_mem);
        return 0;
    }
#if FO_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
    {
#if FO_HAVE_MXCSR
        const unsigned int csr = _mm_getcsr();
        if (ftz) _mm_setcsr(csr | FO_MXCSR_FTZ_DAZ);
#endif
        if (pipe) {
            char *mine = scratch + per_thread * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
            for (int64_t c = 0; c < n_chunks; c++)
                run_chunk_pipe(plan, c, fn, h, base, n_slots, elsize, fixed_mask, out, pipe, mine, sub);
        } else {
#pragma omp for schedule(dynamic, 1)
            for (int64_t c = 0; c < n_chunks; c++)
                run_chunk(plan, c, fn, h, base, n_slots, elsize, fixed_mask, out, pf);
        }
#if FO_HAVE_MXCSR
        if (ftz) _mm_setcsr(csr);
#endif
    }
#endif
    free(scratch_mem);
    return 0;
}
