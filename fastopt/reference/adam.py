"""Adam / AdamW reference: torch.optim.Adam (_single_tensor_adam) op order.

    g = -g if maximize
    AdamW: p = p * (1 - lr*wd)          Adam: g = g + wd * p
    m = lerp(m, g, 1 - beta1)           (torch's lerp: m + w (g - m), or g - (g - m)(1 - w) when w >= 0.5)
    v = v * beta2 + ((1 - beta2) * g) * g
    vmax = max(vmax, v)                 amsgrad
    p = p + (-(lr / bc1) * m) / (sqrt(v) / sqrt(bc2) + eps),  bc_k = 1 - beta_k^t
"""
import math

import numpy as np

from .base import ReferenceOptimizer


class Adam(ReferenceOptimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False, decoupled_weight_decay=None):
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self.decoupled
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)

    def update(self, p, g, state, T):
        h = self.hyper
        lr, (b1, b2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if h["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if h["maximize"]:
            g = -g
        if h["decoupled_weight_decay"]:
            p[...] = p * T(1.0 - lr * wd)
        elif wd != 0:
            g = g + T(wd) * p
        w = 1.0 - b1
        if w < 0.5:
            m[...] = m + T(w) * (g - m)
        else:
            m[...] = g - (g - m) * (T(1.0) - T(w))
        v[...] = v * T(b2) + (T(1.0 - b2) * g) * g
        bc1 = 1.0 - b1 ** t
        bc2_sqrt = math.sqrt(1.0 - b2 ** t)
        if h["amsgrad"]:
            vm = state["max_exp_avg_sq"]
            vm[...] = np.maximum(vm, v)
            denom = np.sqrt(vm) / T(bc2_sqrt) + T(eps)
        else:
            denom = np.sqrt(v) / T(bc2_sqrt) + T(eps)
        p[...] = p + (T(-(lr / bc1)) * m) / denom


class AdamW(Adam):
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)
