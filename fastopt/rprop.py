"""Rprop: resilient backpropagation (torch.optim.Rprop)."""
import numpy as np

from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["Rprop"]


def _pair(name, value, index):
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name}: expected a tuple of 2 numbers, got {type(value).__name__}"
                        f"{'' if index is None else f' (param group {index})'}") from None
    if len(items) != 2:
        raise ValueError(f"{name}: expected 2 values, got {len(items)}"
                         f"{'' if index is None else f' (param group {index})'}")
    return tuple(V.number(f"{name}[{i}]", v, index) for i, v in enumerate(items))


class Rprop(Optimizer):
    __doc__ = fill(r"""Resilient backpropagation (Riedmiller & Braun, 1993), torch.optim.Rprop semantics.

    Each element keeps its own step size, grown when the gradient keeps its
    sign and shrunk when it flips; only the sign of the gradient moves the
    parameter:

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        \eta_t &\leftarrow \begin{{cases}} \eta_+ & g_t\, g_{{t-1}} > 0 \\
            \eta_- & g_t\, g_{{t-1}} < 0 \\ 1 & \text{{otherwise}} \end{{cases}} \\
        \Delta_t &\leftarrow \min(\max(\eta_t \Delta_{{t-1}}, \Delta_{{\min}}), \Delta_{{\max}}) \\
        g_t &\leftarrow 0 \quad\text{{where }} \eta_t = \eta_- \\
        \theta_t &\leftarrow \theta_{{t-1}} - \operatorname{{sign}}(g_t)\, \Delta_t

    with :math:`\Delta_0 = \gamma` (the learning rate) and :math:`g_0 = 0`.
    As in torch, after a sign flip the stored previous gradient is the
    zeroed one, so the next step counts as "no sign information" (factor 1).
    State per param: ``step``, ``prev`` (:math:`g_{{t}}`) and ``step_size``
    (:math:`\Delta_t`, initialised to ``lr`` when the state is created).
    One fused pass per step moves 7 elements per parameter (read p, g, prev,
    step_size; write p, prev, step_size): 28 bytes in float32.

    Args:
        {params}
        lr: initial step size :math:`\Delta_0`, >= 0 (default: 0.01)
        etas: multiplicative factors :math:`(\eta_-, \eta_+)` with
            :math:`0 < \eta_- < 1 < \eta_+` (default: (0.5, 1.2))
        step_sizes: minimal and maximal step size :math:`(\Delta_{{\min}}, \Delta_{{\max}})`
            (default: (1e-06, 50))
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Rprop([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 0.0])])
        >>> opt.step([np.array([0.5, 1.0, 2.0])])
        >>> w.round(6)
        array([0.78, 2.1 , 2.9 ])

    References:
        Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation
        Learning: The RPROP Algorithm", IEEE ICNN 1993.
    """)

    rule = "rprop"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False,
                 n_threads=None, flush_denormals=False, **tools):
        self._new_buffer_lr = None
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    def _check_group(self, group, index):
        V.nonneg("lr", group["lr"], index)
        em, ep = _pair("etas", group["etas"], index)
        if not 0.0 < em < 1.0 < ep:
            raise ValueError(f"etas: expected 0 < etaminus < 1 < etaplus, got ({em}, {ep})"
                             f"{'' if index is None else f' (param group {index})'}")
        _pair("step_sizes", group["step_sizes"], index)
        V.boolean("maximize", group["maximize"], index)

    def _buffer_names(self, group):
        return ("prev", "step_size")

    def _build_runtime(self, gi):
        # New 'step_size' buffers start at the lr of the group being built.
        self._new_buffer_lr = float(self.param_groups[gi]["lr"])
        try:
            return super()._build_runtime(gi)
        finally:
            self._new_buffer_lr = None

    def _init_buffer(self, name, param):
        if name == "step_size":
            return np.full_like(param, self._new_buffer_lr)
        return np.zeros_like(param)

    def _scalars(self, group, step):
        em, ep = group["etas"]
        lo, hi = group["step_sizes"]
        return (-1.0 if group["maximize"] else 1.0, float(em), float(ep), float(lo), float(hi)), 0
