"""Adadelta (torch.optim.Adadelta)."""
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    __doc__ = fill(r"""Adadelta (Zeiler, 2012), torch.optim.Adadelta semantics.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) + \lambda\,\theta_{{t-1}} \\
        v_t &\leftarrow \rho\, v_{{t-1}} + (1-\rho)\, g_t^2 \\
        \Delta_t &\leftarrow \frac{{\sqrt{{u_{{t-1}} + \epsilon}}}}{{\sqrt{{v_t + \epsilon}}}}\, g_t \\
        u_t &\leftarrow \rho\, u_{{t-1}} + (1-\rho)\, \Delta_t^2 \\
        \theta_t &\leftarrow \theta_{{t-1}} - \gamma\, \Delta_t

    with learning rate :math:`\gamma` (a multiplier of the update; 1 in the
    paper), decay :math:`\rho` and weight decay :math:`\lambda`; the sign is
    negative when ``maximize``. Same operation order as torch. State per
    param: ``step``, ``square_avg`` (:math:`v`) and ``acc_delta``
    (:math:`u`). One fused pass per step moves 7 elements per parameter
    (read p, g, v, u; write p, v, u): 28 bytes in float32.

    Args:
        {params}
        lr: coefficient that scales the update, >= 0 (default: 1.0)
        rho: decay :math:`\rho` of the running averages, in [0, 1] (default: 0.9)
        eps: term added inside both square roots, > 0 (default: 1e-06)
        {weight_decay_l2}
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Adadelta([w], lr=1.0, rho=0.9, eps=1e-4)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.96844 , 2.031607, 2.968381])

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
    """, weight_decay_l2=0)

    rule = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False, n_threads=None,
                 flush_denormals=False, **tools):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("rho", V.unit_interval_closed), ("eps", V.positive),
                ("weight_decay", V.nonneg), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("square_avg", "acc_delta")

    def _scalars(self, group, step):
        rho = float(group["rho"])
        wd = float(group["weight_decay"])
        return (-1.0 if group["maximize"] else 1.0, wd, rho, 1.0 - rho, float(group["eps"]),
                -float(group["lr"])), (1 if wd != 0 else 0)
