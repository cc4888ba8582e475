/*
 * kernels/adadelta.h -- Adadelta (Zeiler 2012) with a learning rate, L2
 * weight decay and maximize; torch.optim.Adadelta semantics and op order.
 *
 *   g  = sign * g                          sign = -1 when maximize
 *   g  = g + wd * p                        if L2
 *   v  = v * rho + ((1 - rho) * g) * g     square_avg
 *   d  = sqrt(u + eps) / sqrt(v + eps)     u = acc_delta (before this step)
 *   d  = d * g
 *   u  = u * rho + ((1 - rho) * d) * d
 *   p  = p + neg_lr * d                    torch's add_(d, alpha=-lr)
 *
 * Slots:   0 p (rw), 1 g (r), 2 v = square_avg (rw), 3 u = acc_delta (rw)
 * Scalars: s[0] sign, s[1] wd, s[2] rho, s[3] 1 - rho, s[4] eps, s[5] neg_lr = -lr
 * Flags:   bit0 L2
 * Bytes per element moved: 7·sizeof(T) (read p g v u, write p v u).
 * Fused form fo_f_adadelta: the same loop with the training tools inside, flags 0
 * (kernels/fused.h).
 */
FO_INLINE void FO_FN(adadelta_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2,
                                    const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT v = (T *)ptr[2];
    T *FO_RESTRICT u = (T *)ptr[3];
    const T sign = (T)h->s[0], wd = (T)h->s[1], rho = (T)h->s[2], omr = (T)h->s[3], eps = (T)h->s[4];
    const T neg_lr = (T)h->s[5];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        if (l2) gs = gs + wd * pi;
        const T vi = v[i] * rho + (omr * gs) * gs;
        v[i] = vi;
        const T std = FO_T_SQRT(vi + eps);
        T d = FO_T_SQRT(u[i] + eps) / std;
        d = d * gs;
        u[i] = u[i] * rho + (omr * d) * d;
        pn = pi + neg_lr * d;
    });
}

void FO_FN(fo_k_adadelta)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    if (h->flags & 1)
        FO_FN(adadelta_loop)(h, ptr, sp->n, 1, NULL, 0);
    else
        FO_FN(adadelta_loop)(h, ptr, sp->n, 0, NULL, 0);
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for flags 0 (the default, no L2); with L2 it returns 1 and the driver
 * stages the span. */
int FO_FN(fo_f_adadelta)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                          double *stats)
{
    if (h->flags & 1) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(adadelta_loop)(h, ptr, sp->n, 0, &tc, TMC))
    return 0;
}
