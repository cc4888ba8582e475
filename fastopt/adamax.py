"""Adamax (torch.optim.Adamax)."""
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    __doc__ = fill(r"""Adamax, the infinity-norm variant of Adam (Kingma & Ba, 2015, §7.1),
    torch.optim.Adamax semantics.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) + \lambda\,\theta_{{t-1}} \\
        m_t &\leftarrow \beta_1 m_{{t-1}} + (1-\beta_1) g_t \\
        u_t &\leftarrow \max(\beta_2 u_{{t-1}},\ |g_t| + \epsilon) \\
        \theta_t &\leftarrow \theta_{{t-1}} - \frac{{\gamma}}{{1-\beta_1^t}}\,\frac{{m_t}}{{u_t}}

    with learning rate :math:`\gamma` and weight decay :math:`\lambda`; the
    sign is negative when ``maximize``. Same operation order as torch:
    :math:`m_t` is torch's ``lerp``, :math:`\epsilon` is inside the maximum
    (so :math:`u_t \ge \epsilon` and no division by zero), the maximum
    propagates NaN as ``torch.maximum`` does, and the step size
    :math:`\gamma/(1-\beta_1^t)` is computed in double once per step. State
    per param: ``step``, ``exp_avg`` (:math:`m`) and ``exp_inf``
    (:math:`u`). One fused pass per step moves 7 elements per parameter
    (read p, g, m, u; write p, m, u): 28 bytes in float32.

    Args:
        {params}
        lr: learning rate, >= 0 (default: 0.002)
        betas: coefficients :math:`(\beta_1, \beta_2)` of the running average
            of the gradient and of the decay of the infinity norm, each in
            [0, 1) (default: (0.9, 0.999))
        eps: term added to :math:`|g_t|` inside the maximum, > 0 (default: 1e-08)
        {weight_decay_l2}
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Adamax([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.9, 2.1, 2.9])

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """, weight_decay_l2=0)

    rule = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False,
                 n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("betas", V.betas), ("eps", V.positive), ("weight_decay", V.nonneg),
                ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("exp_avg", "exp_inf")

    def _scalars(self, group, step):
        beta1, beta2 = group["betas"]
        beta1, beta2 = float(beta1), float(beta2)
        wd = float(group["weight_decay"])
        w1 = 1.0 - beta1
        clr = float(group["lr"]) / (1 - beta1 ** step)
        flags = (1 if wd != 0 else 0) | (2 if w1 >= 0.5 else 0)
        return (-1.0 if group["maximize"] else 1.0, wd, w1, beta2, float(group["eps"]), -clr), flags
