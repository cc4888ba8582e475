/*
 * benchmarks/column_sums.c -- why Adafactor's statistics pass (kernels/
 * adafactor.h, pass 3) reads whole rows and sums columns four rows at a
 * time: loop shapes for the row and column sums of g^2 (float32 in, double
 * sums) over a 2^24-element matrix, tiles of 64 rows, one thread, no engine:
 *   rows        row by row, each element added to its row's 8 lanes and to
 *               its column's sum (a read-modify-write of one double)
 *   rows_noacc  the same without the column sums (a plain read's speed)
 *   rows4       four rows at a time, one load/store of a column sum per 4
 *   strips1024  rows cut into 1024-column strips (column sums stay in L1)
 * Build and run (plain gcc; the flags the extension's AVX-512 file uses):
 *   gcc -O3 -std=gnu11 -fno-math-errno -ffp-contract=off -march=x86-64-v4 \
 *     benchmarks/column_sums.c -o /tmp/column_sums && /tmp/column_sums
 * Prints ms per matrix for C = 1024, 2048, 4096 and 16384 columns.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LANES8(a) ((((a)[0] + (a)[1]) + ((a)[2] + (a)[3])) + (((a)[4] + (a)[5]) + ((a)[6] + (a)[7])))

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

__attribute__((noinline)) static void rows(const float *restrict g, int64_t R, int64_t C, int64_t ld,
                                           double *restrict rp, double *restrict acc)
{
    for (int64_t c = 0; c < C; c++) acc[c] = 0;
    for (int64_t r = 0; r < R; r++) {
        const float *restrict gr = g + r * ld;
        double l[8] = {0};
        for (int64_t c = 0; c < C; c += 8)
            for (int j = 0; j < 8; j++) {
                const double d = gr[c + j], x = d * d;
                l[j] += x;
                acc[c + j] += x;
            }
        rp[r] = LANES8(l);
    }
}

__attribute__((noinline)) static void rows_noacc(const float *restrict g, int64_t R, int64_t C, int64_t ld,
                                                 double *restrict rp)
{
    for (int64_t r = 0; r < R; r++) {
        const float *restrict gr = g + r * ld;
        double l[8] = {0};
        for (int64_t c = 0; c < C; c += 8)
            for (int j = 0; j < 8; j++) {
                const double d = gr[c + j];
                l[j] += d * d;
            }
        rp[r] = LANES8(l);
    }
}

__attribute__((noinline)) static void rows4(const float *restrict g, int64_t R, int64_t C, int64_t ld,
                                            double *restrict rp, double *restrict acc)
{
    for (int64_t c = 0; c < C; c++) acc[c] = 0;
    for (int64_t r = 0; r < R; r += 4) {
        const float *restrict g0 = g + r * ld, *restrict g1 = g0 + ld, *restrict g2 = g1 + ld, *restrict g3 = g2 + ld;
        double l0[8] = {0}, l1[8] = {0}, l2[8] = {0}, l3[8] = {0};
        for (int64_t c = 0; c < C; c += 8)
            for (int j = 0; j < 8; j++) {
                const double d0 = g0[c + j], x0 = d0 * d0, d1 = g1[c + j], x1 = d1 * d1;
                const double d2 = g2[c + j], x2 = d2 * d2, d3 = g3[c + j], x3 = d3 * d3;
                l0[j] += x0;
                l1[j] += x1;
                l2[j] += x2;
                l3[j] += x3;
                acc[c + j] = (((acc[c + j] + x0) + x1) + x2) + x3;
            }
        rp[r] = LANES8(l0);
        rp[r + 1] = LANES8(l1);
        rp[r + 2] = LANES8(l2);
        rp[r + 3] = LANES8(l3);
    }
}

int main(void)
{
    const int64_t N = (int64_t)1 << 24, Cs[] = {1024, 2048, 4096, 16384};
    float *g = aligned_alloc(64, (size_t)N * 4);
    double *rp = malloc((size_t)N / 8 * 8), *acc = aligned_alloc(64, 16384 * 8), check = 0;
    if (!g || !rp || !acc) return 1;
    for (int64_t i = 0; i < N; i++) g[i] = (float)((i * 2654435761u) % 1000) / 1000.f;
    for (int ci = 0; ci < 4; ci++)
        for (int rep = 0; rep < 3; rep++) {
            const int64_t C = Cs[ci], R = N / C;
            const double t0 = now();
            for (int64_t rb = 0; rb < R; rb += 64) rows(g + rb * C, 64, C, C, rp + rb, acc);
            const double t1 = now();
            for (int64_t rb = 0; rb < R; rb += 64) rows_noacc(g + rb * C, 64, C, C, rp + rb);
            const double t2 = now();
            for (int64_t rb = 0; rb < R; rb += 64) rows4(g + rb * C, 64, C, C, rp + rb, acc);
            const double t3 = now();
            for (int64_t rb = 0; rb < R; rb += 64)
                for (int64_t c0 = 0; c0 < C; c0 += 1024) rows(g + rb * C + c0, 64, 1024, C, rp + rb, acc);
            const double t4 = now();
            check += rp[3] + acc[5];
            printf("C=%5ld  rows %.2f ms  rows_noacc %.2f ms  rows4 %.2f ms  strips1024 %.2f ms\n", (long)C,
                   (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3);
        }
    printf("(checksum %g)\n", check);
    return 0;
}
