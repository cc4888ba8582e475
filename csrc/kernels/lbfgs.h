/*
 * kernels/lbfgs.h -- the vector work of L-BFGS (Nocedal 1980; Liu & Nocedal
 * 1989) as torch.optim.LBFGS does it, over a flat view of all params.
 *
 * L-BFGS is not one elementwise pass per step: a step is a loop of iterations,
 * each a two-loop recursion over the history (dots and axpys on flat
 * vectors) and one or more closure evaluations. The Python class keeps the
 * scalar logic; this kernel is the set of fused vector operations it calls,
 * one C call (one pass over memory) each. The op is the low 4 bits of the
 * flags; bit 4 (VAR) picks a variant. Per-span reductions go to out[0..2]
 * (sums in double with 8 lane accumulators in a fixed order, max as the
 * largest |value|), combined in span order by the caller: deterministic,
 * independent of the thread count and of the ISA.
 *
 * Ops over the params (plan slots: per-param arrays or per-param views of a
 * flat vector, so no per-tensor Python loop):
 *   0 STEP     p = p + u, u = t * d           slots 0 p (rw), 1 d    s[0] t
 *              out[1] = max |u|               (torch: p.add_(d, alpha=t); d.mul(t).abs().max())
 *   1 SAVE     x = p                          slots 0 p, 2 x (w)
 *   2 RESTORE  p = x                          slots 0 p (w), 2 x
 *   3 GATHER   f = g                          slots 0 f (w), 1 g, 2 d
 *              out[0] = sum |g|, out[1] = max |g|; VAR: out[2] = sum g*d
 * Ops over flat vectors (slots 0 a, 1 b, 2 c, 3 e, 4 h; all the same length):
 *   4 DOT      out[0] = sum a*b  (VAR: sum a*c)
 *   5 AXPY     a = a + s[0]*b   (VAR: a + s[0]*c)   torch's a.add_(b, alpha=s[0])
 *   6 NEG      a = -b;  VAR: also c = b            (d = -g, prev_g = g)
 *   7 HIST     a = c - e; b = h * s[0]; e = c;     (y = g - prev_g, s = d*t, prev_g = g)
 *              out[0] = sum a*b, out[1] = sum a*a (y.s, y.y)
 *   8 SCALE    a = a * s[0]                        (r = q * H_diag)
 *   9 NORMS    out[0] = sum |a|, out[1] = max |a|
 * Bytes per element moved: STEP 3·sizeof(T), SAVE/RESTORE 2, GATHER 2 (3 with
 * VAR), DOT 2, AXPY 3, NEG 2 (3), HIST 7, SCALE 2, NORMS 1.
 * Max is taken on |x|'s bit pattern: exact, and NaN propagates as in torch.
 */
#define FO_LB_LANES 8

/* |x| as its bit pattern (sign cleared): for non-negative values the integer
 * order is the float order, and NaN patterns sort above +inf, so an integer
 * max vectorises (no -ffinite-math-only needed) and propagates NaN like torch's
 * max. */
typedef __typeof__(_Generic((T)0, float: (uint32_t)0, default: (uint64_t)0)) FO_FN(lb_bits);
#define FO_LB_U FO_FN(lb_bits)

FO_INLINE FO_LB_U FO_FN(lb_absbits)(const T x)
{
    FO_LB_U u;
    __builtin_memcpy(&u, &x, sizeof u);
    return u & (((FO_LB_U)-1) >> 1);
}

FO_INLINE T FO_FN(lb_frombits)(const FO_LB_U u)
{
    T x;
    __builtin_memcpy(&x, &u, sizeof x);
    return x;
}

FO_INLINE double FO_FN(lb_sum_lanes)(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

FO_INLINE double FO_FN(lb_max_lanes)(const FO_LB_U *a)
{
    FO_LB_U m = a[0];
    for (int j = 1; j < FO_LB_LANES; j++) m = a[j] > m ? a[j] : m;
    return (double)FO_FN(lb_frombits)(m);
}

FO_INLINE double FO_FN(lb_dot)(const T *FO_RESTRICT x, const T *FO_RESTRICT y, const int64_t n)
{
    double acc[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + FO_LB_LANES <= n; i += FO_LB_LANES)
        for (int j = 0; j < FO_LB_LANES; j++) acc[j] += (double)x[i + j] * (double)y[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += (double)x[i] * (double)y[i];
    return FO_FN(lb_sum_lanes)(acc);
}

FO_INLINE void FO_FN(lb_step)(T *FO_RESTRICT p, const T *FO_RESTRICT d, const T t, const int64_t n, double *out)
{
    FO_LB_U mx[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + FO_LB_LANES <= n; i += FO_LB_LANES) {
        for (int j = 0; j < FO_LB_LANES; j++) {
            const T u = t * d[i + j];
            p[i + j] = p[i + j] + u;
            const FO_LB_U a = FO_FN(lb_absbits)(u);
            mx[j] = a > mx[j] ? a : mx[j];
        }
    }
    for (int j = 0; i < n; i++, j++) {
        const T u = t * d[i];
        p[i] = p[i] + u;
        const FO_LB_U a = FO_FN(lb_absbits)(u);
        mx[j] = a > mx[j] ? a : mx[j];
    }
    out[1] = FO_FN(lb_max_lanes)(mx);
}

FO_INLINE void FO_FN(lb_gather)(T *FO_RESTRICT f, const T *FO_RESTRICT g, const T *FO_RESTRICT d, const int64_t n,
                                const int dot, double *out)
{
    double s[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    double gd[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    FO_LB_U mx[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + FO_LB_LANES <= n; i += FO_LB_LANES) {
        for (int j = 0; j < FO_LB_LANES; j++) {
            const T gi = g[i + j];
            const FO_LB_U a = FO_FN(lb_absbits)(gi);
            f[i + j] = gi;
            s[j] += (double)FO_FN(lb_frombits)(a);
            mx[j] = a > mx[j] ? a : mx[j];
            if (dot) gd[j] += (double)gi * (double)d[i + j];
        }
    }
    for (int j = 0; i < n; i++, j++) {
        const T gi = g[i];
        const FO_LB_U a = FO_FN(lb_absbits)(gi);
        f[i] = gi;
        s[j] += (double)FO_FN(lb_frombits)(a);
        mx[j] = a > mx[j] ? a : mx[j];
        if (dot) gd[j] += (double)gi * (double)d[i];
    }
    out[0] = FO_FN(lb_sum_lanes)(s);
    out[1] = FO_FN(lb_max_lanes)(mx);
    out[2] = dot ? FO_FN(lb_sum_lanes)(gd) : 0.0;
}

FO_INLINE void FO_FN(lb_hist)(T *FO_RESTRICT y, T *FO_RESTRICT s, const T *FO_RESTRICT g, T *FO_RESTRICT pg,
                              const T *FO_RESTRICT d, const T t, const int64_t n, double *out)
{
    double ys[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    double yy[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + FO_LB_LANES <= n; i += FO_LB_LANES) {
        for (int j = 0; j < FO_LB_LANES; j++) {
            const T yi = g[i + j] - pg[i + j];
            const T si = d[i + j] * t;
            y[i + j] = yi;
            s[i + j] = si;
            pg[i + j] = g[i + j];
            ys[j] += (double)yi * (double)si;
            yy[j] += (double)yi * (double)yi;
        }
    }
    for (int j = 0; i < n; i++, j++) {
        const T yi = g[i] - pg[i];
        const T si = d[i] * t;
        y[i] = yi;
        s[i] = si;
        pg[i] = g[i];
        ys[j] += (double)yi * (double)si;
        yy[j] += (double)yi * (double)yi;
    }
    out[0] = FO_FN(lb_sum_lanes)(ys);
    out[1] = FO_FN(lb_sum_lanes)(yy);
}

FO_INLINE void FO_FN(lb_norms)(const T *FO_RESTRICT x, const int64_t n, double *out)
{
    double s[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    FO_LB_U mx[FO_LB_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + FO_LB_LANES <= n; i += FO_LB_LANES) {
        for (int j = 0; j < FO_LB_LANES; j++) {
            const FO_LB_U a = FO_FN(lb_absbits)(x[i + j]);
            s[j] += (double)FO_FN(lb_frombits)(a);
            mx[j] = a > mx[j] ? a : mx[j];
        }
    }
    for (int j = 0; i < n; i++, j++) {
        const FO_LB_U a = FO_FN(lb_absbits)(x[i]);
        s[j] += (double)FO_FN(lb_frombits)(a);
        mx[j] = a > mx[j] ? a : mx[j];
    }
    out[0] = FO_FN(lb_sum_lanes)(s);
    out[1] = FO_FN(lb_max_lanes)(mx);
}

void FO_FN(fo_k_lbfgs)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    const int64_t n = sp->n;
    const int var = (int)((h->flags >> 4) & 1);
    T *FO_RESTRICT a = (T *)ptr[0];
    T *FO_RESTRICT b = (T *)ptr[1];
    T *FO_RESTRICT c = (T *)ptr[2];
    const T s0 = (T)h->s[0];
    switch (h->flags & 15) {
    case 0: FO_FN(lb_step)(a, b, s0, n, out); break;
    case 1: for (int64_t i = 0; i < n; i++) c[i] = a[i]; break;
    case 2: for (int64_t i = 0; i < n; i++) a[i] = c[i]; break;
    case 3:
        if (var) FO_FN(lb_gather)(a, b, c, n, 1, out);
        else FO_FN(lb_gather)(a, b, c, n, 0, out);
        break;
    case 4: out[0] = FO_FN(lb_dot)(a, var ? c : b, n); break;
    case 5:
        if (var) for (int64_t i = 0; i < n; i++) a[i] = a[i] + s0 * c[i];
        else for (int64_t i = 0; i < n; i++) a[i] = a[i] + s0 * b[i];
        break;
    case 6:
        if (var) for (int64_t i = 0; i < n; i++) { a[i] = -b[i]; c[i] = b[i]; }
        else for (int64_t i = 0; i < n; i++) a[i] = -b[i];
        break;
    case 7: FO_FN(lb_hist)(a, b, c, (T *)ptr[3], (const T *)ptr[4], s0, n, out); break;
    case 8: for (int64_t i = 0; i < n; i++) a[i] = a[i] * s0; break;
    case 9: FO_FN(lb_norms)(a, n, out); break;
    default: break;
    }
}
#undef FO_LB_U
#undef FO_LB_LANES
