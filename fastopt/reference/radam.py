"""RAdam reference: torch.optim.RAdam (_single_tensor_radam) op order.

    g = -g if maximize
    decoupled: p = p * (1 - lr*wd)       else: g = g + wd * p     (if weight_decay != 0)
    m = lerp(m, g, 1 - beta1);  v = v * beta2 + ((1 - beta2) * g) * g
    mh = m / bc1
    rho_t > 5:  p = p - ((mh * lr) * ((1 / (sqrt(v) + eps)) * bc2**0.5)) * rect
    otherwise:  p = p - mh * lr
(bc_k = 1 - beta_k^t, rho_t and rect in double: see radam_scalars.)
"""
import numpy as np

from .base import ReferenceOptimizer


def radam_scalars(beta2, step):
    """(bc2, rho_t, rect or None) for step `step`, in torch's order of operations."""
    bc2 = 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        return bc2, rho_t, rect
    return bc2, rho_t, None


class RAdam(ReferenceOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        lr, (b1, b2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        if h["maximize"]:
            g = -g
        if wd != 0:
            if h["decoupled_weight_decay"]:
                p[...] = p * T(1 - lr * wd)
            else:
                g = g + T(wd) * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        w = 1.0 - b1
        if w < 0.5:
            m[...] = m + T(w) * (g - m)
        else:
            m[...] = g - (g - m) * (T(1.0) - T(w))
        v[...] = v * T(b2) + (T(1.0 - b2) * g) * g
        mh = m / T(1 - b1 ** t)
        bc2, _, rect = radam_scalars(b2, t)
        if rect is not None:
            a = (T(1.0) / (np.sqrt(v) + T(eps))) * T(bc2 ** 0.5)
            p[...] = p - ((mh * T(lr)) * a) * T(rect)
        else:
            p[...] = p - mh * T(lr)
