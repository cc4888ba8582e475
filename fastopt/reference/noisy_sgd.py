"""NoisySGD reference: torch.optim.SGD op order plus the kernel's noise, bit for bit.

    d = -g if maximize;  d = d + wd * p;  d = d + T(sigma_t * z),  sigma_t^2 = eta / step^gamma
    then SGD's momentum / Nesterov and p = p + (-lr) * d.

z is regenerated here with the same integer hash (numpy uint64 arithmetic,
wrapping) and the same polynomial ln/cos as csrc/kernels/noisy_sgd.h; the key
of param i is its index in the list.
"""
import math

import numpy as np

from .base import ReferenceOptimizer

_M64 = (1 << 64) - 1
_G, _C1, _C2 = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03, 0xABC98388FB8FAC03


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


def _as_double(u):
    return np.asarray(u, dtype=np.uint64).view(np.float64)


def _as_bits(d):
    return np.asarray(d, dtype=np.float64).view(np.uint64)


def standard_normal(seed, step, key, n, offset=0):
    """The kernel's N(0, 1) deviates for elements offset..offset+n-1 of tensor `key`."""
    k = _mix_int((seed + _G) & _M64)
    k = _mix_int(k ^ ((step * _C1) & _M64))
    k = _mix_int(k ^ ((key * _C2) & _M64))
    idx = np.arange(offset + 1, offset + n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = _mix(np.uint64(k) + idx * np.uint64(_G))
    one = np.uint64(0x3FF0000000000000)
    u1 = 2.0 - _as_double(one | ((x >> np.uint64(32)) << np.uint64(20)))
    u2 = _as_double(one | ((x & np.uint64(0xFFFFFFFF)) << np.uint64(20))) - 1.0
    ub = _as_bits(u1)
    mbits = (ub & np.uint64(0x000FFFFFFFFFFFFF)) | one
    big = (_as_double(mbits) > 1.4142135623730951).astype(np.uint64)
    m = _as_double(mbits - (big << np.uint64(52)))
    e = _as_double(np.uint64(0x4330000000000000) | ((ub >> np.uint64(52)) + big)) - 4503599627371519.0
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    q = np.full_like(s, 0.058823529411764705)
    for c in (0.06666666666666667, 0.07692307692307693, 0.09090909090909091, 0.1111111111111111,
              0.14285714285714285, 0.2, 0.3333333333333333, 1.0):
        q = q * s2 + c
    ln_u1 = e * 0.6931471805599453 + (2.0 * s) * q
    r = np.sqrt(-2.0 * ln_u1)
    a1 = np.abs(u2 - 0.5)
    flip = (a1 > 0.25).astype(np.uint64)
    a = _as_double((np.uint64(0) - flip) & np.uint64(0x3FE0000000000000)) \
        + _as_double(_as_bits(a1) ^ (flip << np.uint64(63)))
    th = a * 6.283185307179586
    t = th * th
    c = np.full_like(t, 4.779477332387385e-14)
    for k2 in (-1.1470745597729725e-11, 2.08767569878681e-09, -2.755731922398589e-07, 2.48015873015873e-05,
               -0.001388888888888889, 0.041666666666666664, -0.5, 1.0):
        c = c * t + k2
    c = _as_double(_as_bits(c) ^ ((flip ^ np.uint64(1)) << np.uint64(63)))
    return r * c


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
        d = d + (sigma * standard_normal(int(h["seed"]), t, key, p.size)).astype(p.dtype)
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
