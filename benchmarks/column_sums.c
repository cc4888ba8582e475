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
 *   colblocks   64-column blocks walked down the 64 rows, the block's column
 *               sums in registers, each row's next blocks prefetched: what the
 *               kernel does for pieces at least 2048 wide (kernels/adafactor.h,
 *               adafactor_colblock_sums; same sums, same order as rows)
 * Build and run (plain gcc; the flags the extension's AVX-512 file uses):
 *   gcc -O3 -std=gnu11 -fno-math-errno -ffp-contract=off -march=x86-64-v4 \
 *     benchmarks/column_sums.c -o /tmp/column_sums && /tmp/column_sums
 * Prints ms per matrix for C = 1024, 2048, 4096 and 16384 columns, best of
 * three (the machine is shared), and whether colblocks' sums equal rows'.
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

__attribute__((noinline)) static void colblocks(const float *restrict g, int64_t R, int64_t C, int64_t ld,
                                                double *restrict rp, double *restrict acc)
{
    double rl[64][8] = {{0}};   /* R <= 64 here, C a multiple of 64 */
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
        double ca[64] = {0};
        for (int64_t r = 0; r < R; r++) {
            const float *restrict gr = g + r * ld + c0;
            double t[8];
            for (int j = 0; j < 8; j++) t[j] = rl[r][j];
            for (int q = 0; q < 256; q += 64) __builtin_prefetch((const char *)(gr + 128) + q, 0, 3);
            for (int k = 0; k < 64; k += 8)
                for (int j = 0; j < 8; j++) {
                    const double d = gr[k + j], x = d * d;
                    t[j] += x;
                    ca[k + j] += x;
                }
            for (int j = 0; j < 8; j++) rl[r][j] = t[j];
        }
        for (int j = 0; j < 64; j++) acc[c0 + j] = ca[j];
    }
    for (int64_t r = 0; r < R; r++) rp[r] = LANES8(rl[r]);
}

int main(void)
{
    const int64_t N = (int64_t)1 << 24, Cs[] = {1024, 2048, 4096, 16384};
    float *g = aligned_alloc(64, (size_t)N * 4);
    double *rp = malloc((size_t)N / 8 * 8), *acc = aligned_alloc(64, 16384 * 8), check = 0;
    if (!g || !rp || !acc) return 1;
    for (int64_t i = 0; i < N; i++) g[i] = (float)((i * 2654435761u) % 1000) / 1000.f;
    double *rp2 = malloc((size_t)N / 8 * 8), *acc2 = aligned_alloc(64, 16384 * 8);
    if (!rp2 || !acc2) return 1;
    for (int ci = 0; ci < 4; ci++) {
        const int64_t C = Cs[ci], R = N / C;
        double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9};
        int same = 1;
        for (int rep = 0; rep < 3; rep++) {
            double t[6];
            t[0] = now();
            for (int64_t rb = 0; rb < R; rb += 64) rows(g + rb * C, 64, C, C, rp + rb, acc);
            t[1] = now();
            for (int64_t rb = 0; rb < R; rb += 64) rows_noacc(g + rb * C, 64, C, C, rp + rb);
            t[2] = now();
            for (int64_t rb = 0; rb < R; rb += 64) rows4(g + rb * C, 64, C, C, rp + rb, acc);
            t[3] = now();
            for (int64_t rb = 0; rb < R; rb += 64)
                for (int64_t c0 = 0; c0 < C; c0 += 1024) rows(g + rb * C + c0, 64, 1024, C, rp + rb, acc);
            t[4] = now();
            for (int64_t rb = 0; rb < R; rb += 64) colblocks(g + rb * C, 64, C, C, rp2 + rb, acc2);
            t[5] = now();
            for (int k = 0; k < 5; k++) best[k] = t[k + 1] - t[k] < best[k] ? t[k + 1] - t[k] : best[k];
            /* the last row block's sums, both ways */
            rows(g + (R - 64) * C, 64, C, C, rp + R - 64, acc);
            for (int64_t r = R - 64; r < R; r++) same &= rp[r] == rp2[r];
            for (int64_t c = 0; c < C; c++) same &= acc[c] == acc2[c];
            check += rp[3] + acc[5];
        }
        printf("C=%5ld  rows %.2f ms  rows_noacc %.2f ms  rows4 %.2f ms  strips1024 %.2f ms  colblocks %.2f ms"
               "  (same sums: %s)\n", (long)C, best[0] * 1e3, best[1] * 1e3, best[2] * 1e3, best[3] * 1e3,
               best[4] * 1e3, same ? "yes" : "NO");
    }
    printf("(checksum %g)\n", check);
    return 0;
}
