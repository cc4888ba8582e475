"""Muon reference: torch.optim.Muon's single-tensor op order, one 2-D param at a time.

    lerp(a, b, w) = a + w * (b - a)          if |w| < 0.5
                  = b - (b - a) * (1 - w)    otherwise          (w cast to T)
    B = lerp(B, g, 1 - momentum)
    U = lerp(g, B, momentum) if nesterov else B
    O = NS(U)                                 (below; bfloat16 emulated by default)
    p = p * (1 - lr * weight_decay)
    p = p + (-adjusted_lr) * O

NS (torch's _zeropower_via_newtonschulz): X = cast(U); transpose if tall;
X = X / max(||X||_F, eps); k times: G = X X^T; M = b G + c G G; X = a X + M X;
transpose back. In bfloat16 mode every one of these results is rounded to
bfloat16 (values kept in float32), as torch's CPU bfloat16 ops compute in
float32 and round once.
"""
import math

import numpy as np


def to_bf16(x):
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32.
    Plain integer arithmetic in int64; NaN -> quiet NaN."""
    x = np.asarray(x, dtype=np.float32)
    bits = x.view(np.uint32).astype(np.int64)
    lower = bits & 0xFFFF
    upper = bits >> 16
    up = (lower > 0x8000) | ((lower == 0x8000) & ((upper & 1) == 1))
    upper = upper + up.astype(np.int64)
    out = (upper << 16).astype(np.uint32).view(np.float32).copy()
    out[np.isnan(x)] = np.float32("nan")
    return out


def orthogonalize(U, coefficients, steps, eps, ns_dtype):
    W = np.float64 if ns_dtype == "float64" else np.float32
    r = to_bf16 if ns_dtype == "bfloat16" else (lambda y: np.asarray(y, dtype=W))
    a, b, c = (W(v) for v in coefficients)
    X = r(U.astype(W))
    tall = X.shape[0] > X.shape[1]
    if tall:
        X = X.T
    norm = r(np.array([math.sqrt(float(np.sum(X.astype(np.float64) ** 2)))], dtype=W))[0]
    norm = max(norm, r(np.array([eps], dtype=W))[0])
    X = r(X / norm)
    for _ in range(steps):
        G = r(X @ X.T)
        M = r(c * (G @ G) + b * G)
        X = r((M @ X) + a * X)
    return X.T if tall else X


class Muon:
    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None,
                 ns_dtype="bfloat16"):
        self.params = list(params)
        self.hyper = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                          ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                          ns_dtype=ns_dtype)
        self.state = [dict() for _ in self.params]

    @staticmethod
    def lerp(a, b, w, T):
        w = T(w)
        if abs(w) < 0.5:
            return a + w * (b - a)
        return b - (b - a) * (T(1) - w)

    def step(self, grads):
        h = self.hyper
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None:
                continue
            T = p.dtype.type
            st = self.state[i]
            if "momentum_buffer" not in st:
                st["momentum_buffer"] = np.zeros_like(p)
            B = st["momentum_buffer"]
            B[...] = self.lerp(B, g, 1.0 - h["momentum"], T)
            U = self.lerp(g, B, h["momentum"], T) if h["nesterov"] else B
            O = orthogonalize(U, h["ns_coefficients"], h["ns_steps"], h["eps"], h["ns_dtype"]).astype(p.dtype)
            A, Bdim = p.shape
            if h["adjust_lr_fn"] in (None, "original"):
                lr = h["lr"] * math.sqrt(max(1, A / Bdim))
            else:
                lr = h["lr"] * 0.2 * math.sqrt(max(A, Bdim))
            p *= T(1.0 - h["lr"] * h["weight_decay"])
            p += T(-lr) * O
