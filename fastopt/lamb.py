"""LAMB: layer-wise adaptive moments for large-batch training (You et al. 2019)."""
import numpy as np

from . import _validation as V
from ._docs import fill
from ._multipass import SpanCache, rebind_dummy, safe_ratio
from .optimizer import Optimizer

__all__ = ["LAMB"]


class LAMB(Optimizer):
    __doc__ = fill(r"""LAMB (You et al., 2019), as optax's ``lamb`` defines it.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        m_t &\leftarrow (1-\beta_1) g_t + \beta_1 m_{{t-1}} \\
        v_t &\leftarrow (1-\beta_2) g_t^2 + \beta_2 v_{{t-1}} \\
        u_t &\leftarrow \frac{{m_t / (1-\beta_1^t)}}{{\sqrt{{v_t / (1-\beta_2^t)}} + \epsilon}}
             + \lambda\,\theta_{{t-1}} \\
        r_t &\leftarrow \begin{{cases}} \|\theta_{{t-1}}\| / \|u_t\| & \|\theta_{{t-1}}\| > 0
             \text{{ and }} \|u_t\| > 0 \\ 1 & \text{{otherwise}} \end{{cases}} \\
        \theta_t &\leftarrow \theta_{{t-1}} - \gamma\, r_t\, u_t

    The norms are per tensor (each param array is one "layer"), with
    :math:`\phi` the identity as in the paper's experiments and in optax.
    :math:`\epsilon` is added outside the square root of the bias-corrected
    second moment (optax's ``scale_by_adam`` with ``eps_root=0``); the weight
    decay is decoupled and inside the trust ratio (optax's
    ``add_decayed_weights`` before ``scale_by_trust_ratio``). Same operation
    order as optax; the two norms are accumulated in double (optax uses the
    param dtype), so float32 trust ratios are slightly more accurate.

    Two fused passes per step: (1) update ``exp_avg``/``exp_avg_sq`` and
    reduce :math:`\|\theta\|^2` and :math:`\|u\|^2` per tensor; (2) recompute
    :math:`u` from the stored moments and apply the trust ratio. :math:`u` is
    never stored. Memory traffic: 6 + 4 = 10 elements per parameter, 40 bytes
    in float32. Reductions are deterministic: the result depends on neither
    the thread count nor the instruction set. State per param: ``step``,
    ``exp_avg``, ``exp_avg_sq``.

    Args:
        {params}
        {lr}
        betas: coefficients :math:`(\beta_1, \beta_2)` of the running averages of
            the gradient and its square, each in [0, 1) (default: (0.9, 0.999))
        eps: term added to the denominator, > 0 (default: 1e-06)
        weight_decay: decoupled decay :math:`\lambda`, added to the update
            before the trust ratio, >= 0 (default: 0)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.LAMB([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.783975, 2.216025, 2.783975])

    References:
        You et al., "Large Batch Optimization for Deep Learning: Training BERT
        in 76 minutes", ICLR 2020 (arXiv:1904.00962, 2019).
    """, lr=0.001)

    rule = "lamb"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *, maximize=False,
                 n_threads=None, flush_denormals=False, **tools):
        self._spans = SpanCache()
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("betas", V.betas), ("eps", V.positive), ("weight_decay", V.nonneg),
                ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _scalars(self, group, step):
        b1, b2 = (float(b) for b in group["betas"])
        wd = float(group["weight_decay"])
        return (-1.0 if group["maximize"] else 1.0, 1.0 - b1, b1, 1.0 - b2, b2, 1.0 / (1.0 - b1 ** step),
                1.0 / (1.0 - b2 ** step), float(group["eps"]), wd, -float(group["lr"])), (2 if wd != 0 else 0)

    def _run_plan(self, plan, group, step, n_threads):
        scalars, flags = self._scalars(group, step)
        info = self._spans.get(plan)
        plan.run(self._rule_id, scalars, flags, n_threads, self.flush_denormals, out=info.out,
                 observe=False)
        ratio = safe_ratio(np.sqrt(info.sums(0)), np.sqrt(info.sums(1))).reshape(-1, 1)
        rebind_dummy(plan)
        plan.run(self._rule_id, scalars, flags | 1, n_threads, self.flush_denormals, per_tensor=ratio)
