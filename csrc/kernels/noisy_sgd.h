/*
 * kernels/noisy_sgd.h -- SGD (torch.optim.SGD options) with annealed Gaussian
 * gradient noise (Neelakantan et al. 2015, "Adding Gradient Noise Improves
 * Learning for Very Deep Networks").
 *
 *   d   = sign * g                       sign = -1 when maximize
 *   d   = d + wd * p                     if L2
 *   d   = d + (T)sigma * (T)z            z ~ N(0, 1), sigma^2 = eta / (1 + t)^gamma (t = step - 1)
 *   b   = d  (first step)  or  momentum * b + (1 - dampening) * d
 *   d   = d + momentum * b (nesterov) or b (momentum) or d (none)
 *   p   = p + (-lr) * d
 *
 * The noise is a pure function of (seed, step, tensor key, element index):
 * reproducible, and independent of thread count, ISA and chunking. Box-Muller
 * turns one pair of uniforms into two normals, so elements are paired: in each
 * block of 1024 elements of a tensor (element i: block i >> 10, position
 * w = i & 1023), positions w and w + 512 share pair q = (i >> 10) * 512 + (w & 511)
 * and take its cosine and sine deviate.
 *   k   = mix(mix(mix(seed + G) ^ step * C1) ^ key * C2)        once per span
 *   x   = mix(k + (q + 1) * G)                                 per pair, 64 bits
 *   u1  = ((x >> 40) + 1) * 2^-24                                in (0, 1], 24 bits, exact
 *   o   = lo >> 29, a = ((lo >> 5) mod 2^24) * 2^-24 in [0, 1)      lo = x mod 2^32
 *   phi = 2 pi (o + a) / 8                        uniform on [0, 2 pi), 27 bits
 *   z   = sqrt(-2 ln u1) * (cos phi | sin phi)    Box-Muller, both branches
 * mix is the splitmix64 finaliser; G, C1, C2 odd 64-bit constants. The
 * deviates are computed in float32 for both dtypes (float32 carries the 24
 * random bits of u1; z has a relative error below 1e-6) with fixed
 * polynomials built only from +, -, *, / and sqrt, so every ISA path and the
 * NumPy reference (fastopt/reference/noisy_sgd.py) produce the same bits:
 *   ln u1 = e ln2 + 2 s (1 + s^2/3 + s^4/5 + s^6/7 + s^8/9), s = (m - 1) / (m + 1),
 *           u1 = m 2^e with m in [sqrt(1/2), sqrt(2)] (integer operations on the bits),
 *           ln2 split into a 16-bit head and a tail (exact e * head);
 *   cos/sin of theta = (pi/4) a' on [0, pi/4] by Taylor polynomials to theta^8 and
 *           theta^9 (a' = 1 - a in odd octants), then the octant's swap and signs.
 * Only integer operations select (no arithmetic under a condition), so the
 * loops vectorise. The key is the flat param index, read from per_tensor[t]
 * (the class passes it); without a per-tensor table it is the tensor's index
 * in the plan.
 *
 * Slots:   0 p (rw), 1 g (r), 2 momentum buffer (rw; NULL without momentum)
 * Scalars: s[0] sign, s[1] wd, s[2] momentum, s[3] 1 - dampening, s[4] -lr, s[5] sigma,
 *          s[6] seed high 32 bits, s[7] seed low 32 bits, s[8] step
 * Flags:   bit0 momentum, bit1 first step (buffer := d), bit2 nesterov, bit3 L2
 * Bytes per element moved: 3·sizeof(T) without momentum, 5·sizeof(T) with (12 / 20 in
 * float32). The noise costs about 45 single-precision vector operations per
 * pair of elements (hash in 64-bit lanes, one division, one square root, three
 * polynomials), which is close to the memory time of a float32 element on one
 * core; see docs/optimizers.md.
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
#define FO_NOISE_BLOCK 1024 /* elements per pairing block; positions w and w + 512 share a pair */

/* Bit casts (memcpy: well defined, and vectorisable). */
static inline __attribute__((always_inline)) float fo_noise_f32(const uint32_t u)
{
    float f;
    __builtin_memcpy(&f, &u, sizeof f);
    return f;
}

static inline __attribute__((always_inline)) uint32_t fo_noise_u32(const float f)
{
    uint32_t u;
    __builtin_memcpy(&u, &f, sizeof u);
    return u;
}

/* The pair of standard normals of 64 random bits x (cosine and sine branch),
 * in float32; the same bits on every ISA. Branch-free. The float constants are
 * the double literals rounded to float (what np.float32(literal) gives). */
static inline __attribute__((always_inline)) void fo_noise_pair(const uint64_t x, float *z0, float *z1)
{
    const uint32_t hi = (uint32_t)(x >> 32), lo = (uint32_t)x;
    /* u1 = kk 2^-24, kk = (hi >> 8) + 1 in [1, 2^24]: ln u1 = ln kk - 24 ln 2. */
    const uint32_t kb = fo_noise_u32((float)(int32_t)((hi >> 8) + 1u));              /* exact */
    const uint32_t mb = (kb & 0x007FFFFFu) | 0x3F800000u;                             /* [1, 2) */
    const uint32_t big = (uint32_t)(mb > 0x3FB504F3u);                  /* m > sqrt(2) as float */
    const float m = fo_noise_f32(mb - (big << 23));                     /* halved when big */
    const float e = (float)((int32_t)(kb >> 23) - 151 + (int32_t)big);  /* exponent of u1 */
    const float sn = (m - 1.0f) / (m + 1.0f), s2 = sn * sn;
    float q = (float)0.1111111111111111;
    q = q * s2 + (float)0.14285714285714285;
    q = q * s2 + (float)0.2;
    q = q * s2 + (float)0.3333333333333333;
    q = q * s2 + 1.0f;
    const float ln_u1 = e * (float)0.693145751953125 + (e * (float)1.4286068203094173e-06 + (sn + sn) * q);
    const float r = __builtin_sqrtf(ln_u1 * -2.0f);
    /* phi = (pi/4) (o + a): theta = (pi/4) a, or (pi/4) (1 - a) in odd octants */
    const uint32_t o = lo >> 29, f = (lo >> 5) & 0x00FFFFFFu;
    const uint32_t odd = 0u - (o & 1u);
    const uint32_t fa = (f & ~odd) | ((0x01000000u - f) & odd);         /* in [0, 2^24] */
    const float th = (float)(int32_t)fa * (float)4.6813363874801976e-08; /* (pi/4) 2^-24 */
    const float t = th * th;
    float c = (float)2.48015873015873e-05;
    c = c * t + (float)-0.001388888888888889;
    c = c * t + (float)0.041666666666666664;
    c = c * t + -0.5f;
    c = c * t + 1.0f;
    float sp = (float)2.7557319223985893e-06;
    sp = sp * t + (float)-0.0001984126984126984;
    sp = sp * t + (float)0.008333333333333333;
    sp = sp * t + (float)-0.16666666666666666;
    const float sv = th + (th * t) * sp;
    /* octant o: swap cos/sin in 1, 2, 5, 6; cos < 0 in 2..5; sin < 0 in 4..7 */
    const uint32_t swap = 0u - (((o + 1u) >> 1) & 1u);
    const uint32_t cb = fo_noise_u32(c), sb = fo_noise_u32(sv);
    const uint32_t cosb = ((cb & ~swap) | (sb & swap)) ^ ((((o + 2u) >> 2) & 1u) << 31);
    const uint32_t sinb = ((sb & ~swap) | (cb & swap)) ^ ((o >> 2) << 31);
    *z0 = r * fo_noise_f32(cosb);
    *z1 = r * fo_noise_f32(sinb);
}

/* Normals for positions [w0, w1) of pairing block `blk` (tensor elements
 * blk * 1024 + w) into z[w]. Computes the pairs the range needs (at most twice
 * as many deviates as elements when the range is short). */
static inline __attribute__((always_inline)) void fo_noise_block(const uint64_t k, const int64_t blk, const int w0,
                                                                 const int w1, float *FO_RESTRICT z)
{
    const int half = FO_NOISE_BLOCK / 2;
    int jlo, jhi;
    if (w1 <= half) {
        jlo = w0;
        jhi = w1;
    } else if (w0 >= half) {
        jlo = w0 - half;
        jhi = w1 - half;
    } else {
        jlo = 0;
        jhi = half;
    }
    /* counter of pair q = blk * 512 + j: k + (q + 1) G, advanced by G (no multiply per pair) */
    uint64_t ctr = k + ((uint64_t)blk * (uint64_t)half + (uint64_t)jlo + 1u) * FO_NOISE_G;
    for (int j = jlo; j < jhi; j++) {
        uint64_t x = ctr;
        ctr += FO_NOISE_G;
        FO_NOISE_MIX(x);
        fo_noise_pair(x, &z[j], &z[j + half]);
    }
}
#endif

FO_INLINE void FO_FN(noisy_sgd_loop)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const int mom,
                                     const int first, const int nesterov, const int l2)
{
    T *FO_RESTRICT p = (T *)ptr[0];
    const T *FO_RESTRICT g = (const T *)ptr[1];
    T *FO_RESTRICT b = (T *)ptr[2];
    const int64_t n = sp->n;
    const T sign = (T)h->s[0], wd = (T)h->s[1], mu = (T)h->s[2], omd = (T)h->s[3], neg_lr = (T)h->s[4];
    const T sigma = (T)h->s[5];
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
    float zbuf[FO_NOISE_BLOCK];
    for (int64_t c = 0; c < n;) {
        const int64_t i = sp->offset + c;
        const int w0 = (int)(i & (FO_NOISE_BLOCK - 1));
        const int64_t len = (n - c < FO_NOISE_BLOCK - w0) ? n - c : FO_NOISE_BLOCK - w0;
        fo_noise_block(k, i / FO_NOISE_BLOCK, w0, w0 + (int)len, zbuf);
        const float *FO_RESTRICT z = zbuf + w0;
        T *FO_RESTRICT pc = p + c;
        const T *FO_RESTRICT gc = g + c;
        T *FO_RESTRICT bc = mom ? b + c : b;
        for (int64_t j = 0; j < len; j++) {
            T d = sign * gc[j];
            if (l2) d = d + wd * pc[j];
            d = d + sigma * (T)z[j];
            if (mom) {
                const T bi = first ? d : mu * bc[j] + omd * d;
                bc[j] = bi;
                d = nesterov ? d + mu * bi : bi;
            }
            pc[j] = pc[j] + neg_lr * d;
        }
        c += len;
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
