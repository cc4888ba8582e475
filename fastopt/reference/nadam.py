"""NAdam reference: torch.optim.NAdam (_single_tensor_nadam) op order.

    g = -g if maximize
    decoupled: p = p * (1 - lr*wd)       else: g = g + wd * p     (if weight_decay != 0)
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)), mu_next likewise at t + 1   (double)
    mu_product = mu_product * mu_t                  (float32, as torch's 0-d state tensor)
    m = lerp(m, g, 1 - beta1);  v = v * beta2 + ((1 - beta2) * g) * g
    d = sqrt(v / (1 - beta2^t)) + eps
    p = p + (c1 * g) / d;  p = p + (c2 * m) / d
    c1 = -lr * (1 - mu_t) / (1 - mu_product),  c2 = (-lr * mu_next) / (1 - mu_product * mu_next)   (double)
"""
import numpy as np

from .base import ReferenceOptimizer


def nadam_mu(beta1, momentum_decay, step):
    """(mu_t, mu_{t+1}) in double, torch's expression."""
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    return mu, mu_next


def nadam_coefficients(lr, mu, mu_next, mu_product):
    """(c1, c2) from the updated mu_product (a float or a float64 array)."""
    c1 = -lr * (1.0 - mu) / (1.0 - mu_product)
    c2 = (-lr * mu_next) / (1.0 - mu_product * mu_next)
    return c1, c2


class NAdam(ReferenceOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                         maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        lr, (b1, b2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        if not state:
            state["step"] = 0
            state["mu_product"] = np.float32(1.0)
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
        mu, mu_next = nadam_mu(b1, h["momentum_decay"], t)
        state["mu_product"] = np.float32(state["mu_product"] * np.float32(mu))
        m, v = state["exp_avg"], state["exp_avg_sq"]
        w = 1.0 - b1
        if w < 0.5:
            m[...] = m + T(w) * (g - m)
        else:
            m[...] = g - (g - m) * (T(1.0) - T(w))
        v[...] = v * T(b2) + (T(1.0 - b2) * g) * g
        d = np.sqrt(v / T(1 - b2 ** t)) + T(eps)
        c1, c2 = nadam_coefficients(lr, mu, mu_next, float(state["mu_product"]))
        p[...] = p + (T(c1) * g) / d
        p[...] = p + (T(c2) * m) / d
