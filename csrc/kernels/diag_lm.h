/*
 * kernels/diag_lm.h -- diagonal Levenberg-Marquardt (LeCun, Bottou, Orr &
 * Mueller, "Efficient BackProp", 1998, section 6/9): a Newton step with the
 * diagonal of the Hessian (or Gauss-Newton matrix), damped by mu.
 *
 *   g  = sign * g                        sign = -1 when maximize
 *   a  = h                               the caller's diagonal estimate, or with hessian_decay:
 *   a  = h                               first step (running average starts at h)
 *   a  = decay * a + (1 - decay) * h     later steps (a stored)
 *   p  = p + (neg_lr * g) / (a + mu)     neg_lr = -lr
 *
 * Slots:   0 p (rw), 1 g (r), 2 h (r, a per-step input like g), 3 hessian_avg (rw; NULL without decay)
 * Scalars: s[0] sign, s[1] decay, s[2] 1 - decay, s[3] mu, s[4] neg_lr
 * Flags:   bit0 running average, bit1 first step (average := h)
 * Bytes per element moved: 4·sizeof(T) (read p g h, write p): 16 in float32;
 *          6·sizeof(T) with the running average (read p g h a, write p a): 24.
 * Fused form fo_f_diag_lm: the same loop with the training tools inside, flags 0
 * (kernels/fused.h).
 */
FO_INLINE void FO_FN(diag_lm_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const int avg,
                                   const int first, const FO_FN(fo_tools) *tc, const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    const T *FO_RESTRICT hd = (const T *)ptr[2];
    T *FO_RESTRICT a = (T *)ptr[3];
    const T sign = (T)h->s[0], decay = (T)h->s[1], omd = (T)h->s[2], mu = (T)h->s[3], neg_lr = (T)h->s[4];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        const T gs = sign * gi;
        T ai = hd[i];
        if (avg) {
            if (!first) ai = decay * a[i] + omd * ai;
            a[i] = ai;
        }
        pn = pi + (neg_lr * gs) / (ai + mu);
    });
}

void FO_FN(fo_k_diag_lm)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    switch (h->flags & 3) {
        case 0: FO_FN(diag_lm_loop)(h, ptr, sp->n, 0, 0, NULL, 0); break;
        case 1: FO_FN(diag_lm_loop)(h, ptr, sp->n, 1, 0, NULL, 0); break;
        case 3: FO_FN(diag_lm_loop)(h, ptr, sp->n, 1, 1, NULL, 0); break;
        default: break; /* first step without averaging: never requested */
    }
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside,
 * for flags 0 (the default: the caller's diagonal as is). The tools see the
 * grads only (slot 1), as the staged pipe does; h is read as given. Every
 * other flag word returns 1 and the driver stages the span. */
int FO_FN(fo_f_diag_lm)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                         double *stats)
{
    if (h->flags & 3) return 1;
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(diag_lm_loop)(h, ptr, sp->n, 0, 0, &tc, TMC))
    return 0;
}
