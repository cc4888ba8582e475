"""RMSprop reference: torch.optim.RMSprop (_single_tensor_rmsprop) op order.

    g = -g if maximize
    g = g + wd * p                                  if weight_decay != 0
    v = v * alpha + ((1 - alpha) * g) * g
    centered: ga = lerp(ga, g, 1 - alpha); avg = sqrt(v - ga * ga) + eps
    else:     avg = sqrt(v) + eps
    momentum > 0: b = b * momentum + g / avg; p = p + (-lr) * b
    else:         p = p + (-lr * g) / avg
"""
import numpy as np

from .base import ReferenceOptimizer


class RMSprop(ReferenceOptimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if h["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if h["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        if h["maximize"]:
            g = -g
        if h["weight_decay"] != 0:
            g = g + T(h["weight_decay"]) * p
        w = 1.0 - h["alpha"]
        v = state["square_avg"]
        v[...] = v * T(h["alpha"]) + (T(w) * g) * g
        if h["centered"]:
            ga = state["grad_avg"]
            if w < 0.5:
                ga[...] = ga + T(w) * (g - ga)
            else:
                ga[...] = g - (g - ga) * (T(1.0) - T(w))
            avg = np.sqrt(v - ga * ga) + T(h["eps"])
        else:
            avg = np.sqrt(v) + T(h["eps"])
        if h["momentum"] > 0:
            b = state["momentum_buffer"]
            b[...] = b * T(h["momentum"]) + g / avg
            p[...] = p + T(-h["lr"]) * b
        else:
            p[...] = p + (T(-h["lr"]) * g) / avg
