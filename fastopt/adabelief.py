"""AdaBelief (Zhuang et al., 2020), as optax defines it."""
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["AdaBelief"]


class AdaBelief(Optimizer):
    __doc__ = fill(r"""AdaBelief (Zhuang et al., 2020): Adam whose second moment tracks the
    "belief" :math:`(g - m)^2`, the squared deviation of the gradient from
    its prediction, instead of :math:`g^2`. Follows optax's definition
    (``optax.adabelief`` = ``scale_by_belief`` + learning rate):

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        \theta_{{t-1}} &\leftarrow \theta_{{t-1}}(1 - \gamma\lambda)
            \quad\text{{(decoupled)}} \qquad
        g_t \leftarrow g_t + \lambda\theta_{{t-1}} \quad\text{{(L2)}} \\
        m_t &\leftarrow (1-\beta_1)\, g_t + \beta_1 m_{{t-1}} \\
        s_t &\leftarrow (1-\beta_2)\,(g_t - m_t)^2 + \beta_2 s_{{t-1}} + \epsilon_{{root}} \\
        \theta_t &\leftarrow \theta_{{t-1}} - \gamma\,
            \frac{{m_t / (1-\beta_1^t)}}{{\sqrt{{s_t / (1-\beta_2^t)}} + \epsilon}}

    Placement of the two epsilons (as optax): :math:`\epsilon_{{root}}` is
    added to the stored :math:`s_t` every step (so it accumulates, as in the
    paper's Algorithm 2), :math:`\epsilon` outside the square root. The
    prediction error is taken against the new :math:`m_t`, as in the paper's
    Algorithm 2 and optax's ``scale_by_belief`` (tested against optax 0.2.8
    when it is installed). The bias corrections are computed in
    double once per step, and the kernel divides by them as optax does.
    Weight decay is decoupled by default (AdamW-style, as the authors'
    reference implementation's ``weight_decouple=True``) or an L2 term.
    State per param: ``step``, ``exp_avg`` (:math:`m`) and ``exp_avg_var``
    (:math:`s`). One fused pass per step moves 7 elements per parameter (read
    p, g, m, s; write p, m, s): 28 bytes in float32.

    Args:
        {params}
        {lr}
        betas: coefficients :math:`(\beta_1, \beta_2)`, each in [0, 1) (default: (0.9, 0.999))
        eps: term added outside the square root, > 0 (default: 1e-16)
        eps_root: term added to :math:`s_t` inside the square root, >= 0 (default: 1e-16)
        weight_decay: weight decay :math:`\lambda`, >= 0 (default: 0)
        decoupled_weight_decay: decay the params as AdamW does,
            :math:`\theta \leftarrow \theta(1-\gamma\lambda)`; else add
            :math:`\lambda\theta` to the gradient (default: True)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.AdaBelief([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)  # the first step moves lr / beta1 (optax gives the same)
        array([0.888889, 2.111111, 2.888889])

    References:
        Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
        Observed Gradients", NeurIPS 2020 (arXiv:2010.07468).
    """, lr=0.001)

    rule = "adabelief"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, eps_root=1e-16, weight_decay=0.0, *,
                 decoupled_weight_decay=True, maximize=False, n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, betas=betas, eps=eps, eps_root=eps_root, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("betas", V.betas), ("eps", V.positive), ("eps_root", V.nonneg),
                ("weight_decay", V.nonneg), ("decoupled_weight_decay", V.boolean), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("exp_avg", "exp_avg_var")

    def _scalars(self, group, step):
        lr = float(group["lr"])
        b1, b2 = (float(b) for b in group["betas"])
        wd = float(group["weight_decay"])
        dec = bool(group["decoupled_weight_decay"])
        l2 = wd != 0 and not dec
        return (-1.0 if group["maximize"] else 1.0, 1.0 - lr * wd if dec else 1.0, wd, b1, 1.0 - b1, b2, 1.0 - b2,
                float(group["eps_root"]), 1.0 - b1 ** step, 1.0 - b2 ** step, float(group["eps"]), -lr), \
            (1 if l2 else 0)
