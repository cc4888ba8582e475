"""Lion reference (Chen et al. 2023, optax op order).

    g = -g if maximize
    c = (1 - b1) * g + b1 * m;  u = sign(c) [+ wd * p];  p = p + u * (-lr)
    m = (1 - b2) * g + b2 * m
"""
import numpy as np

from .base import ReferenceOptimizer


class Lion(ReferenceOptimizer):
    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False):
        super().__init__(params, lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        b1, b2 = h["betas"]
        wd = h["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
        state["step"] += 1
        m = state["exp_avg"]
        if h["maximize"]:
            g = -g
        c = T(1.0 - b1) * g + T(b1) * m
        u = np.sign(c)
        if wd != 0:
            u = u + T(wd) * p
        p[...] = p + u * T(-h["lr"])
        m[...] = T(1.0 - b2) * g + T(b2) * m
