"""Adam and AdamW (torch.optim.Adam / torch.optim.AdamW)."""
import math

from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]

_ADAM_MATH = r"""
    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        \theta_{{t-1}} &\leftarrow \theta_{{t-1}}(1 - \gamma\lambda)
            \quad\text{{(decoupled decay, AdamW)}} \qquad
        g_t \leftarrow g_t + \lambda\theta_{{t-1}} \quad\text{{(L2, Adam)}} \\
        m_t &\leftarrow \beta_1 m_{{t-1}} + (1-\beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{{t-1}} + (1-\beta_2) g_t^2 \\
        \hat v_t &\leftarrow \max(\hat v_{{t-1}}, v_t) \quad\text{{(amsgrad; else }} \hat v_t = v_t) \\
        \theta_t &\leftarrow \theta_{{t-1}} - \frac{{\gamma}}{{1-\beta_1^t}}\,
            \frac{{m_t}}{{\sqrt{{\hat v_t}}/\sqrt{{1-\beta_2^t}} + \epsilon}}

    Same operation order as torch: :math:`m_t` is torch's ``lerp`` (``m + (1-β1)(g - m)``),
    the bias corrections and the step size are computed in double once per step,
    and :math:`\epsilon` is added after dividing :math:`\sqrt{{\hat v_t}}` by
    :math:`\sqrt{{1-\beta_2^t}}`. State per param: ``step``, ``exp_avg``
    (:math:`m`), ``exp_avg_sq`` (:math:`v`), and ``max_exp_avg_sq`` with
    amsgrad. One fused pass per step moves 7 elements per parameter (read
    p, g, m, v; write p, m, v), 9 with amsgrad: 28 (36) bytes in float32.
"""


class Adam(Optimizer):
    __doc__ = fill(r"""Adam (Kingma & Ba, 2015), torch.optim.Adam semantics.
""" + _ADAM_MATH + r"""
    Args:
        {params}
        {lr}
        betas: coefficients :math:`(\beta_1, \beta_2)` of the running averages of
            the gradient and its square, each in [0, 1) (default: (0.9, 0.999))
        eps: term added to the denominator, > 0 (default: 1e-8)
        {weight_decay_l2}
        amsgrad: use the maximum of past second moments (AMSGrad, Reddi et
            al. 2018) (default: False)
        {maximize}
        decoupled_weight_decay: apply weight decay as AdamW does,
            :math:`\theta \leftarrow \theta(1-\gamma\lambda)` (default: False)
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Adam([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.9, 2.1, 2.9])

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
        Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.
    """, lr=0.001, weight_decay_l2=0)

    rule = "adam"
    _decoupled_default = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=None, n_threads=None, flush_denormals=False, **tools):
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled_default
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("betas", V.betas), ("eps", V.positive), ("weight_decay", V.nonneg),
                ("amsgrad", V.boolean), ("maximize", V.boolean), ("decoupled_weight_decay", V.boolean))

    def _buffer_names(self, group):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if group["amsgrad"] else None)

    def _scalars(self, group, step):
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        beta1, beta2 = float(beta1), float(beta2)
        wd = float(group["weight_decay"])
        decoupled = bool(group["decoupled_weight_decay"])
        bc1 = 1.0 - beta1 ** step
        bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
        w1 = 1.0 - beta1
        flags = (1 if group["amsgrad"] else 0) | (2 if (wd != 0 and not decoupled) else 0) | (4 if w1 >= 0.5 else 0)
        decay = 1.0 - lr * wd if decoupled else 1.0
        return (-1.0 if group["maximize"] else 1.0, wd, decay, w1, beta2, 1.0 - beta2, bc2_sqrt,
                float(group["eps"]), -(lr / bc1)), flags


class AdamW(Adam):
    __doc__ = fill(r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019),
    torch.optim.AdamW semantics (Adam with ``decoupled_weight_decay=True``).
""" + _ADAM_MATH + r"""
    Args:
        {params}
        {lr}
        betas: coefficients :math:`(\beta_1, \beta_2)`, each in [0, 1) (default: (0.9, 0.999))
        eps: term added to the denominator, > 0 (default: 1e-8)
        weight_decay: decoupled decay coefficient :math:`\lambda`:
            :math:`\theta \leftarrow \theta(1-\gamma\lambda)` before the update (default: 0.01)
        amsgrad: use AMSGrad (default: False)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.AdamW([w], lr=0.1, weight_decay=0.1)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.89, 2.08, 2.87])

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """, lr=0.001)

    _decoupled_default = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, n_threads=None, flush_denormals=False, **tools):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, n_threads=n_threads,
                         flush_denormals=flush_denormals, **tools)
