"""Adagrad reference: torch.optim.Adagrad (_single_tensor_adagrad, dense) op order.

    g = -g if maximize
    g = g + wd * p                      if weight_decay != 0
    clr = lr / (1 + (t - 1) * lr_decay)          (double)
    sum = sum + g * g                   ('sum' starts at initial_accumulator_value)
    p = p + (-clr * g) / (sqrt(sum) + eps)
"""
import numpy as np

from .base import ReferenceOptimizer


class Adagrad(ReferenceOptimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 maximize=False):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, h["initial_accumulator_value"])
        state["step"] += 1
        t = state["step"]
        if h["maximize"]:
            g = -g
        if h["weight_decay"] != 0:
            g = g + T(h["weight_decay"]) * p
        clr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
        s = state["sum"]
        s[...] = s + g * g
        std = np.sqrt(s) + T(h["eps"])
        p[...] = p + (T(-clr) * g) / std
