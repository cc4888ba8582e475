"""LAMB reference: optax's lamb (scale_by_adam, add_decayed_weights,
scale_by_trust_ratio, scale_by_learning_rate) op order, norms in double.

    g = -g if maximize
    m = (1 - b1) * g + b1 * m
    v = (1 - b2) * (g * g) + b2 * v
    u = (m * ibc1) / (sqrt(v * ibc2) + eps) [+ wd * p],  ibc_k = T(1 / (1 - b_k^t))
    r = ||p|| / ||u||  (1 if either is 0; sums of squares in double, the kernel's 32-lane order)

optax divides m and v by the bias corrections; here (and in the kernel) they
are multiplied by the reciprocals rounded to the param dtype, the same
formula with one rounding more (within 1 ulp of optax's m_hat, v_hat).
    p = p + (u * r) * (-lr)
"""
import numpy as np

from .._multipass import ref_sum_sq, safe_ratio
from .base import ReferenceOptimizer


class LAMB(ReferenceOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        lr, (b1, b2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if h["maximize"]:
            g = -g
        m[...] = T(1.0 - b1) * g + T(b1) * m
        v[...] = T(1.0 - b2) * (g * g) + T(b2) * v
        u = (m * T(1.0 / (1.0 - b1 ** t))) / (np.sqrt(v * T(1.0 / (1.0 - b2 ** t))) + T(eps))
        if wd != 0:
            u = u + T(wd) * p
        r = float(safe_ratio(np.sqrt(ref_sum_sq(p, 32)), np.sqrt(ref_sum_sq(u, 32))))
        p[...] = p + (u * T(r)) * T(-lr)
