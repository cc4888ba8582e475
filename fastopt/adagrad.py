"""Adagrad (torch.optim.Adagrad)."""
import numpy as np

from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    __doc__ = fill(r"""Adagrad (Duchi, Hazan & Singer, 2011), torch.optim.Adagrad semantics.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) + \lambda\,\theta_{{t-1}} \\
        \tilde\gamma_t &\leftarrow \frac{{\gamma}}{{1 + (t-1)\,\eta}} \\
        s_t &\leftarrow s_{{t-1}} + g_t^2 \qquad (s_0 = \text{{initial\_accumulator\_value}}) \\
        \theta_t &\leftarrow \theta_{{t-1}} - \tilde\gamma_t\,\frac{{g_t}}{{\sqrt{{s_t}} + \epsilon}}

    with learning rate :math:`\gamma`, learning-rate decay :math:`\eta` and
    weight decay :math:`\lambda`; the sign is negative when ``maximize``.
    Same operation order as torch: :math:`\epsilon` is added outside the
    square root and the decayed step size is computed in double once per
    step. State per param: ``step`` and ``sum`` (:math:`s`), created at a
    param's first step (torch creates them in the constructor; the values are
    the same). One fused pass per step moves 5 elements per parameter (read
    p, g, s; write p, s): 20 bytes in float32.

    Args:
        {params}
        lr: learning rate, >= 0 (default: 0.01)
        lr_decay: learning-rate decay :math:`\eta`, >= 0 (default: 0)
        {weight_decay_l2}
        initial_accumulator_value: starting value of every element of ``sum``,
            >= 0 (default: 0)
        eps: term added to the denominator, > 0 (default: 1e-10)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Adagrad([w], lr=0.1, initial_accumulator_value=1.0)
        >>> opt.step([np.array([1.0, -2.0, 0.0])])
        >>> w.round(6)
        array([0.929289, 2.089443, 3.      ])

    References:
        Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online
        Learning and Stochastic Optimization", JMLR 12 (2011).
    """, weight_decay_l2=0)

    rule = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False, n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        self._new_state_group = None
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("lr_decay", V.nonneg), ("weight_decay", V.nonneg),
                ("initial_accumulator_value", V.nonneg), ("eps", V.positive), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("sum",)

    def _build_runtime(self, gi):
        # _init_buffer is told only the param; remember whose group is being
        # built so that a new 'sum' starts at that group's initial value.
        self._new_state_group = self.param_groups[gi]
        try:
            return super()._build_runtime(gi)
        finally:
            self._new_state_group = None

    def _init_buffer(self, name, param):
        return np.full_like(param, float(self._new_state_group["initial_accumulator_value"]))

    def _scalars(self, group, step):
        lr = float(group["lr"])
        wd = float(group["weight_decay"])
        clr = lr / (1 + (step - 1) * float(group["lr_decay"]))
        return (-1.0 if group["maximize"] else 1.0, wd, float(group["eps"]), -clr), (1 if wd != 0 else 0)
