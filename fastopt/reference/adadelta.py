"""Adadelta reference: torch.optim.Adadelta (_single_tensor_adadelta) op order.

    g = -g if maximize
    g = g + wd * p                          if weight_decay != 0
    v = v * rho + ((1 - rho) * g) * g
    d = (sqrt(u + eps) / sqrt(v + eps)) * g
    u = u * rho + ((1 - rho) * d) * d
    p = p + (-lr) * d
"""
import numpy as np

from .base import ReferenceOptimizer


class Adadelta(ReferenceOptimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            state["acc_delta"] = np.zeros_like(p)
        state["step"] += 1
        if h["maximize"]:
            g = -g
        if h["weight_decay"] != 0:
            g = g + T(h["weight_decay"]) * p
        rho, omr, eps = T(h["rho"]), T(1.0 - h["rho"]), T(h["eps"])
        v, u = state["square_avg"], state["acc_delta"]
        v[...] = v * rho + (omr * g) * g
        d = (np.sqrt(u + eps) / np.sqrt(v + eps)) * g
        u[...] = u * rho + (omr * d) * d
        p[...] = p + T(-h["lr"]) * d
