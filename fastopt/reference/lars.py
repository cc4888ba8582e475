"""LARS reference: trust ratio from double norms (kernel reduction order), then
torch.optim.SGD's momentum op order.

    r = (||p|| / (||g|| + wd ||p|| + eps)) * trust_coefficient   (1 if a norm is 0; not when excluded;
        sums of squares in double in the kernel's 32-lane order)
    d = (sign * g + wd * p) * r
    b = d (first) or momentum * b + (1 - dampening) * d;  d = d + momentum * b (nesterov) or b
    p = p + (-lr) * d
"""
from .._multipass import ref_sum_sq
from ..lars import lars_ratio
from .base import ReferenceOptimizer


class LARS(ReferenceOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
                 trust_coefficient=0.001, eps=1e-8, lars_exclude=False, maximize=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, trust_coefficient=trust_coefficient, eps=eps,
                         lars_exclude=lars_exclude, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        wd = h["weight_decay"]
        d = -g if h["maximize"] else g
        if wd != 0:
            d = d + T(wd) * p
        if not h["lars_exclude"]:
            r = float(lars_ratio(ref_sum_sq(p, 32), ref_sum_sq(g, 32), h["trust_coefficient"], wd, h["eps"]))
            d = d * T(r)
        mu = h["momentum"]
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = d.copy()
                state["momentum_buffer"] = buf
            else:
                buf[...] = T(mu) * buf + T(1.0 - h["dampening"]) * d
            d = d + T(mu) * buf if h["nesterov"] else buf
        p[...] = p + T(-h["lr"]) * d
