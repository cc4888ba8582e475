/*
 * kernels/lookahead.h -- Lookahead's synchronisation (Zhang et al. 2019),
 * run every k steps of the base optimizer by fastopt.Lookahead:
 *
 *   slow = slow + alpha * (fast - slow)
 *   fast = slow
 *
 * Slots:   0 fast = the param (rw), 1 slow weights (rw)
 * Scalars: s[0] alpha
 * Flags:   none
 * Bytes per element moved: 4·sizeof(T) per synchronisation (read fast, slow;
 *   write slow, fast), i.e. 16/k B per step in float32.
 */
void FO_FN(fo_k_lookahead)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    T *FO_RESTRICT p = (T *)ptr[0];
    T *FO_RESTRICT s = (T *)ptr[1];
    const T alpha = (T)h->s[0];
    const int64_t n = sp->n;
    for (int64_t i = 0; i < n; i++) {
        const T si = s[i] + alpha * (p[i] - s[i]);
        s[i] = si;
        p[i] = si;
    }
}
