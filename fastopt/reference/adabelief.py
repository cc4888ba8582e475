"""AdaBelief reference (Zhuang et al. 2020), optax's scale_by_belief op order.

    g = -g if maximize
    decoupled: p = p * (1 - lr*wd)        L2: g = g + wd * p
    m = (1 - b1) * g + b1 * m
    d = g - m                              (the new m: paper's Algorithm 2, optax)
    s = ((1 - b2) * (d * d) + b2 * s) + eps_root
    p = p + (-lr) * ((m / bc1) / (sqrt(s / bc2) + eps)),  bc_k = 1 - b_k^t
"""
import numpy as np

from .base import ReferenceOptimizer


class AdaBelief(ReferenceOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, eps_root=1e-16, weight_decay=0.0,
                 decoupled_weight_decay=True, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, eps_root=eps_root, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        lr, (b1, b2), wd = h["lr"], h["betas"], h["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_var"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, s = state["exp_avg"], state["exp_avg_var"]
        if h["maximize"]:
            g = -g
        if h["decoupled_weight_decay"]:
            p[...] = p * T(1.0 - lr * wd)
        elif wd != 0:
            g = g + T(wd) * p
        m[...] = T(1.0 - b1) * g + T(b1) * m
        d = g - m
        s[...] = (T(1.0 - b2) * (d * d) + T(b2) * s) + T(h["eps_root"])
        upd = (m / T(1.0 - b1 ** t)) / (np.sqrt(s / T(1.0 - b2 ** t)) + T(h["eps"]))
        p[...] = p + T(-lr) * upd
