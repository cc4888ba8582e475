"""ASGD reference: torch.optim.ASGD (_single_tensor_asgd) op order.

    g = -g if maximize;  g = g + wd * p          (wd != 0)
    p = p * (1 - lambd * eta);  p = p + (-eta) * g
    ax = p if mu == 1 else ax + (p - ax) * mu
    then, with t the new step: eta = lr / (1 + lambd*lr*t)^alpha,
    mu = 1 / max(1, t - t0), both stored as float32 (torch's scalar dtype).
"""
import numpy as np

from .base import ReferenceOptimizer


class ASGD(ReferenceOptimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
        super().__init__(params, lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                         maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        lr, lambd, alpha, t0, wd = h["lr"], h["lambd"], h["alpha"], h["t0"], h["weight_decay"]
        if not state:
            state["step"] = 0
            state["eta"] = np.float32(lr)
            state["mu"] = np.float32(1.0)
            state["ax"] = np.zeros_like(p)
        state["step"] += 1
        eta, mu = float(state["eta"]), float(state["mu"])
        if h["maximize"]:
            g = -g
        if wd != 0:
            g = g + T(wd) * p
        p[...] = p * T(1 - lambd * eta)
        p[...] = p + T(-eta) * g
        ax = state["ax"]
        if mu != 1:
            ax[...] = ax + (p - ax) * T(mu)
        else:
            ax[...] = p
        t = state["step"]
        state["eta"] = np.float32(lr / ((1 + lambd * lr * t) ** alpha))
        state["mu"] = np.float32(1 / max(1, t - t0))
