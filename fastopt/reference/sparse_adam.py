"""SparseAdam reference: torch.optim._functional.sparse_adam op order, on the
rows of a coalesced row-sparse gradient.

    g = -g if maximize;  rows unique (duplicates summed)
    um = (g - m[r]) * (1 - beta1);        m[r] = m[r] + um
    uv = (g * g - v[r]) * (1 - beta2);    v[r] = v[r] + uv
    p[r] = p[r] + (-(lr * sqrt(bc2) / bc1)) * (m[r] / (sqrt(v[r]) + eps))
"""
import math

import numpy as np

from ..sparse_adam import _prepare


class SparseAdam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        self.params = list(params)
        self.hyper = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        self.state = [dict() for _ in self.params]

    def step(self, grads):
        h = self.hyper
        (b1, b2), eps, lr = h["betas"], h["eps"], h["lr"]
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None:
                continue
            st = self.state[i]
            if not st:
                st["step"] = 0
                st["exp_avg"] = np.zeros_like(p)
                st["exp_avg_sq"] = np.zeros_like(p)
            st["step"] += 1
            rows, vals = _prepare(g, p, f"param {i}")
            if rows.size == 0 or vals.size == 0:
                continue
            T = p.dtype.type
            P = p.reshape(p.shape[0], -1)
            M = st["exp_avg"].reshape(P.shape)
            V = st["exp_avg_sq"].reshape(P.shape)
            gv = -vals if h["maximize"] else vals
            mo, vo = M[rows], V[rows]
            um = (gv - mo) * T(1.0 - b1)
            uv = (gv * gv - vo) * T(1.0 - b2)
            M[rows] = mo + um
            V[rows] = vo + uv
            t = st["step"]
            step_size = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
            P[rows] = P[rows] + T(-step_size) * ((um + mo) / (np.sqrt(uv + vo) + T(eps)))
