/*
 * kernels/noisy_sgd.h -- SGD (torch.optim.SGD options) with annealed Gaussian
 * gradient noise (Neelakantan et al. 2015, "Adding Gradient Noise Improves
 * Learning for Very Deep Networks").
 *
 *   d   = sign * g                       sign = -1 when maximize
 *   d   = d + wd * p                     if L2
 *   d   = d + (T)(sigma * z)             z ~ N(0, 1), sigma^2 = eta / (1 + t)^gamma (t = step - 1)
 *   b   = d  (first step)  or  momentum * b + (1 - dampening) * d
 *   d   = d + momentum * b (nesterov) or b (momentum) or d (none)
 *   p   = p + (-lr) * d
 *
 * The noise is a pure function of (seed, step, tensor key, element index):
 * reproducible, and independent of thread count, ISA and chunking.
 *   k   = mix(mix(mix(seed + G) ^ step * C1) ^ key * C2)     once per span
 *   x   = mix(k + (index + 1) * G)                           per element, 64-bit
 *   u1  = 2 - [1.(hi 32 bits of x)]  in (0, 1]               exact bit constructions
 *   u2  = [1.(lo 32 bits of x)] - 1  in [0, 1)
 *   z   = sqrt(-2 ln u1) * cos(2 pi u2)                      Box-Muller, cosine branch
 * mix is the splitmix64 finaliser; G, C1, C2 odd 64-bit constants. ln and cos
 * are evaluated in double with fixed polynomials (atanh series for ln on
 * [sqrt(1/2), sqrt(2)), Taylor series for cos on [0, pi/2]; both < 1e-12
 * absolute error) built only from +, -, *, / and sqrt, so every ISA path and
 * the NumPy reference (fastopt/reference/noisy_sgd.py) produce the same bits.
 * The key is the flat param index, read from per_tensor[t] (the class passes
 * it); without a per-tensor table it is the tensor's index in the plan.
 *
 * Slots:   0 p (rw), 1 g (r), 2 momentum buffer (rw; NULL without momentum)
 * Scalars: s[0] sign, s[1] wd, s[2] momentum, s[3] 1 - dampening, s[4] -lr, s[5] sigma,
 *          s[6] seed high 32 bits, s[7] seed low 32 bits, s[8] step
 * Flags:   bit0 momentum, bit1 first step (buffer := d), bit2 nesterov, bit3 L2
 * Bytes per element moved: 3·sizeof(T) without momentum, 5·sizeof(T) with (12 / 20 in
 * float32); the noise costs about 60 arithmetic operations per element, so this
 * rule is compute-bound, not memory-bound.
 */
#ifndef FO_NOISE_HELPERS
#define FO_NOISE_HELPERS
#define FO_NOISE_G 0x9E3779B97F4A7C15ull
#define FO_NOISE_C1 0xD1B54A32D192ED03ull
#define FO_NOISE_C2 0xABC98388FB8FAC03ull
#define FO_NOISE_MIX(z)                      \
    do {                                     \
        (z) ^= (z) >> 30;                    \
        (z) *= 0xBF58476D1CE4E5B9ull;        \
        (z) ^= (z) >> 27;                    \
        (z) *= 0x94D049BB133111EBull;        \
        (z) ^= (z) >> 31;                    \
    } while (0)
#endif

/* Bit casts (memcpy: well defined, and vectorisable). */
FO_INLINE double FO_FN(noise_as_double)(const uint64_t u)
{
    double d;
    __builtin_memcpy(&d, &u, sizeof d);
    return d;
}

FO_INLINE uint64_t FO_FN(noise_as_bits)(const double d)
{
    uint64_t u;
    __builtin_memcpy(&u, &d, sizeof u);
    return u;
}

/* One standard normal from 64 random bits (the same bits in every ISA copy).
 * Branch-free, so the loop around it vectorises. */
FO_INLINE double FO_FN(noise_normal)(const uint64_t x)
{
    const double u1 = 2.0 - FO_FN(noise_as_double)(0x3FF0000000000000ull | ((x >> 32) << 20));        /* (0, 1] */
    const double u2 = FO_FN(noise_as_double)(0x3FF0000000000000ull | ((x & 0xFFFFFFFFull) << 20)) - 1.0; /* [0, 1) */
    /* ln(u1) = e ln2 + ln(m), m in [sqrt(1/2), sqrt(2)). The range folds are
     * integer operations on the bits (no arithmetic under a condition, which
     * gcc could not if-convert under -ftrapping-math, so no vectorisation). */
    const uint64_t ub = FO_FN(noise_as_bits)(u1);
    const uint64_t mbits = (ub & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull; /* [1, 2) */
    const uint64_t big = (uint64_t)(FO_FN(noise_as_double)(mbits) > 1.4142135623730951);
    const double m = FO_FN(noise_as_double)(mbits - (big << 52));                  /* halved when big */
    const double e = FO_FN(noise_as_double)(0x4330000000000000ull | ((ub >> 52) + big))
                     - 4503599627371519.0;                                       /* exponent (+1), exactly */
    const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double q = 0.058823529411764705;
    q = q * s2 + 0.06666666666666667;
    q = q * s2 + 0.07692307692307693;
    q = q * s2 + 0.09090909090909091;
    q = q * s2 + 0.1111111111111111;
    q = q * s2 + 0.14285714285714285;
    q = q * s2 + 0.2;
    q = q * s2 + 0.3333333333333333;
    q = q * s2 + 1.0;
    const double ln_u1 = e * 0.6931471805599453 + (2.0 * s) * q;
    const double r = FO_SQRT(-2.0 * ln_u1);
    /* cos(2 pi u2) = -cos(2 pi a), a = |u2 - 1/2| in [0, 1/2]; fold a onto [0, 1/4] */
    const double a0 = u2 - 0.5;
    const double a1 = __builtin_fabs(a0);
    const uint64_t flip = (uint64_t)(a1 > 0.25);
    /* a = 0.5 - a1 when flip, else a1 (exact either way) */
    const double a = FO_FN(noise_as_double)((0 - flip) & 0x3FE0000000000000ull)
                     + FO_FN(noise_as_double)(FO_FN(noise_as_bits)(a1) ^ (flip << 63));
    const double th = a * 6.283185307179586, t = th * th;
    double c = 4.779477332387385e-14;
    c = c * t + -1.1470745597729725e-11;
    c = c * t + 2.08767569878681e-09;
    c = c * t + -2.755731922398589e-07;
    c = c * t + 2.48015873015873e-05;
    c = c * t + -0.001388888888888889;
    c = c * t + 0.041666666666666664;
    c = c * t + -0.5;
    c = c * t + 1.0;
    c = FO_FN(noise_as_double)(FO_FN(noise_as_bits)(c) ^ ((flip ^ 1) << 63)); /* -c unless flip */
    return r * c;
}

FO_INLINE void FO_FN(noisy_sgd_loop)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const int mom,
                                     const int first, const int nesterov, const int l2)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT b = (T *)ptr[2];
    const int64_t n = sp->n;
    const T sign = (T)h->s[0], wd = (T)h->s[1], mu = (T)h->s[2], omd = (T)h->s[3], neg_lr = (T)h->s[4];
    const double sigma = h->s[5];
    const uint64_t seed = ((uint64_t)h->s[6] << 32) | (uint64_t)h->s[7];
    const uint64_t step = (uint64_t)h->s[8];
    const uint64_t key = h->per_tensor ? (uint64_t)h->per_tensor[sp->tensor * h->per_tensor_width]
                                       : (uint64_t)sp->tensor;
    uint64_t k = seed + FO_NOISE_G;
    FO_NOISE_MIX(k);
    k ^= step * FO_NOISE_C1;
    FO_NOISE_MIX(k);
    k ^= key * FO_NOISE_C2;
    FO_NOISE_MIX(k);
    const uint64_t base = k + ((uint64_t)sp->offset + 1) * FO_NOISE_G;
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = base + (uint64_t)i * FO_NOISE_G;
        FO_NOISE_MIX(x);
        const T noise = (T)(sigma * FO_FN(noise_normal)(x));
        T d = sign * g[i];
        if (l2) d = d + wd * p[i];
        d = d + noise;
        if (mom) {
            const T bi = first ? d : mu * b[i] + omd * d;
            b[i] = bi;
            d = nesterov ? d + mu * bi : bi;
        }
        p[i] = p[i] + neg_lr * d;
    }
}

void FO_FN(fo_k_noisy_sgd)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
{
    (void)out;
#define FO_NSGD_CASE(f) \
    case f: FO_FN(noisy_sgd_loop)(h, ptr, sp, (f) & 1, ((f) >> 1) & 1, ((f) >> 2) & 1, ((f) >> 3) & 1); break;
    switch (h->flags & 15) {
        FO_NSGD_CASE(0) FO_NSGD_CASE(1) FO_NSGD_CASE(3) FO_NSGD_CASE(5) FO_NSGD_CASE(7)
        FO_NSGD_CASE(8) FO_NSGD_CASE(9) FO_NSGD_CASE(11) FO_NSGD_CASE(13) FO_NSGD_CASE(15)
        default: break; /* first/nesterov without momentum: never requested */
    }
#undef FO_NSGD_CASE
}
