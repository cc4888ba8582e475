"""Diagonal Levenberg-Marquardt reference (LeCun et al. 1998).

    g = -g if maximize
    a = h, or with hessian_decay d: a = h at the first step, else a = d * a + (1 - d) * h
    p = p + (-lr * g) / (a + mu)
"""
import numpy as np

from .base import ReferenceOptimizer


class DiagonalLM(ReferenceOptimizer):
    def __init__(self, params, lr=1e-3, mu=1e-2, hessian_decay=None, maximize=False):
        super().__init__(params, lr=lr, mu=mu, hessian_decay=hessian_decay, maximize=maximize)

    def step(self, grads, hessian_diag):
        for i, (p, g, hd) in enumerate(zip(self.params, grads, hessian_diag)):
            if g is None or hd is None:
                continue
            g = np.asarray(g, dtype=p.dtype).reshape(-1)
            hd = np.asarray(hd, dtype=p.dtype).reshape(-1)
            self.update(p.reshape(-1), g, hd, self.state[i], p.dtype.type)

    def update(self, p, g, hd, state, T):
        h = self.hyper
        decay = h["hessian_decay"]
        if decay is not None:  # like the class: no state at all without a buffer
            state["step"] = state.get("step", 0) + 1
        if h["maximize"]:
            g = -g
        a = hd
        if decay is not None:
            if "hessian_avg" not in state:
                state["hessian_avg"] = hd.copy()
            else:
                avg = state["hessian_avg"]
                avg[...] = T(decay) * avg + T(1.0 - decay) * hd
            a = state["hessian_avg"]
        p[...] = p + (T(-h["lr"]) * g) / (a + T(h["mu"]))
