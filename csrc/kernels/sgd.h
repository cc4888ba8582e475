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
 * Fused form fo_f_sgd: the same loop with the training tools inside (kernels/fused.h).
 */
FO_INLINE void FO_FN(sgd_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int mom,
                               const int first, const int nesterov, const int l2, const FO_FN(fo_tools) *tc,
                               const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT b = (T *)ptr[2];
    const T sign = (T)h->s[0], wd = (T)h->s[1], mu = (T)h->s[2], omd = (T)h->s[3], neg_lr = (T)h->s[4];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        /* Both values, then a select (kernels/fused.h): the fused form tests
         * first, nesterov and l2 at runtime. */
        const T d0 = sign * gi;
        const T dl = d0 + wd * pi;
        T d = FO_FN(sel)(l2, dl, d0);
        if (mom) {
            const T bm = mu * b[i] + omd * d;
            const T bi = FO_FN(sel)(first, d, bm);
            b[i] = bi;
            const T dn = d + mu * bi;
            d = FO_FN(sel)(nesterov, dn, bi);
        }
        pn = pi + neg_lr * d;
    });
}

/* Flag words the binding can pass (first/nesterov without momentum are rejected). */
#define FO_SGD_SWITCH(CALL)                  \
    switch (h->flags & 15) {                 \
    case 0: CALL(0); break;                  \
    case 1: CALL(1); break;                  \
    case 3: CALL(3); break;                  \
    case 5: CALL(5); break;                  \
    case 7: CALL(7); break;                  \
    case 8: CALL(8); break;                  \
    case 9: CALL(9); break;                  \
    case 11: CALL(11); break;                \
    case 13: CALL(13); break;                \
    case 15: CALL(15); break;                \
    default: break;                          \
    }

void FO_FN(fo_k_sgd)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
#define FO_SGD_PLAIN(f) \
    FO_FN(sgd_loop)(h, ptr, n, (f) & 1, ((f) >> 1) & 1, ((f) >> 2) & 1, ((f) >> 3) & 1, NULL, 0)
    FO_SGD_SWITCH(FO_SGD_PLAIN)
#undef FO_SGD_PLAIN
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside.
 * Plain SGD (flags 0) and momentum SGD after its first step (flags 1) have
 * their own loops; the other flag words share one loop per momentum setting
 * that tests the flags at runtime as selects (same bits). */
int FO_FN(fo_f_sgd)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                     double *stats)
{
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    const int64_t n = sp->n;
    const int f = (int)(h->flags & 15);
    if (f == 0)
        FO_TOOLS_SWITCH(tm, FO_FN(sgd_loop)(h, ptr, n, 0, 0, 0, 0, &tc, TMC))
    else if (f == 1)
        FO_TOOLS_SWITCH(tm, FO_FN(sgd_loop)(h, ptr, n, 1, 0, 0, 0, &tc, TMC))
    else if (f & 1)
        FO_TOOLS_SWITCH(tm, FO_FN(sgd_loop)(h, ptr, n, 1, (f >> 1) & 1, (f >> 2) & 1, (f >> 3) & 1, &tc, TMC))
    else
        FO_TOOLS_SWITCH(tm, FO_FN(sgd_loop)(h, ptr, n, 0, 0, 0, (f >> 3) & 1, &tc, TMC))
    return 0;
}
#undef FO_SGD_SWITCH
