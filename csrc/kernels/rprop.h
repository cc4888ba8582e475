/*
 * kernels/rprop.h -- Rprop (Riedmiller & Braun 1993), torch.optim.Rprop
 * semantics and op order (_single_tensor_rprop, the "Rprop-" variant with
 * the gradient zeroed after a sign flip).
 *
 *   g   = sign * g                       sign = -1 when maximize
 *   q   = g * prev                       (in T: an underflow to 0 counts as 0)
 *   f   = etaplus  if q > 0
 *         etaminus if q < 0
 *         1        otherwise (q == 0)    (NaN q keeps NaN, as torch)
 *   ss  = min(max(ss * f, ss_min), ss_max)
 *   g   = 0 where f == etaminus          the sign flipped: no move this step
 *   p   = p - sign(g) * ss               sign(0) = 0
 *   prev = g
 *
 * Slots:   0 p (rw), 1 g (r), 2 prev (rw), 3 step_size (rw)
 * Scalars: s[0] sign, s[1] etaminus, s[2] etaplus, s[3] step_size_min, s[4] step_size_max
 * Flags:   none
 * Bytes per element moved: 7·sizeof(T) (read p g prev ss, write p prev ss): 28 in float32.
 * Fused form fo_f_rprop: the same loop with the training tools inside (kernels/fused.h).
 */
FO_INLINE void FO_FN(rprop_loop)(const fo_hyper *h, char *const *ptr, const int64_t n, const FO_FN(fo_tools) *tc,
                                 const int tm)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT prev = (T *)ptr[2];
    T *FO_RESTRICT ss = (T *)ptr[3];
    const T sign = (T)h->s[0], etam = (T)h->s[1], etap = (T)h->s[2];
    const T lo = (T)h->s[3], hi = (T)h->s[4];
    FO_ELEM_LOOP(tm, n, p, g, tc, {
        T gm = sign * gi;
        const T q = gm * prev[i];
        /* Plain selects (no nested control flow) so the loop if-converts. */
        T f = (T)1;
        f = q > (T)0 ? etap : f;
        f = q < (T)0 ? etam : f;
        f = q != q ? q : f; /* NaN stays NaN, as torch's sign() */
        T si = ss[i] * f;
        si = si < lo ? lo : si;
        si = si > hi ? hi : si;
        ss[i] = si;
        gm = f == etam ? (T)0 : gm;
        T sg = gm > (T)0 ? (T)1 : (T)0;
        sg = gm < (T)0 ? (T)-1 : sg;
        sg = gm != gm ? gm : sg;
        pn = pi - sg * si;
        prev[i] = gm;
    });
}

void FO_FN(fo_k_rprop)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
    FO_FN(rprop_loop)(h, ptr, sp->n, NULL, 0);
}

/* Fused form (csrc/fused.def): the same loop with the pipe's tools inside
 * (Rprop has no flag words). */
int FO_FN(fo_f_rprop)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const fo_pipe *pipe, char *avg,
                       double *stats)
{
    FO_FN(fo_tools) tc;
    const int tm = FO_FN(tools_init)(&tc, pipe, sp, ptr, avg, stats);
    FO_TOOLS_SWITCH(tm, FO_FN(rprop_loop)(h, ptr, sp->n, &tc, TMC))
    return 0;
}
