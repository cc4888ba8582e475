"""RAdam (torch.optim.RAdam)."""
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer
from .reference.radam import radam_scalars

__all__ = ["RAdam"]


class RAdam(Optimizer):
    __doc__ = fill(r"""RAdam: Adam with variance rectification (Liu et al., 2020),
    torch.optim.RAdam semantics.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        \theta_{{t-1}} &\leftarrow \theta_{{t-1}}(1 - \gamma\lambda)
            \quad\text{{(decoupled)}} \qquad
        g_t \leftarrow g_t + \lambda\theta_{{t-1}} \quad\text{{(L2)}} \\
        m_t &\leftarrow \beta_1 m_{{t-1}} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{{t-1}} + (1-\beta_2) g_t^2 \\
        \hat m_t &\leftarrow m_t / (1-\beta_1^t) \\
        \rho_\infty &= \frac{{2}}{{1-\beta_2}} - 1, \qquad
        \rho_t = \rho_\infty - \frac{{2t\beta_2^t}}{{1-\beta_2^t}} \\
        r_t &= \sqrt{{\frac{{(\rho_t-4)(\rho_t-2)\rho_\infty}}{{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}}} \\
        \theta_t &\leftarrow \begin{{cases}}
            \theta_{{t-1}} - \gamma\,\hat m_t\, \dfrac{{\sqrt{{1-\beta_2^t}}}}{{\sqrt{{v_t}}+\epsilon}}\, r_t
                & \rho_t > 5 \\
            \theta_{{t-1}} - \gamma\,\hat m_t & \text{{otherwise}} \end{{cases}}

    with learning rate :math:`\gamma` and weight decay :math:`\lambda`; the
    sign is negative when ``maximize``. Same operation order as torch
    (:math:`m_t` is torch's ``lerp``; the adaptive factor is computed as
    :math:`\sqrt{{1-\beta_2^t}} \cdot (1/(\sqrt{{v_t}}+\epsilon))`). Every
    per-step quantity (bias corrections, :math:`\rho_t`, :math:`r_t`) is
    computed in double once per step, and whether the step is rectified is
    chosen there: each case is its own specialised loop. With the default
    :math:`\beta_2 = 0.999`, :math:`\rho_t` first exceeds 5 at step 6. State
    per param: ``step``, ``exp_avg`` (:math:`m`) and ``exp_avg_sq``
    (:math:`v`). One fused pass per step moves 7 elements per parameter (read
    p, g, m, v; write p, m, v): 28 bytes in float32.

    Args:
        {params}
        lr: learning rate, >= 0 (default: 0.001)
        betas: coefficients :math:`(\beta_1, \beta_2)` of the running averages of
            the gradient and its square, each in [0, 1) (default: (0.9, 0.999))
        eps: term added to the denominator, > 0 (default: 1e-08)
        weight_decay: weight decay coefficient :math:`\lambda`, >= 0: an L2
            penalty added to the gradient, or with ``decoupled_weight_decay``
            a decay :math:`\theta \leftarrow \theta(1-\gamma\lambda)` (default: 0)
        decoupled_weight_decay: decay the weights as AdamW does instead of
            adding an L2 penalty to the gradient (default: False)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.RAdam([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.95, 2.1 , 2.8 ])

    References:
        Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive
        Learning Rate and Beyond", ICLR 2020.
    """)

    rule = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False, n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("betas", V.betas), ("eps", V.positive), ("weight_decay", V.nonneg),
                ("decoupled_weight_decay", V.boolean), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _scalars(self, group, step):
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        beta1, beta2 = float(beta1), float(beta2)
        wd = float(group["weight_decay"])
        decoupled = bool(group["decoupled_weight_decay"])
        w1 = 1.0 - beta1
        bc2, _, rect = radam_scalars(beta2, step)
        flags = (1 if (wd != 0 and not decoupled) else 0) | (2 if w1 >= 0.5 else 0) | (4 if rect is not None else 0)
        decay = 1 - lr * wd if (decoupled and wd != 0) else 1.0
        return (-1.0 if group["maximize"] else 1.0, wd, decay, w1, beta2, 1.0 - beta2, 1 - beta1 ** step, lr,
                bc2 ** 0.5, float(group["eps"]), 0.0 if rect is None else rect), flags
