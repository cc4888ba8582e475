"""LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg, 2017)."""
import numpy as np

from . import _validation as V
from ._docs import fill
from ._multipass import InputStash, SpanCache
from .optimizer import Optimizer

__all__ = ["LARS"]


def lars_ratio(w_sq, g_sq, trust_coefficient, weight_decay, eps):
    """Per-tensor trust ratios from the sums of squares (double; 1 where a norm is 0)."""
    wn = np.sqrt(np.asarray(w_sq, dtype=np.float64))
    gn = np.sqrt(np.asarray(g_sq, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (wn / (gn + weight_decay * wn + eps)) * trust_coefficient
    return np.where((wn == 0) | (gn == 0), 1.0, r)


class LARS(InputStash, Optimizer):
    __doc__ = fill(r"""LARS (You, Gitman & Ginsburg, 2017): momentum SGD with a per-tensor trust ratio.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        r_t &\leftarrow \eta\, \frac{{\|\theta_{{t-1}}\|}}
             {{\|g_t\| + \lambda \|\theta_{{t-1}}\| + \epsilon}}
             \quad (1 \text{{ if }} \|\theta_{{t-1}}\| = 0 \text{{ or }} \|g_t\| = 0) \\
        d_t &\leftarrow r_t\, (g_t + \lambda\,\theta_{{t-1}}) \\
        b_t &\leftarrow \begin{{cases}} d_t & t = 1 \\
                 \mu\, b_{{t-1}} + (1-\tau)\, d_t & t > 1 \end{{cases}} \qquad
        \theta_t \leftarrow \theta_{{t-1}} - \gamma \begin{{cases}} d_t + \mu b_t & \text{{nesterov}} \\
                 b_t & \text{{otherwise}} \end{{cases}}

    with trust coefficient :math:`\eta`, weight decay :math:`\lambda`,
    momentum :math:`\mu`, dampening :math:`\tau`, learning rate :math:`\gamma`
    (without momentum, :math:`\theta_t = \theta_{{t-1}} - \gamma d_t`). The norms
    are per tensor (each param array is a "layer"); the ratio is the paper's
    local learning rate, with :math:`\epsilon` guarding the denominator; the
    momentum follows torch.optim.SGD (first buffer = first direction). The
    ratio is 1 when either norm is 0 (fresh zero-initialised layers, zero
    gradients), as the common implementations do. ``optax.lars`` gives the
    same steps without weight decay (tested when optax is installed); with
    weight decay optax divides by :math:`\|g_t + \lambda\theta_{{t-1}}\|`
    instead of the paper's :math:`\|g_t\| + \lambda\|\theta_{{t-1}}\|`
    kept here.

    Biases and normalisation parameters are usually excluded from the
    adaptation: put them in a param group with ``lars_exclude=True``, which
    makes that group plain momentum SGD (its ``weight_decay`` still applies as
    L2; set it to 0 in the group to exclude them from decay too).

    Two fused passes per step: (1) reduce :math:`\|\theta\|^2` and
    :math:`\|g\|^2` per tensor (reads p, g); (2) the SGD update scaled by
    the ratio (reads p, g, b; writes p, b): 7 elements moved per parameter
    with momentum, 28 bytes in float32 (5 without momentum; excluded groups
    run pass 2 only). Norms are accumulated in double in a fixed order: the
    result depends on neither the thread count nor the instruction set.
    State per param: ``momentum_buffer`` (with momentum).

    Args:
        {params}
        {lr}
        momentum: momentum factor :math:`\mu`, >= 0 (default: 0.9)
        dampening: dampening :math:`\tau` for momentum (default: 0)
        weight_decay: weight decay :math:`\lambda`, added to the gradient and
            inside the trust ratio, >= 0 (default: 0)
        nesterov: use Nesterov momentum; needs momentum > 0 and dampening = 0 (default: False)
        trust_coefficient: :math:`\eta`, > 0 (default: 0.001)
        eps: term added to the ratio's denominator, >= 0 (default: 1e-08)
        lars_exclude: group option: plain momentum SGD for this group, no
            trust ratio (default: False)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 2.0])
        >>> opt = fastopt.LARS([w], lr=1.0, trust_coefficient=0.01)
        >>> opt.step([np.array([0.0, 3.0, 4.0])])
        >>> w.round(6)
        array([1.   , 1.982, 1.976])

    References:
        You, Gitman & Ginsburg, "Large Batch Training of Convolutional
        Networks", arXiv:1708.03888, 2017.
    """, lr=0.001)

    rule = "lars"
    step_in_state = False

    def __init__(self, params, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
                 trust_coefficient=0.001, eps=1e-8, *, lars_exclude=False, maximize=False, n_threads=None,
                 flush_denormals=False, **tools):
        self._spans = SpanCache()
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, trust_coefficient=trust_coefficient, eps=eps,
                        lars_exclude=lars_exclude, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("momentum", V.nonneg), ("dampening", V.number), ("weight_decay", V.nonneg),
               ("nesterov", V.boolean), ("trust_coefficient", V.positive), ("eps", V.nonneg),
               ("lars_exclude", V.boolean), ("maximize", V.boolean))

    def _check_group(self, group, index):
        Optimizer._check_group(self, group, index)  # explicit: the functional API passes the class
        V.nesterov(group, index)

    def _buffer_names(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else (None,)

    def _scalars(self, group, step):
        mom = float(group["momentum"])
        wd = float(group["weight_decay"])
        f = (1 if mom != 0 else 0) | (2 if (mom != 0 and step == 1) else 0) | (4 if group["nesterov"] else 0) \
            | (8 if wd != 0 else 0) | (0 if group["lars_exclude"] else 16)
        return (-1.0 if group["maximize"] else 1.0, wd, mom, 1.0 - float(group["dampening"]),
                -float(group["lr"])), 1 | (f << 1)

    def _run_plan(self, plan, group, step, n_threads):
        scalars, flags = self._scalars(group, step)
        ratio = None
        if not group["lars_exclude"]:
            info = self._spans.get(plan)
            plan.run(self._rule_id, scalars, 0, n_threads, self.flush_denormals, out=info.out, observe=False)
            ratio = lars_ratio(info.sums(0), info.sums(1), float(group["trust_coefficient"]),
                               float(group["weight_decay"]), float(group["eps"])).reshape(-1, 1)
            self._rebind_inputs(plan, group)
        plan.run(self._rule_id, scalars, flags, n_threads, self.flush_denormals, per_tensor=ratio)
