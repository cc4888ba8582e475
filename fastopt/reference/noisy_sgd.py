"""NoisySGD reference: torch.optim.SGD op order plus the kernel's noise, bit for bit.

    d = -g if maximize;  d = d + wd * p;  d = d + T(sigma_t) * T(z),  sigma_t^2 = eta / step^gamma
    then SGD's momentum / Nesterov and p = p + (-lr) * d.

z is regenerated here exactly as csrc/kernels/noisy_sgd.h does: the same
integer hash (numpy uint64 arithmetic, wrapping), elements paired within
blocks of 1024 (positions w and w + 512 take the cosine and the sine deviate
of one Box-Muller pair), and the same float32 polynomial ln/cos/sin; the key
of param i is its index in the list.
"""
import math

import numpy as np

from .base import ReferenceOptimizer

_M64 = (1 << 64) - 1
_G, _C1, _C2 = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03, 0xABC98388FB8FAC03
_BLOCK = 1024
_F = np.float32


def _mix_int(z):
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & _M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _mix(z):
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _poly(x, coefs):
    acc = np.full_like(x, _F(coefs[0]))
    for c in coefs[1:]:
        acc = acc * x + _F(c)
    return acc


def normal_pairs(x):
    """The (cosine, sine) float32 deviates of 64-bit words `x` (uint64 array)."""
    u32 = np.uint32
    hi = (x >> np.uint64(32)).astype(u32)
    lo = (x & np.uint64(0xFFFFFFFF)).astype(u32)
    # ln u1, u1 = kk 2^-24, kk in [1, 2^24]
    kb = ((hi >> u32(8)) + u32(1)).astype(np.int32).astype(_F).view(u32)
    mb = (kb & u32(0x007FFFFF)) | u32(0x3F800000)
    big = (mb > u32(0x3FB504F3)).astype(u32)
    m = (mb - (big << u32(23))).view(_F)
    e = ((kb >> u32(23)).astype(np.int32) - np.int32(151) + big.astype(np.int32)).astype(_F)
    sn = (m - _F(1.0)) / (m + _F(1.0))
    q = _poly(sn * sn, (0.1111111111111111, 0.14285714285714285, 0.2, 0.3333333333333333, 1.0))
    ln_u1 = e * _F(0.693145751953125) + (e * _F(1.4286068203094173e-06) + (sn + sn) * q)
    r = np.sqrt(ln_u1 * _F(-2.0))
    # angle (pi/4)(o + a); theta = (pi/4) a, or (pi/4)(1 - a) in odd octants
    o = lo >> u32(29)
    f = (lo >> u32(5)) & u32(0x00FFFFFF)
    odd = u32(0) - (o & u32(1))
    fa = (f & ~odd) | ((u32(0x01000000) - f) & odd)
    th = fa.astype(np.int32).astype(_F) * _F(4.6813363874801976e-08)
    t = th * th
    c = _poly(t, (2.48015873015873e-05, -0.001388888888888889, 0.041666666666666664, -0.5, 1.0))
    sp = _poly(t, (2.7557319223985893e-06, -0.0001984126984126984, 0.008333333333333333, -0.16666666666666666))
    sv = th + (th * t) * sp
    swap = u32(0) - (((o + u32(1)) >> u32(1)) & u32(1))
    cb, sb = c.view(u32), sv.view(u32)
    cosb = ((cb & ~swap) | (sb & swap)) ^ ((((o + u32(2)) >> u32(2)) & u32(1)) << u32(31))
    sinb = ((sb & ~swap) | (cb & swap)) ^ ((o >> u32(2)) << u32(31))
    return r * cosb.view(_F), r * sinb.view(_F)


def standard_normal(seed, step, key, n, offset=0):
    """The kernel's float32 N(0, 1) deviates for elements offset..offset+n-1 of tensor `key`."""
    k = _mix_int((seed + _G) & _M64)
    k = _mix_int(k ^ ((step * _C1) & _M64))
    k = _mix_int(k ^ ((key * _C2) & _M64))
    i = np.arange(offset, offset + n, dtype=np.uint64)
    w = i & np.uint64(_BLOCK - 1)
    pair = (i >> np.uint64(10)) * np.uint64(_BLOCK // 2) + (w & np.uint64(_BLOCK // 2 - 1))
    with np.errstate(over="ignore"):
        x = _mix(np.uint64(k) + (pair + np.uint64(1)) * np.uint64(_G))
    z0, z1 = normal_pairs(x)
    return np.where(w >= np.uint64(_BLOCK // 2), z1, z0)


class NoisySGD(ReferenceOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 noise_eta=0.01, noise_gamma=0.55, seed=0, maximize=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, noise_eta=noise_eta, noise_gamma=noise_gamma, seed=seed,
                         maximize=maximize)

    def step(self, grads):
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None:
                continue
            g = np.asarray(g, dtype=p.dtype).reshape(-1)
            self.update(p.reshape(-1), g, self.state[i], p.dtype.type, key=i)

    def update(self, p, g, state, T, key=0):
        h = self.hyper
        state["step"] = state.get("step", 0) + 1
        t = state["step"]
        d = -g if h["maximize"] else g
        if h["weight_decay"] != 0:
            d = d + T(h["weight_decay"]) * p
        sigma = math.sqrt(float(h["noise_eta"]) / float(t) ** float(h["noise_gamma"]))
        d = d + T(sigma) * standard_normal(int(h["seed"]), t, key, p.size).astype(p.dtype)
        mu = h["momentum"]
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = d.copy()
                state["momentum_buffer"] = buf
            else:
                buf[...] = T(mu) * buf + T(1.0 - h["dampening"]) * d
            d = d + T(mu) * buf if h["nesterov"] else buf
        p[...] = p + T(-h["lr"]) * d
