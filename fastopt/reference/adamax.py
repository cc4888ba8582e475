"""Adamax reference: torch.optim.Adamax (_single_tensor_adamax) op order.

    g = -g if maximize
    g = g + wd * p                          if weight_decay != 0
    m = lerp(m, g, 1 - beta1)
    u = maximum(u * beta2, |g| + eps)       (NaN-propagating, as torch.maximum)
    p = p + (-clr * m) / u,   clr = lr / (1 - beta1^t)   (double)
"""
import numpy as np

from .base import ReferenceOptimizer


class Adamax(ReferenceOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        b1, b2 = h["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_inf"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        if h["maximize"]:
            g = -g
        if h["weight_decay"] != 0:
            g = g + T(h["weight_decay"]) * p
        m, u = state["exp_avg"], state["exp_inf"]
        w = 1.0 - b1
        if w < 0.5:
            m[...] = m + T(w) * (g - m)
        else:
            m[...] = g - (g - m) * (T(1.0) - T(w))
        u[...] = np.maximum(u * T(b2), np.abs(g) + T(h["eps"]))
        clr = h["lr"] / (1 - b1 ** t)
        p[...] = p + (T(-clr) * m) / u
