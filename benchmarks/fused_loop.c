/*
 * benchmarks/fused_loop.c -- the cost of the training tools' fused loop
 * (kernels/fused.h) against the rule's plain loop, Adam float32, timed by
 * calling the two kernels directly: no Python, no engine, no threads. For
 * in-cache sizes this is the loop's arithmetic and instruction cost, which
 * a shared machine's neighbours disturb far less than a DRAM-sized step.
 *
 * Build the extension first (python setup.py build_ext --inplace), then:
 *   gcc -O2 -Icsrc -DISA=avx512 benchmarks/fused_loop.c \
 *     build/temp.linux-x86_64-cpython-311/csrc/isa/kernels_avx512.o -o /tmp/fused_loop -lm
 *   /tmp/fused_loop 32768 3000 68
 * Arguments: elements (cut into FO_BLOCK spans), calls of each loop, pipe
 * flags (68 = FO_PIPE_STATS | FO_PIPE_GSTATS: telemetry; 1 = clamp only).
 * ISA=avx2 with kernels_avx2.o for the AVX2 loops. Prints the minimum time
 * per element of each loop and their ratio.
 */
#include "fastopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define PLAIN CAT(fo_k_adam_f32_, ISA)
#define FUSED CAT(fo_f_adam_f32_, ISA)
void PLAIN(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out);
int FUSED(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg, double *stats);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ELEMENTS CALLS PIPE_FLAGS\n", argv[0]);
        return 2;
    }
    const int64_t n = atol(argv[1]);
    const int reps = atoi(argv[2]);
    float *a[4]; /* p, g, m, v */
    for (int k = 0; k < 4; k++) {
        a[k] = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
        for (int64_t i = 0; i < n; i++) a[k][i] = k == 3 ? 0.01f : (float)rand() / (float)RAND_MAX - 0.5f;
    }
    /* Adam, flags 0: sign, wd, decay, w1, beta2, 1-beta2, bc2_sqrt, eps, neg_step (kernels/adam.h) */
    fo_hyper h;
    memset(&h, 0, sizeof h);
    const double s[9] = {1, 0, 1, 0.1, 0.999, 0.001, 0.5, 1e-8, -1e-3};
    memcpy(h.s, s, sizeof s);
    fo_pipe pipe;
    memset(&pipe, 0, sizeof pipe);
    pipe.h.flags = atoi(argv[3]);
    pipe.h.s[0] = -1e30; /* clamp bounds, when flag 1 is set */
    pipe.h.s[1] = 1e30;
    pipe.streams = (1u << 2) | (1u << 3) | (1u << 4); /* as fo_run sets them: m, v, (max v: NULL) */
    pipe.prefetch = n * 4 * 4 >= FO_PREFETCH_MIN;
    double *stats = calloc((size_t)(n / FO_BLOCK + 1) * FO_OUT_WIDTH, sizeof(double));
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < reps; r++)
        for (int v = 0; v < 2; v++) {
            const double t0 = now();
            for (int64_t o = 0; o < n; o += FO_BLOCK) {
                const fo_span sp = {0, o, n - o < FO_BLOCK ? n - o : FO_BLOCK};
                char *ptr[5] = {(char *)(a[0] + o), (char *)(a[1] + o), (char *)(a[2] + o), (char *)(a[3] + o), NULL};
                if (v == 0)
                    PLAIN(&h, ptr, &sp, NULL);
                else
                    FUSED(&h, ptr, &sp, &pipe, NULL, stats + (o / FO_BLOCK) * FO_OUT_WIDTH);
            }
            const double t = now() - t0;
            if (t < best[v]) best[v] = t;
        }
    printf("n=%lld flags=%s  plain %.3f ns/element  fused %.3f ns/element  ratio %.3f\n", (long long)n, argv[3],
           best[0] / (double)n * 1e9, best[1] / (double)n * 1e9, best[1] / best[0]);
    return 0;
}
