/*
 * kernels/rmsprop.h -- RMSprop (Hinton, Coursera lecture 6e, 2012), with the
 * centered variant (Graves 2013), momentum, L2 weight decay and maximize;
 * torch.optim.RMSprop semantics and op order.
 *
 *   g   = sign * g                            sign = -1 when maximize
 *   g   = g + wd * p                          if L2
 *   v   = v * alpha + ((1 - alpha) * g) * g   torch's mul_(alpha).addcmul_(g, g, 1 - alpha)
 *   ga  = ga + w * (g - ga)       (w < 0.5)   centered: torch's lerp(ga, g, w), w = 1 - alpha
 *   ga  = g - (g - ga) * (1 - w)  (w >= 0.5)
 *   avg = sqrt(v - ga * ga) + eps             centered (torch's addcmul(ga, ga, value=-1))
 *   avg = sqrt(v) + eps                       otherwise
 *   b   = b * momentum + g / avg              if momentum > 0
 *   p   = p + neg_lr * b                      if momentum > 0
 *   p   = p + (neg_lr * g) / avg              otherwise
 *
 * Slots:   0 p (rw), 1 g (r), 2 v = square_avg (rw), 3 b = momentum_buffer (rw;
 *          NULL unless momentum > 0), 4 ga = grad_avg (rw; NULL unless centered)
 * Scalars: s[0] sign, s[1] wd, s[2] alpha, s[3] 1 - alpha (also w), s[4] eps,
 *          s[5] momentum, s[6] neg_lr = -lr
 * Flags:   bit0 L2, bit1 centered, bit2 momentum, bit3 w >= 0.5 (only with centered)
 * Bytes per element moved: 5·sizeof(T) (read p g v, write p v); +2·sizeof(T)
 * with momentum, +2·sizeof(T) centered: 9·sizeof(T) with both.
 * Fused form fo_f_rmsprop: the same loop with the training tools inside, flags 0
 * and 4 (kernels/fused.h).
 */
FO_INLINE void FO_FN(rmsprop_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int l2,
                                   const int centered, const int mom, const int lerp_hi, const FO_FN(fo_tools) *tc,
                                   const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT v = (T *)ptr[2];
    T *FO_RESTRICT b = (T *)ptr[3];
    T *FO_RESTRICT ga = (T *)ptr[4];
    const T sign = (T)h->s[0], wd = (T)h->s[1], alpha = (T)h->s[2], w = (T)h->s[3], eps = (T)h->s[4];
    const T mu = (T)h->s[5], neg_lr = (T)h->s[6], omw = (T)1 - w;
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gs = sign * gi;
        if (l2) gs = gs + wd * pi;
        const T vi = v[i] * alpha + (w * gs) * gs;
        v[i] = vi;
        T avg;
        if (centered) {
            const T gai = lerp_hi ? gs - (gs - ga[i]) * omw : ga[i] + w * (gs - ga[i]);
            ga[i] = gai;
            avg = FO_T_SQRT(vi - gai * gai) + eps;
        } else {
            avg = FO_T_SQRT(vi) + eps;
        }
        if (mom) {
            const T bi = b[i] * mu + gs / avg;
            b[i] = bi;
            pn = pi + neg_lr * bi;
        } else {
            pn = pi + (neg_lr * gs) / avg;
        }
    });
}

void FO_FN(fo_k_rmsprop)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    const int64_t n = sp->n;
#define FO_RMSPROP_CASE(f) \
    case f: FO_FN(rmsprop_loop)(h, ptr, n, (f) & 1, ((f) >> 1) & 1, ((f) >> 2) & 1, ((f) >> 3) & 1, NULL, 0); break;
    switch (h->flags & 15) {
        FO_RMSPROP_CASE(0) FO_RMSPROP_CASE(1) FO_RMSPROP_CASE(2) FO_RMSPROP_CASE(3)
        FO_RMSPROP_CASE(4) FO_RMSPROP_CASE(5) FO_RMSPROP_CASE(6) FO_RMSPROP_CASE(7)
        FO_RMSPROP_CASE(10) FO_RMSPROP_CASE(11) FO_RMSPROP_CASE(14) FO_RMSPROP_CASE(15)
        default: break; /* bit3 without centered: never set by the Python class */
    }
#undef FO_RMSPROP_CASE
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for the default flag word (flags 0) and for plain momentum (flags 4, the
 * other common setting); every other flag word returns 1 and the driver
 * stages the span. */
int FO_FN(fo_f_rmsprop)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                         double *stats)
{
    const int64_t f = h->flags & 15;
    if (f != 0 && f != 4) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    if (f == 0)
        FO_TOOLS_SWITCH(tm, FO_FN(rmsprop_loop)(h, ptr, sp->n, 0, 0, 0, 0, &tc, TMC))
    else
        FO_TOOLS_SWITCH(tm, FO_FN(rmsprop_loop)(h, ptr, sp->n, 0, 0, 1, 0, &tc, TMC))
    return 0;
}
