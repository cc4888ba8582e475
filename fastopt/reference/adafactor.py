"""Adafactor reference: torch.optim.Adafactor's single-tensor op order; the
norms in double in the kernels' order (32 lanes for ||p||, 8 for ||u||), the row/column means of g^2 from sums in
float64 in the kernel's tile order (fastopt._multipass.factored_partials, and the
same NumPy calls as fastopt.Adafactor from there).

    g     = -g if maximize;  w = t^beta2_decay;  rho = min(lr, 1/sqrt(t))
    alpha = max(eps2, ||p|| / sqrt(N)) * rho
    p     = p * (1 - lr * wd)                            if wd != 0
    p of >= 2 dims, shape (..., R, C):
      row = lerp(row, mean_c g^2, w);  col = lerp(col, mean_r g^2, w)
      V   = (row * col) / max(mean_r row, eps1)
    else:
      v   = lerp(v, g * g, w);  V = v
    u     = (1 / sqrt(max(V, eps1^2))) * g
    p     = p + u * (-alpha / max(1, ||u|| / (sqrt(N) * d)))
"""
import numpy as np

from .._multipass import factored_partials, factored_sums, lane_rows, ref_sum_sq
from .base import ReferenceOptimizer


def _lerp(a, x, w, T):
    if abs(w) < 0.5:
        return a + T(w) * (x - a)
    return x - (x - a) * (T(1) - T(w))


class Adafactor(ReferenceOptimizer):
    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                 maximize=False, foreach=None):
        super().__init__(params, lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                         maximize=maximize)

    def step(self, grads):
        # Shapes are kept (the factored statistics need them).
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None:
                continue
            g = np.ascontiguousarray(np.asarray(g, dtype=p.dtype).reshape(p.shape))
            self.update(p, g, self.state[i], p.dtype.type)

    def update(self, p, g, state, T):
        h = self.hyper
        lr, wd, d = h["lr"], h["weight_decay"], h["d"]
        eps1, eps2 = h["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(T).eps)
        if not state:
            state["step"] = 0
            if p.ndim >= 2:
                state["row_var"] = np.zeros(p.shape[:-1] + (1,), dtype=p.dtype)
                state["col_var"] = np.zeros(p.shape[:-2] + (1, p.shape[-1]), dtype=p.dtype)
            else:
                state["variance"] = np.zeros_like(p)
        state["step"] += 1
        if p.size == 0:
            return  # torch raises ZeroDivisionError here; fastopt leaves empty params as they are
        t = float(state["step"])
        if h["maximize"]:
            g = -g
        w = t ** h["beta2_decay"]
        rho = min(lr, 1 / (t ** 0.5))
        n = p.size
        with np.errstate(invalid="ignore", divide="ignore"):
            rms = float(np.sqrt(ref_sum_sq(p, 32)) / np.sqrt(n))
        alpha = max(eps2, rms) * rho
        if wd != 0:
            p[...] = p * T(1.0 - lr * wd)
        if p.ndim >= 2:
            row, col = state["row_var"], state["col_var"]
            R, C = p.shape[-2], p.shape[-1]
            row_sum, col_sum = factored_sums(*factored_partials(g))
            with np.errstate(invalid="ignore", divide="ignore"):
                row[...] = _lerp(row, (row_sum.reshape(row.shape) / C).astype(T), w, T)
                col[...] = _lerp(col, (col_sum.reshape(col.shape) / R).astype(T), w, T)
                mean = lane_rows(row.reshape(-1, R).astype(np.float64)) / R
                den = np.maximum(mean.astype(T).reshape(row.shape[:-2] + (1, 1)), T(eps1))
            var = (row * col) / den
        else:
            v = state["variance"]
            v[...] = _lerp(v, g * g, w, T)
            var = v
        u = (T(1) / np.sqrt(np.maximum(var, T(eps1 * eps1)))) * g
        with np.errstate(invalid="ignore", divide="ignore"):
            q = float(np.sqrt(ref_sum_sq(u)) / (np.sqrt(n) * d))
        denom = max(1.0, q)
        p[...] = p + u * T(-alpha / denom)
