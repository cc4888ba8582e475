"""ASGD: averaged stochastic gradient descent (torch.optim.ASGD)."""
import numpy as np

from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["ASGD"]


def _eta_mu(group, t):
    """(eta, mu) that torch's state holds after `t` steps, as torch stores
    them: float32 (its default scalar dtype), returned as Python floats."""
    lr = float(group["lr"])
    if t <= 0:
        return float(np.float32(lr)), 1.0
    lambd, alpha, t0 = float(group["lambd"]), float(group["alpha"]), float(group["t0"])
    eta = lr / ((1 + lambd * lr * t) ** alpha)
    mu = 1 / max(1, t - t0)
    return float(np.float32(eta)), float(np.float32(mu))


class ASGD(Optimizer):
    __doc__ = fill(r"""Averaged stochastic gradient descent (Polyak & Juditsky, 1992), torch.optim.ASGD semantics.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) + \lambda_{{wd}}\,\theta_{{t-1}} \\
        \theta_t &\leftarrow \theta_{{t-1}}(1 - \lambda\,\eta_{{t-1}}) - \eta_{{t-1}}\, g_t \\
        \bar\theta_t &\leftarrow \begin{{cases}} \theta_t & \mu_{{t-1}} = 1 \\
            \bar\theta_{{t-1}} + \mu_{{t-1}}(\theta_t - \bar\theta_{{t-1}}) & \text{{otherwise}} \end{{cases}} \\
        \eta_t &= \frac{{\gamma}}{{(1 + \lambda\gamma t)^{{\alpha}}}}, \qquad
        \mu_t = \frac{{1}}{{\max(1, t - t_0)}}, \qquad \eta_0 = \gamma,\ \mu_0 = 1

    :math:`\bar\theta` (state ``ax``, see :meth:`averaged_params`) is the
    running average of the iterates from step :math:`t_0` on; before that it
    is a copy of the params. State per param: ``step``, ``eta``, ``mu``
    (float32 scalars, as torch keeps them: torch's default scalar dtype, so
    float64 params also see float32-rounded :math:`\eta, \mu`) and ``ax``.
    :math:`\eta` and :math:`\mu` depend only on the step count, so fastopt
    computes them once per step in Python (from the group's current options)
    rather than reading them back from the state; they are written into
    ``state`` whenever it is read. One fused pass per step updates the param
    and the average: reads p, g (and ax), writes p, ax: 4 (5) elements moved
    per parameter, 16 (20) bytes in float32.

    Args:
        {params}
        lr: learning rate :math:`\gamma`, >= 0 (default: 0.01)
        lambd: decay term :math:`\lambda` (default: 0.0001)
        alpha: power :math:`\alpha` of the eta update (default: 0.75)
        t0: step :math:`t_0` at which averaging starts (default: 1000000.0)
        weight_decay: L2 penalty :math:`\lambda_{{wd}}`, added to the gradient as
            ``g + weight_decay * p`` (default: 0)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.ASGD([w], lr=0.1, t0=0)
        >>> for _ in range(3):
        ...     opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(4)
        array([0.85  , 2.2999, 2.3999])
        >>> opt.averaged_params()[0].round(4)
        array([0.875 , 2.2499, 2.4999])

    References:
        Polyak & Juditsky, "Acceleration of Stochastic Approximation by
        Averaging", SIAM J. Control and Optimization 30(4), 1992.
        Xu, "Towards Optimal One Pass Large Scale Learning with Averaged
        Stochastic Gradient Descent", arXiv:1107.2490, 2011.
    """)

    rule = "asgd"

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False,
                 n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize)
        # torch computes a step's eta and mu at the end of the previous step,
        # from the options in force then: keep those options per group.
        self._eta_src = {}
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("lambd", V.number), ("alpha", V.number), ("t0", V.number),
                ("weight_decay", V.nonneg), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("ax",)

    def _scalars(self, group, step):
        eta, mu = _eta_mu(self._eta_src.get(id(group), group), step - 1)
        wd = float(group["weight_decay"])
        flags = (1 if wd != 0 else 0) | (2 if mu != 1 else 0)
        return (-1.0 if group["maximize"] else 1.0, wd, 1 - float(group["lambd"]) * eta, -eta, mu), flags

    def _apply(self, inputs):
        super()._apply(inputs)
        self._eta_src = {id(g): {k: g[k] for k in ("lr", "lambd", "alpha", "t0")} for g in self.param_groups}

    def _sync_steps(self, runtimes=None):
        if runtimes is None and not self._unsynced:
            return
        super()._sync_steps(runtimes)
        # Only groups stepped since the last sync (a runtime exists) can have
        # changed; load_state_dict fills every group.
        self._fill_eta_mu([g for g, rt in zip(self.param_groups, self._runtimes) if rt is not None])

    def _fill_eta_mu(self, groups):
        for group in groups:
            memo = {}  # step -> (eta, mu): params of a group are usually at one step
            for p in group["params"]:
                st = self._state.get(id(p))
                if st is not None and "step" in st:
                    t = st["step"]
                    v = memo.get(t)
                    if v is None:
                        eta, mu = _eta_mu(group, int(t))
                        v = memo[t] = (np.float32(eta), np.float32(mu))
                    dict.__setitem__(st, "eta", v[0])
                    dict.__setitem__(st, "mu", v[1])

    def load_state_dict(self, state_dict):
        # eta and mu are functions of the step (recomputed by _sync_steps):
        # drop them so the base class only sees per-element buffers.
        state = {k: {n: v for n, v in st.items() if n not in ("eta", "mu")}
                 for k, st in dict(state_dict.get("state", {})).items()} \
            if hasattr(state_dict, "get") else None
        if state is not None:
            state_dict = dict(state_dict, state=state)
        super().load_state_dict(state_dict)
        self._eta_src = {}
        self._fill_eta_mu(self.param_groups)

    def averaged_params(self):
        """The averaged params :math:`\\bar\\theta` (the live ``ax`` buffers), one per
        param in flat param order; None for a param that has not been stepped."""
        self._sync_steps()
        out = []
        for p in self._flat_params():
            st = self._state.get(id(p))
            out.append(None if st is None or "ax" not in st else st["ax"].reshape(p.shape))
        return out
