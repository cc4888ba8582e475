"""SGD reference: torch.optim.SGD (_single_tensor_sgd) op order."""

from .base import ReferenceOptimizer


class SGD(ReferenceOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize)

    def update(self, p, g, state, T):
        h = self.hyper
        d = -g if h["maximize"] else g
        if h["weight_decay"] != 0:
            d = d + T(h["weight_decay"]) * p
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
