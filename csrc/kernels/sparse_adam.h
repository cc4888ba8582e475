/*
 * kernels/sparse_adam.h -- SparseAdam: Adam restricted to the rows present in
 * a row-sparse gradient (torch.optim.SparseAdam semantics and op order). Rows
 * absent from the gradient are not read, not written, and their moments do
 * not decay.
 *
 * For every element of a present row (indices unique: the caller coalesces):
 *   g   = sign * g                        sign = -1 when maximize
 *   um  = (g - m) * (1 - beta1)           m' = m + um
 *   uv  = (g * g - v) * (1 - beta2)       v' = v + uv
 *   p   = p + neg_step * (m' / (sqrt(v') + eps))
 * with neg_step = -lr * sqrt(1 - beta2^t) / (1 - beta1^t) computed in double per
 * param (its own step count t) by the Python class. torch writes m' as
 * um + m and v' as uv + v: the same values (addition commutes exactly).
 *
 * The plan's tensors are the per-step gradient values, one (k, D) array per
 * param (k present rows of D elements); spans cut them in element ranges.
 * Slots:   0 values (r), 1 p (rw), 2 m (rw), 3 v (rw). Slots 1..3 are the
 *          first k rows of the param and its moments, as (k, D) views: the
 *          kernel only uses their base pointers (ptr[k] - span offset) and
 *          reaches row `rows[r]` as base + rows[r] * D.
 * per_tensor: raw 8-byte words. Tensor t owns words [3t, 3t+3): the word offset
 *          of its int64 row ids, its row width D (int64), neg_step (double).
 *          Row ids follow the header. Ids are unique and in range (checked in
 *          Python); rows may be in any order.
 * Scalars: s[0] sign, s[1] 1 - beta1, s[2] 1 - beta2, s[3] eps
 * Flags:   none.
 * Bytes per present element moved: 7·sizeof(T) (read g p m v, write p m v),
 * plus 8 bytes per present row for its id.
 */
typedef int64_t FO_FN(sa_word) __attribute__((may_alias));
#define FO_SA_AHEAD 2048  /* bytes of each stream prefetched ahead (rows of at least this: the next row) */
#define FO_SA_PF_BYTES 512 /* bytes of a row prefetched (whole rows up to this) */

FO_INLINE void FO_FN(sparse_adam_row)(const T *FO_RESTRICT g, T *FO_RESTRICT p, T *FO_RESTRICT m,
                                      T *FO_RESTRICT v, const int64_t n, const T sign, const T omb1,
                                      const T omb2, const T eps, const T neg_step)
{
    for (int64_t i = 0; i < n; i++) {
        const T gi = sign * g[i];
        const T mo = m[i], vo = v[i];
        const T mn = mo + (gi - mo) * omb1;
        const T vn = vo + (gi * gi - vo) * omb2;
        m[i] = mn;
        v[i] = vn;
        p[i] = p[i] + neg_step * (mn / (FO_T_SQRT(vn) + eps));
    }
}

void FO_FN(fo_k_sparse_adam)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const FO_FN(sa_word) *tab = (const FO_FN(sa_word) *)h->per_tensor;
    const int64_t t = sp->tensor;
    const int64_t *rows = (const int64_t *)(tab + tab[3 * t]);
    const int64_t D = tab[3 * t + 1];
    const T neg_step = (T)h->per_tensor[3 * t + 2];
    const T sign = (T)h->s[0], omb1 = (T)h->s[1], omb2 = (T)h->s[2], eps = (T)h->s[3];
    const T *g = (const T *)ptr[0];
    /* ptr[1..3] point at element `offset` of the (k, D) views; step back to the row-0 bases. */
    T *pb = (T *)ptr[1] - sp->offset;
    T *mb = (T *)ptr[2] - sp->offset;
    T *vb = (T *)ptr[3] - sp->offset;
    int64_t e = sp->offset;
    const int64_t end = sp->offset + sp->n;
    /* The present rows are scattered: the hardware prefetchers cannot follow the
     * jumps from one row to the next, and each row of p, m, v would start with a
     * full miss. So the first FO_SA_PF_BYTES of each of the three are requested
     * for the row `ahead` rows on (about FO_SA_AHEAD bytes of each stream ahead),
     * within this span's rows; longer rows are streams the hardware follows. */
    const int64_t rb = D * (int64_t)sizeof(T);
    const int64_t ahead = rb >= FO_SA_AHEAD ? 1 : FO_SA_AHEAD / rb;
    const int64_t pfb = rb < FO_SA_PF_BYTES ? rb : FO_SA_PF_BYTES;
    const int64_t last_row = (end - 1) / D;
    while (e < end) {
        const int64_t r = e / D, c = e - r * D;
        const int64_t len = (D - c) < (end - e) ? (D - c) : (end - e);
        const int64_t at = rows[r] * D + c;
        if (r + ahead <= last_row) {
            const int64_t pa = rows[r + ahead] * rb;
            for (int64_t o = 0; o < pfb; o += 64) {
                __builtin_prefetch((const char *)pb + pa + o, 1, 3);
                __builtin_prefetch((const char *)mb + pa + o, 1, 3);
                __builtin_prefetch((const char *)vb + pa + o, 1, 3);
            }
        }
        FO_FN(sparse_adam_row)(g + (e - sp->offset), pb + at, mb + at, vb + at, len, sign, omb1, omb2, eps,
                               neg_step);
        e += len;
    }
}
