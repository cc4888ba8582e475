"""RMSprop (torch.optim.RMSprop)."""
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    __doc__ = fill(r"""RMSprop (Hinton, 2012), optionally centered (Graves, 2013) and with
    momentum; torch.optim.RMSprop semantics.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) + \lambda\,\theta_{{t-1}} \\
        v_t &\leftarrow \alpha\, v_{{t-1}} + (1-\alpha)\, g_t^2 \\
        \bar g_t &\leftarrow \alpha\, \bar g_{{t-1}} + (1-\alpha)\, g_t
            \quad\text{{(centered)}} \\
        a_t &\leftarrow \sqrt{{v_t - \bar g_t^2}} + \epsilon \quad\text{{(centered), else}}
            \quad a_t \leftarrow \sqrt{{v_t}} + \epsilon \\
        b_t &\leftarrow \mu\, b_{{t-1}} + g_t / a_t, \quad
            \theta_t \leftarrow \theta_{{t-1}} - \gamma\, b_t \quad\text{{(momentum > 0)}} \\
        \theta_t &\leftarrow \theta_{{t-1}} - \gamma\, g_t / a_t \quad\text{{(otherwise)}}

    with learning rate :math:`\gamma`, smoothing constant :math:`\alpha`,
    momentum :math:`\mu` and weight decay :math:`\lambda`; the sign is
    negative when ``maximize``. Same operation order as torch (:math:`\bar g`
    is torch's ``lerp``, :math:`\epsilon` is added outside the square root).
    State per param: ``step``, ``square_avg`` (:math:`v`), ``momentum_buffer``
    (:math:`b`) when momentum > 0, ``grad_avg`` (:math:`\bar g`) when
    centered. One fused pass per step moves 5 elements per parameter (read p,
    g, v; write p, v), plus 2 with momentum and 2 centered: 20 to 36 bytes in
    float32.

    Args:
        {params}
        lr: learning rate, >= 0 (default: 0.01)
        alpha: smoothing constant :math:`\alpha`, >= 0 (default: 0.99)
        eps: term added to the denominator, > 0 (default: 1e-08)
        {weight_decay_l2}
        momentum: momentum factor :math:`\mu`, >= 0 (default: 0)
        centered: divide by an estimate of the gradient's variance instead of
            its second moment (default: False)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.RMSprop([w], lr=0.01, alpha=0.9)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.968377, 2.031623, 2.968377])

    References:
        Hinton, Srivastava & Swersky, "Neural Networks for Machine Learning",
        Coursera lecture 6e, 2012.
        Graves, "Generating Sequences With Recurrent Neural Networks",
        arXiv:1308.0850, 2013.
    """, weight_decay_l2=0)

    rule = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *,
                 maximize=False, n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("alpha", V.nonneg), ("eps", V.positive), ("weight_decay", V.nonneg),
                ("momentum", V.nonneg), ("centered", V.boolean), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("square_avg", "momentum_buffer" if group["momentum"] > 0 else None,
                "grad_avg" if group["centered"] else None)

    def _scalars(self, group, step):
        alpha = float(group["alpha"])
        wd = float(group["weight_decay"])
        mom = float(group["momentum"])
        w = 1.0 - alpha
        centered = bool(group["centered"])
        flags = (1 if wd != 0 else 0) | (2 if centered else 0) | (4 if mom > 0 else 0) \
            | (8 if (centered and w >= 0.5) else 0)
        return (-1.0 if group["maximize"] else 1.0, wd, alpha, w, float(group["eps"]), mom,
                -float(group["lr"])), flags
