"""SGD with momentum, dampening and Nesterov momentum (torch.optim.SGD)."""
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    __doc__ = fill(r"""Stochastic gradient descent, optionally with momentum (torch.optim.SGD).

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) + \lambda\,\theta_{{t-1}} \\
        b_t &\leftarrow \begin{{cases}} g_t & t = 1 \\
                 \mu\, b_{{t-1}} + (1-\tau)\, g_t & t > 1 \end{{cases}} \\
        d_t &\leftarrow \begin{{cases}} g_t + \mu\, b_t & \text{{nesterov}} \\
                 b_t & \text{{otherwise}} \end{{cases}} \qquad (d_t = g_t \text{{ if }} \mu = 0) \\
        \theta_t &\leftarrow \theta_{{t-1}} - \gamma\, d_t

    with learning rate :math:`\gamma`, momentum :math:`\mu`, dampening
    :math:`\tau` and weight decay :math:`\lambda`; the sign is negative when
    ``maximize``. The first momentum buffer is the gradient itself (no
    dampening), exactly as torch does. One fused pass per step: reads p, g
    (and b), writes p (and b): 3 (5) elements moved per parameter.

    Args:
        {params}
        {lr}
        momentum: momentum factor :math:`\mu`, >= 0 (default: 0)
        dampening: dampening :math:`\tau` for momentum (default: 0)
        {weight_decay_l2}
        nesterov: use Nesterov momentum (Sutskever et al. 2013); needs
            momentum > 0 and dampening = 0 (default: False)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.SGD([w], lr=0.1, momentum=0.9)
        >>> opt.step([np.array([1.0, 1.0, 1.0])])
        >>> w
        array([0.9, 1.9, 2.9])

    References:
        Sutskever, Martens, Dahl, Hinton, "On the importance of initialization
        and momentum in deep learning", ICML 2013.
    """, lr=0.001, weight_decay_l2=0)

    rule = "sgd"
    step_in_state = False

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("momentum", V.nonneg), ("dampening", V.number), ("weight_decay", V.nonneg),
               ("nesterov", V.boolean), ("maximize", V.boolean))

    def _check_group(self, group, index):
        Optimizer._check_group(self, group, index)  # explicit: the functional API passes the class
        V.nesterov(group, index)

    def _buffer_names(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else (None,)

    def _scalars(self, group, step):
        mom = float(group["momentum"])
        wd = float(group["weight_decay"])
        flags = (1 if mom != 0 else 0) | (2 if (mom != 0 and step == 1) else 0) \
            | (4 if group["nesterov"] else 0) | (8 if wd != 0 else 0)
        return (-1.0 if group["maximize"] else 1.0, wd, mom, 1.0 - float(group["dampening"]),
                -float(group["lr"])), flags
