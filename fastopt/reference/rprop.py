"""Rprop reference: torch.optim.Rprop (_single_tensor_rprop) op order.

    g = -g if maximize
    f = etaplus where g*prev > 0, etaminus where g*prev < 0, 1 where g*prev == 0
    step_size = clamp(step_size * f, step_size_min, step_size_max)
    g = 0 where f == etaminus
    p = p - sign(g) * step_size
    prev = g
"""
import numpy as np

from .base import ReferenceOptimizer


class Rprop(ReferenceOptimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
        super().__init__(params, lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        em, ep = T(h["etas"][0]), T(h["etas"][1])
        lo, hi = T(h["step_sizes"][0]), T(h["step_sizes"][1])
        if not state:
            state["step"] = 0
            state["prev"] = np.zeros_like(p)
            state["step_size"] = np.full_like(p, h["lr"])
        state["step"] += 1
        prev, ss = state["prev"], state["step_size"]
        if h["maximize"]:
            g = -g
        q = g * prev
        f = np.where(q > 0, ep, np.where(q < 0, em, np.where(q == 0, T(1), q))).astype(p.dtype)
        ss[...] = np.minimum(np.maximum(ss * f, lo), hi)
        g = np.where(f == em, T(0), g).astype(p.dtype)
        p[...] = p - np.sign(g) * ss
        prev[...] = g
