/*
 * kernels/sgd.h -- SGD with momentum, dampening, Nesterov, L2 weight decay,
 * maximize (torch.optim.SGD semantics, same operation order).
 *
 *   g'  = sign * g                       sign = -1 when maximize
 *   g'  = g' + wd * p                    if L2
 *   b   = g'                             first step with momentum (buffer = copy)
 *   b   = momentum * b + (1 - dampening) * g'   later steps
 *   d   = g' + momentum * b  (nesterov)  or  d = b  (momentum)  or  d = g' (none)
 *   p   = p + (-lr) * d
 *
 * Slots:   0 p (rw), 1 g (r), 2 momentum buffer (rw; NULL without momentum)
 * Scalars: s[0] sign, s[1] wd, s[2] momentum, s[3] 1 - dampening, s[4] -lr
 * Flags:   bit0 momentum, bit1 first step (buffer := g'), bit2 nesterov, bit3 L2
 * Bytes per element moved: 3·sizeof(T) without momentum, 5·sizeof(T) with.
 */
FO_INLINE void FO_FN(sgd_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int mom,
                               const int first, const int nesterov, const int l2)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT b = (T *)ptr[2];
    const T sign = (T)h->s[0], wd = (T)h->s[1], mu = (T)h->s[2], omd = (T)h->s[3], neg_lr = (T)h->s[4];
    for (int64_t i = 0; i < n; i++) {
        T d = sign * g[i];
        if (l2) d = d + wd * p[i];
        if (mom) {
            T bi = first ? d : mu * b[i] + omd * d;
            b[i] = bi;
            d = nesterov ? d + mu * bi : bi;
        }
        p[i] = p[i] + neg_lr * d;
    }
}

void FO_FN(fo_k_sgd)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
#define FO_SGD_CASE(f) \
    case f: FO_FN(sgd_loop)(h, ptr, n, (f) & 1, ((f) >> 1) & 1, ((f) >> 2) & 1, ((f) >> 3) & 1); break;
    switch (h->flags & 15) {
        FO_SGD_CASE(0) FO_SGD_CASE(1) FO_SGD_CASE(3) FO_SGD_CASE(5) FO_SGD_CASE(7)
        FO_SGD_CASE(8) FO_SGD_CASE(9) FO_SGD_CASE(11) FO_SGD_CASE(13) FO_SGD_CASE(15)
        default: break; /* first/nesterov without momentum: rejected by the binding */
    }
#undef FO_SGD_CASE
}
