"""Lion: EvoLved Sign Momentum (Chen et al., 2023)."""
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["Lion"]


class Lion(Optimizer):
    __doc__ = fill(r"""Lion, EvoLved Sign Momentum (Chen et al., 2023).

    The update is the sign of an interpolation between the momentum and the
    gradient, so every element moves by exactly the learning rate (plus
    decoupled weight decay); the momentum itself is tracked with a second,
    slower coefficient:

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        c_t &\leftarrow (1-\beta_1)\, g_t + \beta_1 m_{{t-1}} \\
        \theta_t &\leftarrow \theta_{{t-1}} - \gamma\,(\operatorname{{sign}}(c_t) + \lambda\,\theta_{{t-1}}) \\
        m_t &\leftarrow (1-\beta_2)\, g_t + \beta_2 m_{{t-1}}

    with :math:`\operatorname{{sign}}(0) = 0`; the op order is optax's
    (``scale_by_lion``, then decoupled weight decay, then ``-lr``). Use a
    learning rate 3-10x smaller than AdamW's and a weight decay 3-10x larger
    (the paper's advice). State per param: ``step`` and ``exp_avg``
    (:math:`m`). One fused pass per step moves 5 elements per parameter (read
    p, g, m; write p, m): 20 bytes in float32.

    Args:
        {params}
        {lr}
        betas: coefficients :math:`(\beta_1, \beta_2)` of the update
            interpolation and of the momentum, each in [0, 1) (default: (0.9, 0.99))
        weight_decay: decoupled weight decay :math:`\lambda`, >= 0 (default: 0)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Lion([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 0.0])])
        >>> w
        array([0.9, 2.1, 3. ])

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023
        (arXiv:2302.06675).
    """, lr=0.0001)

    rule = "lion"

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize=False, n_threads=None,
                 flush_denormals=False, **tools):
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("betas", V.betas), ("weight_decay", V.nonneg), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("exp_avg",)

    def _scalars(self, group, step):
        b1, b2 = (float(b) for b in group["betas"])
        wd = float(group["weight_decay"])
        return (-1.0 if group["maximize"] else 1.0, b1, 1.0 - b1, b2, 1.0 - b2, wd,
                -float(group["lr"])), (1 if wd != 0 else 0)
