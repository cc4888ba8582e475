"""Diagonal Levenberg-Marquardt (LeCun et al., "Efficient BackProp", 1998)."""
from collections.abc import Mapping

from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["DiagonalLM"]


class DiagonalLM(Optimizer):
    __doc__ = fill(r"""Diagonal Levenberg-Marquardt (LeCun, Bottou, Orr & Müller, 1998).

    A Newton step with a diagonal curvature estimate :math:`h` that the caller
    computes (e.g. the diagonal of the Gauss-Newton matrix, or a
    Hutchinson estimate), damped by :math:`\mu` so that elements with tiny or
    noisy curvature do not take huge steps:

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        a_t &\leftarrow \begin{{cases}} h_t & \text{{no averaging, or }} t = 1 \\
            \delta\, a_{{t-1}} + (1-\delta)\, h_t & \text{{with hessian\_decay }} \delta \end{{cases}} \\
        \theta_t &\leftarrow \theta_{{t-1}} - \frac{{\gamma\, g_t}}{{a_t + \mu}}

    ``step(grads, hessian_diag)`` takes both per-step inputs, each a list in
    param order or a dict by name (a param whose grad or Hessian entry is None
    is skipped). The estimate is trusted as given: it should be >= 0 (a
    negative entry below :math:`-\mu` reverses the step). With
    ``hessian_decay`` the running average ``hessian_avg`` starts at the first
    estimate (no zero-initialisation bias). State per param: with
    ``hessian_decay``, ``step`` and ``hessian_avg``; none without. One fused pass per step moves 4
    elements per parameter (read p, g, h; write p), 6 with averaging (also
    read and write the average): 16 (24) bytes in float32.

    Args:
        {params}
        {lr}
        mu: damping :math:`\mu` added to the curvature, > 0 (default: 0.01)
        hessian_decay: coefficient :math:`\delta` in [0, 1) of a running average of the
            estimates; None uses each step's estimate as is (default: None)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    Call ``opt.step(grads, hessian_diag)``; ``opt.step(closure=f)`` evaluates
    ``f() -> (loss, grads, hessian_diag)`` first. Each step is one fused C
    pass per param group and dtype.

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.DiagonalLM([w], lr=0.5, mu=0.5)
        >>> opt.step([np.array([1.0, -1.0, 2.0])], [np.array([0.5, 1.5, 0.0])])
        >>> w
        array([0.5 , 2.25, 1.  ])

    References:
        LeCun, Bottou, Orr & Müller, "Efficient BackProp", in Neural Networks:
        Tricks of the Trade, Springer LNCS 1524, 1998.
        Becker & LeCun, "Improving the Convergence of Back-Propagation Learning
        with Second Order Methods", Connectionist Models Summer School, 1988.
    """, lr=0.001)

    rule = "diag_lm"
    n_inputs = 2
    _input_names = ("grads", "hessian_diag")

    def __init__(self, params, lr=1e-3, mu=1e-2, hessian_decay=None, *, maximize=False, n_threads=None,
                 flush_denormals=False, **tools):
        defaults = dict(lr=lr, mu=mu, hessian_decay=hessian_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    def _check_group(self, group, index):
        V.nonneg("lr", group["lr"], index)
        V.positive("mu", group["mu"], index)
        if group["hessian_decay"] is not None:
            V.unit_interval("hessian_decay", group["hessian_decay"], index)
        V.boolean("maximize", group["maximize"], index)

    def _buffer_names(self, group):
        return ("hessian_avg",) if group["hessian_decay"] is not None else (None,)

    def _scalars(self, group, step):
        decay = group["hessian_decay"]
        avg = decay is not None
        decay = float(decay) if avg else 0.0
        flags = (1 | (2 if step == 1 else 0)) if avg else 0
        return (-1.0 if group["maximize"] else 1.0, decay, 1.0 - decay, float(group["mu"]),
                -float(group["lr"])), flags

    def _split_input(self, what, values):
        try:
            return self._split_grads(values)
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            if msg.startswith("grads:"):
                msg = what + msg[len("grads"):]
            raise type(exc)(msg) from None

    def step(self, grads=None, hessian_diag=None, closure=None):
        """One step. ``grads`` and ``hessian_diag`` are lists in param order or
        dicts by name; ``closure() -> (loss, grads, hessian_diag)`` is evaluated
        first when given, and its loss returned. Everything is checked before
        anything is written."""
        args, kwargs = (grads, hessian_diag), {"closure": closure}
        for hook in list(self._step_pre_hooks.values()):
            res = hook(self, args, kwargs)
            if res is not None:
                args, kwargs = res
        grads, hessian_diag = (tuple(args) + (None, None))[:2]
        closure = kwargs.get("closure")
        loss = None
        if closure is not None:
            res = closure()
            if not (isinstance(res, tuple) and len(res) == 3):
                raise TypeError("closure: must return a (loss, grads, hessian_diag) tuple")
            loss, grads, hessian_diag = res
        if grads is None:
            raise TypeError("step: pass grads and hessian_diag, or a closure returning (loss, grads, hessian_diag)")
        if hessian_diag is None:
            raise TypeError("hessian_diag: required (one diagonal curvature estimate per param)")
        if isinstance(grads, Mapping) != isinstance(hessian_diag, Mapping):
            raise TypeError("hessian_diag: pass it in the same structure as grads (both lists or both dicts)")
        self._apply([self._split_input("grads", grads), self._split_input("hessian_diag", hessian_diag)])
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return loss
