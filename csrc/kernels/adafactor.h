/*
 * kernels/adafactor.h -- Adafactor (Shazeer & Stern 2018) with
 * torch.optim.Adafactor's semantics and op order (lr caps the relative step
 * and scales the decoupled weight decay; eps1 guards the variance estimate).
 *
 * Per tensor, step t, w = t^beta2_decay, g = sign * grad (sign = -1 when maximize):
 *   alpha = max(eps2, ||p|| / sqrt(N)) * min(lr, 1/sqrt(t))   ||p|| before the decay
 *   p     = p * (1 - lr * wd)                                if wd != 0
 *   vector / 0-d param (kind 0):
 *     v   = lerp(v, g * g, w)                                torch's lerp (see below)
 *     V   = v
 *   param of >= 2 dims, shape (B.., R, C) (kind 1; sums of g^2 from the tiled pass):
 *     row[b, r] = lerp(row[b, r], mean_c g^2, w)   col[b, c] = lerp(col[b, c], mean_r g^2, w)
 *     den[b]    = max(mean_r row[b, r], eps1)
 *     V   = (row[b, r] * col[b, c]) / den[b]
 *   u     = (1 / sqrt(max(V, eps1^2))) * g                   max propagates NaN (torch.clamp)
 *   p     = p + u * coef,  coef = -alpha / max(1, ||u|| / (sqrt(N) * d))
 * lerp(a, x, w) = a + w * (x - a) when w < 0.5, else x - (x - a) * (1 - w), as torch.
 *
 * Four passes per step (the clip needs ||u|| of the whole tensor first):
 *   pass 0 (flags&3 == 0, reduces): out[0] = sum p^2 (every tensor); kind 0: v updated,
 *          out[1] = sum u^2; kind 1: out[1] = 0.
 *   pass 3 (flags&3 == 3, a tiled plan of the kind-1 tensors, see below): partial sums of
 *          g^2 per tile, along rows and along columns; for matrices of at most FO_AF_SMALL
 *          rows and columns, row/col/den finished in the tile instead.
 *   between (Python/NumPy, fastopt/adafactor.py): the partial sums of the other tensors
 *          combined, row/col/den (O(B*(R+C)) work).
 *   pass 1 (flags&3 == 1, reduces; skipped when no tensor is factored): kind 1:
 *          out[2] = sum u^2 (u from row, col, den); kind 0: out[2] = 0.
 *   between (Python, double): coef per tensor.
 *   pass 2 (flags&3 == 2, applies): decay, u recomputed (from v or from row/col/den), p += u * coef.
 * u is never stored. Sums of u^2 are in double with 8 lane accumulators by in-span index
 * (element k to lane k % 8 for k < n - n % 8, lanes combined as
 * ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), then the tail one by one), sums of p^2 with 32
 * (kernels/common.h; kernels/pipeline.h's pipe_sum_sq): identical on every ISA, reproduced by fastopt._multipass.ref_sum_sq
 * (lanes 8 and 32). Kind-1 spans are walked row by row
 * (one integer division per span, none per element); rows narrower than FO_AF_NARROW
 * through per-element statistic buffers (see adafactor_walk).
 *
 * Slots (2..4 are Fixed: per-tensor arrays indexed here, not advanced to the span):
 *   0 p (rw), 1 g (r), 2 A: kind 0 variance (rw, advanced here) / kind 1 row_var (B*R),
 *   3 C: kind 1 col_var (B*C) / kind 0 unused, 4 D: kind 1 den (B) / kind 0 unused
 * Scalars:    s[0] sign, s[1] w, s[2] 1 - w (in T), s[3] eps1^2, s[4] 1 - lr * wd
 * Per tensor: [0] kind, [1] R, [2] C, [3] coef (pass 2)
 * Flags:      bits 0-1 pass, bit2 w >= 0.5 (lerp's second form), bit3 weight decay
 * Out:        out[0] sum p^2, out[1] sum u^2 of kind 0 (pass 0), out[2] sum u^2 of kind 1 (pass 1)
 * Bytes per element moved:
 *   kind 0: pass 0 reads p g v, writes v; pass 2 reads p g v, writes p: 8·sizeof(T), 32 B in float32.
 *   kind 1: pass 0 reads p; pass 3 reads g; pass 1 reads g; pass 2 reads p g, writes p:
 *   6·sizeof(T), 24 B in float32, + the tiles' partial sums written and read back (1/64
 *   double per element or less for R >= 64; none for small matrices) and the O(B*(R+C))
 *   statistics (small matrices: row/col read and written in pass 3, den written; row, col,
 *   den read in passes 1 and 2: for a 3 x 3 filter 6/9 + 1/9 of an element each).
 *
 * Pass 3, the tiled statistics. A tensor of shape (B, R, C) is cut into tiles of at most
 * Rt rows by Ct columns of Bt matrices (Ct <= FO_TILE_STRIP, Rt >= 64, Bt * R * C <= FO_TILE;
 * fastopt._multipass.factored_tiles chooses them; Bt > 1 only for whole small matrices,
 * e.g. a conv filter's 3 x 3): ns = ceil(C / Ct) column strips, nrb = ceil(R / Rt) row
 * blocks, tile k = (bb * nrb + rb) * ns + s for batches [bb * Bt, (bb + 1) * Bt).
 * With x = (double)g^2, a tile writes
 *   rowpart[s, b, r] = sum over its columns of x[b, r, c], in 8 lanes by in-strip index
 *                      (column j to lane j % 8 below the last multiple of 8, lanes combined
 *                      ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), then the rest one by one);
 *   colpart[b, rb, c] = sum over its rows of x[b, r, c], row by row from 0.0.
 * Each partial is written by exactly one tile, so the sums do not depend on the threads or
 * the ISA; fastopt._multipass.factored_partials reproduces them in NumPy and
 * factored_sums combines them (the same NumPy calls for both).
 * Small matrices (per tensor [9] set: R, C <= FO_AF_SMALL, so ns = nrb = 1 and a tile holds
 * whole matrices) write no partials: the tile computes the same sums, then row/col/den as
 * fastopt.adafactor.factored_den does from them (mean = (T)(sum / C), torch's lerp in T,
 * den = max((T)(lane-order sum of (double)row / R), eps1)).
 * Slots (all unadvanced): 0 p (unused), 1 g (r), 2 rowpart (float64, ns*B*R), 3 colpart
 * (float64, B*nrb*C), 4 row_var, 5 col_var, 6 den (small matrices). Scalars as above, s[5]
 * eps1; flag bit2 as above. Per tensor: [0] 1, [1] R, [2] C, [3] B*R, [4] Ct, [5] Rt, [6] ns,
 * [7] nrb, [8] Bt, [9] small.
 */
#ifndef FO_LANES8_SUM
#define FO_LANES8_SUM(a) ((((a)[0] + (a)[1]) + ((a)[2] + (a)[3])) + (((a)[4] + (a)[5]) + ((a)[6] + (a)[7])))
#endif

/* u = (1 / sqrt(max(V, e))) * g, NaN in V propagated. */
#define FO_AF_U(V, e, gs) (((T)1 / FO_T_SQRT(((V) < (e)) ? (e) : (V))) * (gs))

/* One element of pass 0, kind 0: v updated, u^2 returned. */
#define FO_AF_VEC(i, du2)                                       \
    do {                                                        \
        const T gs = sign * g[i];                               \
        const T x = gs * gs, a = v[i];                          \
        const T vi = hi ? x - (x - a) * omw : a + w * (x - a);  \
        v[i] = vi;                                              \
        const double du = (double)FO_AF_U(vi, e, gs);           \
        (du2) = du * du;                                        \
    } while (0)

/* pass 0: out[0] = sum p^2 (32 lanes, kernels/common.h: one array read, 8 lanes
 * waited on the adder's latency); kind 0 also updates v and sums u^2 (8 lanes). */
FO_INLINE void FO_FN(adafactor_vec_reduce)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const int hi,
                                            double *out)
{
    const int64_t n = sp->n;
    const T *FO_RESTRICT p = (const T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT v = (T *)ptr[2] + sp->offset;
    const T sign = (T)h->s[0], w = (T)h->s[1], omw = (T)h->s[2], e = (T)h->s[3];
    double ap[FO_LANES32] = {0}, au[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int64_t nb32 = n - n % FO_LANES32, nb = n - n % 8;
    for (int64_t i = 0; i < nb32; i += FO_LANES32) {
        for (int j = 0; j < FO_LANES32; j++) {
            double du2;
            FO_AF_VEC(i + j, du2);
            const double dp = (double)p[i + j];
            ap[j] += dp * dp;
            au[j & 7] += du2;
        }
    }
    for (int64_t i = nb32; i < nb; i += 8) {
        for (int j = 0; j < 8; j++) {
            double du2;
            FO_AF_VEC(i + j, du2);
            au[j] += du2;
        }
    }
    double su = FO_LANES8_SUM(au);
    for (int64_t i = nb; i < n; i++) {
        double du2;
        FO_AF_VEC(i, du2);
        su += du2;
    }
    double sp2 = fo_lanes32_sum(ap);
    for (int64_t i = nb32; i < n; i++) {
        const double dp = (double)p[i];
        sp2 += dp * dp;
    }
    out[0] = sp2;
    out[1] = su;
}
#undef FO_AF_VEC

/* Where element `e` of a (B, R, C) tensor lies: batch b, row r, column c. */
typedef struct {
    int64_t b, r, c;
} FO_FN(adafactor_pos);

FO_INLINE FO_FN(adafactor_pos) FO_FN(adafactor_locate)(int64_t e, const int64_t R, const int64_t C)
{
    FO_FN(adafactor_pos) q;
    const int64_t row = e / C;
    q.c = e - row * C;
    q.b = row / R;
    q.r = row - q.b * R;
    return q;
}

/* Adds u^2 of in-span elements [a, a + len) (one row piece: row value rr, columns
 * cp[0..len), grads gp[0..len)) to the lanes by in-span index (lane of element k is k % 8). */
FO_INLINE void FO_FN(adafactor_row_u2)(double *FO_RESTRICT lane, const int64_t a, const int64_t len, const T rr,
                                       const T *FO_RESTRICT cp, const T *FO_RESTRICT gp, const T den, const T e,
                                       const T sign)
{
    int64_t t0 = ((a + 7) & ~(int64_t)7) - a, t = 0;
    if (t0 > len) t0 = len;
    for (; t < t0; t++) {
        const T V = (rr * cp[t]) / den;
        const double du = (double)FO_AF_U(V, e, sign * gp[t]);
        lane[(a + t) & 7] += du * du;
    }
    /* The aligned body in pieces of up to 256: u^2 into a buffer (a plain
     * elementwise loop), then added to accumulators indexed by constants only.
     * gcc vectorises both loops, not the two fused into one (float32: the
     * widening to double inside a lane group); the sums are the same. */
    double l[8], sq[256];
    for (int j = 0; j < 8; j++) l[j] = lane[j];
    const int64_t tb = t0 + (len - t0) / 8 * 8;
    while (t < tb) {
        const int64_t m = tb - t < 256 ? tb - t : 256;
        for (int64_t i = 0; i < m; i++) {
            const T V = (rr * cp[t + i]) / den;
            const double du = (double)FO_AF_U(V, e, sign * gp[t + i]);
            sq[i] = du * du;
        }
        for (int64_t i = 0; i < m; i += 8)
            for (int j = 0; j < 8; j++) l[j] += sq[i + j];
        t += m;
    }
    for (int j = 0; j < 8; j++) lane[j] = l[j];
    for (; t < len; t++) {
        const T V = (rr * cp[t]) / den;
        const double du = (double)FO_AF_U(V, e, sign * gp[t]);
        lane[(a + t) & 7] += du * du;
    }
}

/* pass 1, kind 1: s plus u^2 of in-span elements [nb, n) one by one (the tail after the
 * 8-lane sums), each located on its own. */
FO_INLINE double FO_FN(adafactor_u2_tail)(double s, const fo_span *sp, const int64_t nb, const T *FO_RESTRICT g,
                                          const T *FO_RESTRICT rowv, const T *FO_RESTRICT colv,
                                          const T *FO_RESTRICT denv, const int64_t R, const int64_t C, const T e,
                                          const T sign)
{
    for (int64_t k = nb; k < sp->n; k++) {
        const FO_FN(adafactor_pos) t = FO_FN(adafactor_locate)(sp->offset + k, R, C);
        const T V = (rowv[t.b * R + t.r] * colv[t.b * C + t.c]) / denv[t.b];
        const double du = (double)FO_AF_U(V, e, sign * g[k]);
        s += du * du;
    }
    return s;
}

/* Rows narrower than this (a conv filter's 3 x 3, 1 x 1) are walked through
 * per-element statistic buffers in passes 1 and 2, not row piece by row piece:
 * a piece of 1-3 elements costs more in loop overhead than in work. */
#define FO_AF_NARROW 64
#define FO_AF_BUF 256

/* A span of a tensor of narrow rows, walked in blocks of at most FO_AF_BUF
 * elements, each with its row, column and den statistics per element:
 *  - 1 x 1 matrices: pointers into the statistics themselves (one row, column
 *    and den per element);
 *  - matrices of RC = R * C elements with L = lcm(RC, 8) <= FO_AF_BUF (3 x 3,
 *    5 x 5, ...): from the first in-span index k0 that starts a matrix and is a
 *    multiple of 8, blocks of M = a multiple of L elements gather their
 *    statistics through index patterns fixed for the span (element i of a block
 *    is row i / C, column (i / RC) * C + i % C and matrix i / RC of the block's
 *    first matrix): vector gathers, no per-row loop;
 *  - otherwise (before k0, after the last whole block, other shapes) filled row
 *    piece by row piece.
 * Every block length is a multiple of 8 below the span's last multiple of 8 (the
 * 8-lane sums of pass 1 see whole lane groups). */
typedef struct {
    const T *rowv, *colv, *denv;
    int64_t R, C, RC, off, M, k0, qk;
    FO_FN(adafactor_pos) q; /* position of in-span element qk (the fill's cursor) */
    int32_t ri[FO_AF_BUF], ci[FO_AF_BUF], di[FO_AF_BUF];
    T rr[FO_AF_BUF], cc[FO_AF_BUF], dd[FO_AF_BUF];
} FO_FN(adafactor_walk);

FO_INLINE void FO_FN(adafactor_walk_init)(FO_FN(adafactor_walk) *wk, char *const *ptr, const fo_span *sp,
                                          const int64_t R, const int64_t C)
{
    wk->rowv = (const T *)ptr[2];
    wk->colv = (const T *)ptr[3];
    wk->denv = (const T *)ptr[4];
    wk->R = R;
    wk->C = C;
    wk->RC = R * C;
    wk->off = sp->offset;
    wk->M = 0;
    wk->k0 = 0;
    wk->qk = 0;
    wk->q = FO_FN(adafactor_locate)(sp->offset, R, C);
    const int64_t RC = wk->RC;
    int64_t L = RC;
    while (L % 8 && L <= FO_AF_BUF) L += RC;
    if (RC == 1 || L > FO_AF_BUF) return;
    int64_t k0 = 0;
    while (k0 < L && (sp->offset + k0) % RC) k0 += 8;
    if (k0 >= L) return; /* (span offsets are multiples of 8: not reached) */
    wk->k0 = k0;
    wk->M = FO_AF_BUF / L * L;
    for (int64_t i = 0; i < wk->M; i++) {
        const int64_t b = i / RC, j = i - b * RC;
        wk->ri[i] = (int32_t)(b * R + j / C);
        wk->ci[i] = (int32_t)(b * C + j % C);
        wk->di[i] = (int32_t)b;
    }
}

/* The statistics of in-span elements [k, k + m) for the next block from k (blocks are
 * taken in order), m <= lim, returned; *rp, *cq, *dp point at them. */
FO_INLINE int64_t FO_FN(adafactor_walk_next)(FO_FN(adafactor_walk) *wk, const int64_t k, const int64_t lim,
                                             const T **rp, const T **cq, const T **dp)
{
    int64_t m = lim < FO_AF_BUF ? lim : FO_AF_BUF;
    if (wk->RC == 1) {
        *rp = wk->rowv + wk->off + k;
        *cq = wk->colv + wk->off + k;
        *dp = wk->denv + wk->off + k;
        return m;
    }
    if (wk->M && k >= wk->k0 && lim >= wk->M) {
        const int64_t M = wk->M, b = (wk->off + k) / wk->RC;
        const T *FO_RESTRICT rb = wk->rowv + b * wk->R;
        const T *FO_RESTRICT cb = wk->colv + b * wk->C;
        const T *FO_RESTRICT db = wk->denv + b;
        T *FO_RESTRICT rr = wk->rr;
        T *FO_RESTRICT cc = wk->cc;
        T *FO_RESTRICT dd = wk->dd;
        const int32_t *FO_RESTRICT ri = wk->ri;
        const int32_t *FO_RESTRICT ci = wk->ci;
        const int32_t *FO_RESTRICT di = wk->di;
        for (int64_t i = 0; i < M; i++) {
            rr[i] = rb[ri[i]];
            cc[i] = cb[ci[i]];
            dd[i] = db[di[i]];
        }
        *rp = wk->rr;
        *cq = wk->cc;
        *dp = wk->dd;
        return M;
    }
    if (wk->M && k < wk->k0 && m > wk->k0 - k) m = wk->k0 - k;
    if (wk->qk != k) {
        wk->q = FO_FN(adafactor_locate)(wk->off + k, wk->R, wk->C);
        wk->qk = k;
    }
    const int64_t R = wk->R, C = wk->C;
    int64_t b = wk->q.b, r = wk->q.r, c = wk->q.c;
    for (int64_t i = 0; i < m;) {
        int64_t len = C - c;
        if (len > m - i) len = m - i;
        const T rv = wk->rowv[b * R + r], dv = wk->denv[b];
        const T *FO_RESTRICT cp = wk->colv + b * C + c;
        for (int64_t t = 0; t < len; t++) {
            wk->rr[i + t] = rv;
            wk->cc[i + t] = cp[t];
            wk->dd[i + t] = dv;
        }
        i += len;
        c += len;
        if (c == C) {
            c = 0;
            if (++r == R) {
                r = 0;
                b++;
            }
        }
    }
    wk->q.b = b;
    wk->q.r = r;
    wk->q.c = c;
    wk->qk = k + m;
    *rp = wk->rr;
    *cq = wk->cc;
    *dp = wk->dd;
    return m;
}

/* pass 1, kind 1, rows narrower than FO_AF_NARROW: the same sum as adafactor_fac_reduce. */
FO_INLINE double FO_FN(adafactor_narrow_reduce)(const fo_hyper *h, char *const *ptr, const fo_span *sp,
                                                const int64_t R, const int64_t C)
{
    const int64_t n = sp->n;
    const T *FO_RESTRICT g = (const T *)ptr[1];
    const T sign = (T)h->s[0], e = (T)h->s[3];
    FO_FN(adafactor_walk) wk;
    FO_FN(adafactor_walk_init)(&wk, ptr, sp, R, C);
    double sq[FO_AF_BUF], l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int64_t nb = n - n % 8;
    for (int64_t k = 0; k < nb;) {
        const T *rp0, *cq0, *dp0;
        const int64_t m = FO_FN(adafactor_walk_next)(&wk, k, nb - k, &rp0, &cq0, &dp0);
        const T *FO_RESTRICT rp = rp0;
        const T *FO_RESTRICT cq = cq0;
        const T *FO_RESTRICT dp = dp0;
        const T *FO_RESTRICT gp = g + k;
        for (int64_t i = 0; i < m; i++) {
            const T V = (rp[i] * cq[i]) / dp[i];
            const double du = (double)FO_AF_U(V, e, sign * gp[i]);
            sq[i] = du * du;
        }
        for (int64_t i = 0; i < m; i += 8)
            for (int j = 0; j < 8; j++) l[j] += sq[i + j];
        k += m;
    }
    const double s = FO_LANES8_SUM(l);
    return FO_FN(adafactor_u2_tail)(s, sp, nb, g, wk.rowv, wk.colv, wk.denv, R, C, e, sign);
}

/* pass 2, kind 1, rows narrower than FO_AF_NARROW. */
FO_INLINE void FO_FN(adafactor_narrow_apply)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const int wdf,
                                             const T coef, const int64_t R, const int64_t C)
{
    const int64_t n = sp->n;
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    const T sign = (T)h->s[0], e = (T)h->s[3], dec = (T)h->s[4];
    FO_FN(adafactor_walk) wk;
    FO_FN(adafactor_walk_init)(&wk, ptr, sp, R, C);
    for (int64_t k = 0; k < n;) {
        const T *rp0, *cq0, *dp0;
        const int64_t m = FO_FN(adafactor_walk_next)(&wk, k, n - k, &rp0, &cq0, &dp0);
        const T *FO_RESTRICT rp = rp0;
        const T *FO_RESTRICT cq = cq0;
        const T *FO_RESTRICT dp = dp0;
        T *FO_RESTRICT pp = p + k;
        const T *FO_RESTRICT gp = g + k;
        if (wdf) {
            for (int64_t i = 0; i < m; i++) {
                const T V = (rp[i] * cq[i]) / dp[i];
                pp[i] = pp[i] * dec + FO_AF_U(V, e, sign * gp[i]) * coef;
            }
        } else {
            for (int64_t i = 0; i < m; i++) {
                const T V = (rp[i] * cq[i]) / dp[i];
                pp[i] = pp[i] + FO_AF_U(V, e, sign * gp[i]) * coef;
            }
        }
        k += m;
    }
}

/* pass 1, kind 1: sum of u^2 over the span, walking it row by row. */
FO_INLINE double FO_FN(adafactor_fac_reduce)(const fo_hyper *h, char *const *ptr, const fo_span *sp,
                                             const int64_t R, const int64_t C)
{
    const int64_t n = sp->n;
    const T *FO_RESTRICT g = (const T *)ptr[1];
    const T *FO_RESTRICT rowv = (const T *)ptr[2];
    const T *FO_RESTRICT colv = (const T *)ptr[3];
    const T *FO_RESTRICT denv = (const T *)ptr[4];
    const T sign = (T)h->s[0], e = (T)h->s[3];
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int64_t nb = n - n % 8;
    FO_FN(adafactor_pos) q = FO_FN(adafactor_locate)(sp->offset, R, C);
    for (int64_t k = 0; k < nb;) {
        int64_t len = C - q.c;
        if (len > nb - k) len = nb - k;
        FO_FN(adafactor_row_u2)(lane, k, len, rowv[q.b * R + q.r], colv + q.b * C + q.c, g + k, denv[q.b], e,
                                sign);
        k += len;
        q.c += len;
        if (q.c == C) {
            q.c = 0;
            if (++q.r == R) {
                q.r = 0;
                q.b++;
            }
        }
    }
    double s = FO_LANES8_SUM(lane);
    return FO_FN(adafactor_u2_tail)(s, sp, nb, g, rowv, colv, denv, R, C, e, sign);
}

/* pass 2, kind 0 */
FO_INLINE void FO_FN(adafactor_vec_apply)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const int wdf,
                                          const T coef)
{
    const int64_t n = sp->n;
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    const T *FO_RESTRICT v = (const T *)ptr[2] + sp->offset;
    const T sign = (T)h->s[0], e = (T)h->s[3], dec = (T)h->s[4];
    for (int64_t i = 0; i < n; i++) {
        T pi = p[i];
        if (wdf) pi = pi * dec;
        const T u = FO_AF_U(v[i], e, sign * g[i]);
        p[i] = pi + u * coef;
    }
}

/* pass 2, kind 1: one row piece at a time. */
FO_INLINE void FO_FN(adafactor_fac_apply)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const int wdf,
                                          const T coef, const int64_t R, const int64_t C)
{
    const int64_t n = sp->n;
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    const T *FO_RESTRICT rowv = (const T *)ptr[2];
    const T *FO_RESTRICT colv = (const T *)ptr[3];
    const T *FO_RESTRICT denv = (const T *)ptr[4];
    const T sign = (T)h->s[0], e = (T)h->s[3], dec = (T)h->s[4];
    FO_FN(adafactor_pos) q = FO_FN(adafactor_locate)(sp->offset, R, C);
    for (int64_t k = 0; k < n;) {
        int64_t len = C - q.c;
        if (len > n - k) len = n - k;
        const T rr = rowv[q.b * R + q.r], den = denv[q.b];
        const T *FO_RESTRICT cp = colv + q.b * C + q.c;
        T *FO_RESTRICT pp = p + k;
        const T *FO_RESTRICT gp = g + k;
        for (int64_t i = 0; i < len; i++) {
            T pi = pp[i];
            if (wdf) pi = pi * dec;
            const T V = (rr * cp[i]) / den;
            const T u = FO_AF_U(V, e, sign * gp[i]);
            pp[i] = pi + u * coef;
        }
        k += len;
        q.c += len;
        if (q.c == C) {
            q.c = 0;
            if (++q.r == R) {
                q.r = 0;
                q.b++;
            }
        }
    }
}

#define FO_AF_CB 64        /* columns per block of adafactor_colblock_sums */
#define FO_AF_CB_ROWS 64   /* rows at most there (row lanes on the stack): tiles >= 2048 wide have 64 */
#define FO_AF_CB_MIN 2048  /* pieces at least this wide take the column blocks */
#define FO_AF_CB_AHEAD 2   /* blocks of a row prefetched ahead */

/* One row's columns [c0, w) of a piece: x = (double)g^2 added to the row's 8
 * lanes l (column c to lane c % 8, for c < nb, a multiple of 8) and to the
 * column sums acc; returns the lanes combined plus the columns from nb one by
 * one (the row sum's order in adafactor_block_sums). */
FO_INLINE double FO_FN(adafactor_row_sums)(const T *FO_RESTRICT gr, const int64_t c0, const int64_t nb,
                                           const int64_t w, double *FO_RESTRICT l, double *FO_RESTRICT acc)
{
    for (int64_t c = c0; c < nb; c += 8)
        for (int j = 0; j < 8; j++) {
            const double d = (double)gr[c + j], x = d * d;
            l[j] += x;
            acc[c + j] += x;
        }
    double t = FO_LANES8_SUM(l);
    for (int64_t c = nb; c < w; c++) {
        const double d = (double)gr[c], x = d * d;
        t += x;
        acc[c] += x;
    }
    return t;
}

/* adafactor_block_sums for pieces at least FO_AF_CB_MIN wide (their tiles have
 * Rt = 64 rows: fastopt._multipass.factored_tiles): column blocks of FO_AF_CB
 * walked down all the piece's rows, so the block's column sums stay in
 * registers instead of a load and store of a column sum per element (or per
 * four elements, rows four at a time; benchmarks/column_sums.c, 2^24 float32
 * elements 4096 wide, best of three: rows four at a time 5.5 ms, column blocks
 * 2.5, the same read without column sums 2.3). Each row's 8 lanes take the block's elements in column order and the
 * column sums the rows in row order: the same additions in the same order as
 * row by row. Each row is a stream of its own, too many for the hardware
 * prefetchers: every row's block FO_AF_CB_AHEAD blocks ahead is prefetched. */
FO_INLINE void FO_FN(adafactor_colblock_sums)(const T *FO_RESTRICT g, const int64_t C, const int64_t w,
                                              const int64_t nr, double *FO_RESTRICT rs, double *FO_RESTRICT acc)
{
    double rl[FO_AF_CB_ROWS][8];
    const int64_t nbk = w - w % FO_AF_CB, nb = w - w % 8;
    for (int64_t r = 0; r < nr; r++)
        for (int j = 0; j < 8; j++) rl[r][j] = 0.0;
    for (int64_t c0 = 0; c0 < nbk; c0 += FO_AF_CB) {
        double ca[FO_AF_CB];
        for (int j = 0; j < FO_AF_CB; j++) ca[j] = 0.0;
        for (int64_t r = 0; r < nr; r++) {
            const T *FO_RESTRICT gr = g + r * C + c0;
            double t[8]; /* the row's lanes in registers for the block */
            for (int j = 0; j < 8; j++) t[j] = rl[r][j];
            for (int q = 0; q < (int)(FO_AF_CB * sizeof(T)); q += 64)
                __builtin_prefetch((const char *)(gr + FO_AF_CB_AHEAD * FO_AF_CB) + q, 0, 3);
            for (int k = 0; k < FO_AF_CB; k += 8)
                for (int j = 0; j < 8; j++) {
                    const double d = (double)gr[k + j], x = d * d;
                    t[j] += x;
                    ca[k + j] += x;
                }
            for (int j = 0; j < 8; j++) rl[r][j] = t[j];
        }
        for (int j = 0; j < FO_AF_CB; j++) acc[c0 + j] = ca[j];
    }
    for (int64_t c = nbk; c < w; c++) acc[c] = 0.0;
    for (int64_t r = 0; r < nr; r++) /* the columns after the last block, row by row */
        rs[r] = FO_FN(adafactor_row_sums)(g + r * C, nbk, nb, w, rl[r], acc);
}

/* Sums of x = (double)g^2 over `nr` rows of a piece `w` columns wide (row i at
 * g + i * C): rs[i] along the row (8 lanes by in-piece index below the last
 * multiple of 8, then the rest one by one), acc[0..w) along the columns (row by
 * row from 0.0). Wide pieces by column blocks, narrower ones row by row
 * (faster there: the column sums stay in L1). */
FO_INLINE void FO_FN(adafactor_block_sums)(const T *FO_RESTRICT g, const int64_t C, const int64_t w,
                                           const int64_t nr, double *FO_RESTRICT rs, double *FO_RESTRICT acc)
{
    if (w >= FO_AF_CB_MIN && nr <= FO_AF_CB_ROWS) {
        FO_FN(adafactor_colblock_sums)(g, C, w, nr, rs, acc);
        return;
    }
    const int64_t nb = w - w % 8;
    for (int64_t c = 0; c < w; c++) acc[c] = 0.0;
    int64_t r = 0;
    if (w < 8) { /* no lanes: a short loop per row (a conv filter's 3 x 3) */
        for (; r < nr; r++) {
            const T *FO_RESTRICT gr = g + r * C;
            double t = 0.0;
            for (int64_t c = 0; c < w; c++) {
                const double d = (double)gr[c], x = d * d;
                t += x;
                acc[c] += x;
            }
            rs[r] = t;
        }
        return;
    }
    for (; r < nr; r++) {
        double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        rs[r] = FO_FN(adafactor_row_sums)(g + r * C, 0, nb, w, lane, acc);
    }
}

/* The largest R and C of a matrix whose statistics its tile finishes itself
 * (per-tensor [9] set: fastopt/adafactor.py): sums for up to that many rows and
 * columns fit in the kernel's stack buffers. */
#define FO_AF_SMALL 256
#define FO_AF_TINY 64
#define FO_AF_TINY_BUF 2048

/* lerp(a[i], (T)(s[i] / div), w) in place for i < n (fastopt.adafactor.factored_den's order). */
FO_INLINE void FO_FN(adafactor_lerp_means)(T *FO_RESTRICT a, const double *FO_RESTRICT s, const int64_t n,
                                           const double div, const int hi, const T w, const T omw)
{
    if (div == 1.0) { /* s / 1.0 == s: no division (1 x 1 filters, whose means are the sums) */
        if (hi) {
            for (int64_t i = 0; i < n; i++) {
                const T x = (T)s[i];
                a[i] = x - (x - a[i]) * omw;
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                const T x = (T)s[i];
                a[i] = a[i] + w * (x - a[i]);
            }
        }
        return;
    }
    if (hi) {
        for (int64_t i = 0; i < n; i++) {
            const T x = (T)(s[i] / div);
            a[i] = x - (x - a[i]) * omw;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            const T x = (T)(s[i] / div);
            a[i] = a[i] + w * (x - a[i]);
        }
    }
}

/* pass 3 of a tensor of whole small matrices (R, C <= FO_AF_SMALL): a tile's matrices
 * [b0, b1) in groups whose sums fit the buffers; each group's row and column statistics
 * and den are finished here, as fastopt.adafactor.factored_den computes them from the
 * same sums (no partial sums written). */
FO_INLINE void FO_FN(adafactor_tile_finish)(const fo_hyper *h, char *const *ptr, const int64_t R, const int64_t C,
                                            const int64_t b0, const int64_t b1)
{
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT rowv = (T *)ptr[4];
    T *FO_RESTRICT colv = (T *)ptr[5];
    T *FO_RESTRICT denv = (T *)ptr[6];
    const int hi = (h->flags & 4) != 0;
    const T w = (T)h->s[1], omw = (T)h->s[2], e1 = (T)h->s[5];
    const int64_t RC = R * C;
    /* tiny matrices (rows under 8 wide, at most FO_AF_TINY elements: 3 x 3, 7 x 7):
     * the group's g^2 in a buffer, then each sum as a strided loop across the group's
     * rows or columns (vectorised), in the same order as adafactor_block_sums */
    const int tiny = RC > 1 && C < 8 && RC <= FO_AF_TINY;
    int64_t G = FO_AF_SMALL / (R > C ? R : C);
    if (tiny && G > FO_AF_TINY_BUF / RC) G = FO_AF_TINY_BUF / RC;
    double rs[FO_AF_SMALL], cs[FO_AF_SMALL], ms[FO_AF_SMALL], sq[FO_AF_TINY_BUF];
    int32_t cix[FO_AF_SMALL];
    if (tiny)
        for (int64_t j = 0; j < G * C; j++) cix[j] = (int32_t)((j / C) * RC + j % C);
    for (int64_t b = b0; b < b1; b += G) {
        const int64_t bn = b1 - b < G ? b1 - b : G;
        if (RC == 1) {
            for (int64_t i = 0; i < bn; i++) {
                const double d = (double)g[b + i];
                rs[i] = d * d;
                cs[i] = d * d;
            }
        } else if (tiny) {
            const T *FO_RESTRICT gb = g + b * RC;
            const int64_t nr = bn * R, nc = bn * C;
            for (int64_t i = 0; i < bn * RC; i++) {
                const double d = (double)gb[i];
                sq[i] = d * d;
            }
            for (int64_t i = 0; i < nr; i++) rs[i] = 0.0;
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < nr; i++) rs[i] += sq[i * C + c];
            for (int64_t j = 0; j < nc; j++) cs[j] = 0.0;
            for (int64_t r = 0; r < R; r++) {
                const double *FO_RESTRICT sr = sq + r * C;
                for (int64_t j = 0; j < nc; j++) cs[j] += sr[cix[j]];
            }
        } else {
            for (int64_t i = 0; i < bn; i++)
                FO_FN(adafactor_block_sums)(g + (b + i) * RC, C, C, R, rs + i * R, cs + i * C);
        }
        T *FO_RESTRICT rv = rowv + b * R;
        FO_FN(adafactor_lerp_means)(rv, rs, bn * R, (double)C, hi, w, omw);
        FO_FN(adafactor_lerp_means)(colv + b * C, cs, bn * C, (double)R, hi, w, omw);
        /* den = max((T)(sum_r row / R), eps1), the sum in lane order (fastopt._multipass.lane_rows) */
        const int64_t nb = R - R % 8;
        if (R < 8) { /* no lanes: from 0.0 row by row, a strided loop across the group */
            for (int64_t i = 0; i < bn; i++) ms[i] = 0.0;
            for (int64_t r = 0; r < R; r++)
                for (int64_t i = 0; i < bn; i++) ms[i] += (double)rv[i * R + r];
        } else {
            for (int64_t i = 0; i < bn; i++) {
                const T *FO_RESTRICT x = rv + i * R;
                double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                for (int64_t r = 0; r < nb; r += 8)
                    for (int j = 0; j < 8; j++) l[j] += (double)x[r + j];
                double t = nb ? FO_LANES8_SUM(l) : 0.0;
                for (int64_t r = nb; r < R; r++) t += (double)x[r];
                ms[i] = t;
            }
        }
        for (int64_t i = 0; i < bn; i++) {
            const T mean = R == 1 ? (T)ms[i] : (T)(ms[i] / (double)R);
            denv[b + i] = mean < e1 ? e1 : mean; /* NaN kept, as np.maximum */
        }
    }
}

/* pass 3: one tile's partial sums of g^2 along rows and along columns, or, for whole
 * small matrices, their finished statistics. */
FO_INLINE void FO_FN(adafactor_tile_stats)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const double *pt)
{
    const int64_t R = (int64_t)pt[1], C = (int64_t)pt[2], BR = (int64_t)pt[3];
    const int64_t Ct = (int64_t)pt[4], Rt = (int64_t)pt[5], ns = (int64_t)pt[6], nrb = (int64_t)pt[7];
    const int64_t Bt = (int64_t)pt[8], B = BR / R;
    const int64_t k = sp->offset / FO_TILE;
    const int64_t s = k % ns, rb = (k / ns) % nrb, b0 = k / (ns * nrb) * Bt;
    const int64_t c0 = s * Ct, r0 = rb * Rt;
    const int64_t w = C - c0 < Ct ? C - c0 : Ct, r1 = R - r0 < Rt ? R : r0 + Rt;
    const int64_t b1 = B - b0 < Bt ? B : b0 + Bt;
    const T *FO_RESTRICT g = (const T *)ptr[1];
    if (pt[9] != 0.0 && R <= FO_AF_SMALL && C <= FO_AF_SMALL && ns == 1 && nrb == 1) {
        FO_FN(adafactor_tile_finish)(h, ptr, R, C, b0, b1);
        return;
    }
    for (int64_t b = b0; b < b1; b++) {
        /* the column sums accumulate in place: this tile's own piece of colpart */
        FO_FN(adafactor_block_sums)(g + (b * R + r0) * C + c0, C, w, r1 - r0, (double *)ptr[2] + s * BR + b * R + r0,
                                    (double *)ptr[3] + (b * nrb + rb) * C + c0);
    }
}

void FO_FN(fo_k_adafactor)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const double *pt = h->per_tensor + sp->tensor * h->per_tensor_width;
    if ((h->flags & 3) == 3) {
        FO_FN(adafactor_tile_stats)(h, ptr, sp, pt);
        return;
    }
    const int fac = pt[0] != 0.0;
    const int64_t R = (int64_t)pt[1], C = (int64_t)pt[2];
    switch (h->flags & 15) {
    case 0:
    case 8:
        if (fac) {
            out[0] = FO_FN(pipe_sum_sq)((const T *)ptr[0], sp->n);
            out[1] = 0.0;
        } else {
            FO_FN(adafactor_vec_reduce)(h, ptr, sp, 0, out);
        }
        break;
    case 4:
    case 12:
        if (fac) {
            out[0] = FO_FN(pipe_sum_sq)((const T *)ptr[0], sp->n);
            out[1] = 0.0;
        } else {
            FO_FN(adafactor_vec_reduce)(h, ptr, sp, 1, out);
        }
        break;
    case 1:
    case 5:
    case 9:
    case 13:
        out[2] = !fac ? 0.0
                 : C < FO_AF_NARROW ? FO_FN(adafactor_narrow_reduce)(h, ptr, sp, R, C)
                                    : FO_FN(adafactor_fac_reduce)(h, ptr, sp, R, C);
        break;
    case 2:
    case 6:
        if (fac && C < FO_AF_NARROW) FO_FN(adafactor_narrow_apply)(h, ptr, sp, 0, (T)pt[3], R, C);
        else if (fac) FO_FN(adafactor_fac_apply)(h, ptr, sp, 0, (T)pt[3], R, C);
        else FO_FN(adafactor_vec_apply)(h, ptr, sp, 0, (T)pt[3]);
        break;
    case 10:
    case 14:
        if (fac && C < FO_AF_NARROW) FO_FN(adafactor_narrow_apply)(h, ptr, sp, 1, (T)pt[3], R, C);
        else if (fac) FO_FN(adafactor_fac_apply)(h, ptr, sp, 1, (T)pt[3], R, C);
        else FO_FN(adafactor_vec_apply)(h, ptr, sp, 1, (T)pt[3]);
        break;
    default: break;
    }
}

#undef FO_AF_U
