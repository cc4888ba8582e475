"""NAdam (torch.optim.NAdam)."""
from collections.abc import Mapping

import numpy as np

from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer
from .reference.nadam import nadam_coefficients, nadam_mu

__all__ = ["NAdam"]


class NAdam(Optimizer):
    __doc__ = fill(r"""NAdam: Adam with Nesterov momentum (Dozat, 2016), torch.optim.NAdam
    semantics.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) \\
        \theta_{{t-1}} &\leftarrow \theta_{{t-1}}(1 - \gamma\lambda)
            \quad\text{{(decoupled)}} \qquad
        g_t \leftarrow g_t + \lambda\theta_{{t-1}} \quad\text{{(L2)}} \\
        \mu_t &= \beta_1\bigl(1 - \tfrac12\, 0.96^{{t\psi}}\bigr), \qquad
        \Pi_t = \Pi_{{t-1}}\,\mu_t \quad (\Pi_0 = 1) \\
        m_t &\leftarrow \beta_1 m_{{t-1}} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{{t-1}} + (1-\beta_2) g_t^2 \\
        d_t &= \sqrt{{v_t / (1-\beta_2^t)}} + \epsilon \\
        \theta_t &\leftarrow \theta_{{t-1}}
            - \frac{{\gamma(1-\mu_t)}}{{1-\Pi_t}}\,\frac{{g_t}}{{d_t}}
            - \frac{{\gamma\,\mu_{{t+1}}}}{{1-\Pi_t\,\mu_{{t+1}}}}\,\frac{{m_t}}{{d_t}}

    with learning rate :math:`\gamma`, momentum decay :math:`\psi` and weight
    decay :math:`\lambda`; the sign is negative when ``maximize``. Same
    operation order as torch (:math:`m_t` is torch's ``lerp``; the two terms
    are added one after the other). The schedule :math:`\mu_t,\mu_{{t+1}}`
    and both coefficients are computed in double once per step; the running
    product :math:`\Pi_t` is torch's per-param ``mu_product`` state, kept as
    a float32 scalar exactly as torch keeps it (a 0-d float32 tensor), so
    coefficients match torch bit for bit. State per param: ``step``,
    ``mu_product``, ``exp_avg`` (:math:`m`) and ``exp_avg_sq`` (:math:`v`).
    One fused pass per step moves 7 elements per parameter (read p, g, m, v;
    write p, m, v): 28 bytes in float32.

    Args:
        {params}
        lr: learning rate, >= 0 (default: 0.002)
        betas: coefficients :math:`(\beta_1, \beta_2)` of the running averages of
            the gradient and its square, each in [0, 1) (default: (0.9, 0.999))
        eps: term added to the denominator, > 0 (default: 1e-08)
        weight_decay: weight decay coefficient :math:`\lambda`, >= 0: an L2
            penalty added to the gradient, or with ``decoupled_weight_decay``
            a decay :math:`\theta \leftarrow \theta(1-\gamma\lambda)` (default: 0)
        momentum_decay: :math:`\psi` of the momentum schedule, >= 0 (default: 0.004)
        decoupled_weight_decay: decay the weights as AdamW does (NAdamW)
            instead of adding an L2 penalty to the gradient (default: False)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.NAdam([w], lr=0.1)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.894355, 2.105645, 2.894355])

    References:
        Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop.
    """)

    rule = "nadam"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False, n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        # mu_product between syncs: one float32 per param in `_mu_values`
        # (slot order `_mu_params`, which also keeps ids unique), and per plan
        # the slots of its params, so a step updates them with one vectorised
        # multiply. Written back to the state dicts whenever the base class
        # syncs the step counts (opt.state, state_dict()), then dropped so
        # that edits made through the state are read back.
        self._mu_reset()
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    _checks = (("lr", V.nonneg), ("betas", V.betas), ("eps", V.positive), ("weight_decay", V.nonneg),
                ("momentum_decay", V.nonneg), ("decoupled_weight_decay", V.boolean), ("maximize", V.boolean))

    def _buffer_names(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _scalars(self, group, step):
        """Scalars for a step in which every param's updated mu_product is
        ``group['mu_product']`` (the functional form passes it so)."""
        return NAdam._scalars_for(group, step, float(group["mu_product"]))

    @staticmethod
    def _scalars_for(group, step, mu_product, mu_next=None):
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        beta1, beta2 = float(beta1), float(beta2)
        wd = float(group["weight_decay"])
        decoupled = bool(group["decoupled_weight_decay"])
        mu, mu_next = nadam_mu(beta1, float(group["momentum_decay"]), step)
        c1, c2 = nadam_coefficients(lr, mu, mu_next, mu_product) if mu_product is not None else (0.0, 0.0)
        w1 = 1.0 - beta1
        flags = (1 if (wd != 0 and not decoupled) else 0) | (2 if w1 >= 0.5 else 0)
        decay = 1 - lr * wd if (decoupled and wd != 0) else 1.0
        return (-1.0 if group["maximize"] else 1.0, wd, decay, w1, beta2, 1.0 - beta2, 1 - beta2 ** step,
                float(group["eps"]), c1, c2), flags

    # ------------------------------------------------------------ mu_product
    def _mu_reset(self):
        self._mu_params = []
        self._mu_slot = {}
        self._mu_values = np.ones(0, dtype=np.float32)
        self._mu_plans = {}

    def _mu_slots(self, plan):
        ent = self._mu_plans.get(id(plan))
        if ent is not None and ent[0] is plan:
            return ent[1]
        new = []
        for p in plan.params:
            if id(p) not in self._mu_slot:
                self._mu_slot[id(p)] = len(self._mu_params)
                self._mu_params.append(p)
                new.append(np.float32(self._state[id(p)].get("mu_product", 1.0)))
        if new:
            self._mu_values = np.concatenate([self._mu_values, np.array(new, dtype=np.float32)])
        idx = np.array([self._mu_slot[id(p)] for p in plan.params], dtype=np.intp)
        if len(self._mu_plans) > 64:  # subset plans of skipped params come and go
            self._mu_plans.clear()
        self._mu_plans[id(plan)] = (plan, idx)
        return idx

    def _mu_flush(self):
        for p, v in zip(self._mu_params, self._mu_values):
            st = self._state.get(id(p))
            if st is not None:
                dict.__setitem__(st, "mu_product", v)
        self._mu_reset()

    def _sync_steps(self, runtimes=None):
        super()._sync_steps(runtimes)
        self._mu_flush()

    def _run_plan(self, plan, group, step, n_threads):
        idx = self._mu_slots(plan)
        beta1 = float(group["betas"][0])
        mu, mu_next = nadam_mu(beta1, float(group["momentum_decay"]), step)
        prods = self._mu_values[idx] * np.float32(mu)  # float32, as torch's mu_product *= mu
        self._mu_values[idx] = prods
        if idx.size == 0 or bool((prods == prods[0]).all()):
            scalars, flags = self._scalars_for(group, step, float(prods[0]) if idx.size else None)
            plan.run(self._rule_id, scalars, flags, n_threads, self.flush_denormals)
        else:
            scalars, flags = self._scalars_for(group, step, None)
            table = np.empty((idx.size, 2))
            table[:, 0], table[:, 1] = nadam_coefficients(float(group["lr"]), mu, mu_next, prods.astype(np.float64))
            plan.run(self._rule_id, scalars, flags | 4, n_threads, self.flush_denormals, per_tensor=table)

    def load_state_dict(self, state_dict):
        """As :meth:`Optimizer.load_state_dict`; ``mu_product`` entries (a
        number or a 0-d array/tensor, as torch saves it) are kept as float32."""
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            return super().load_state_dict(state_dict)
        mus, state = {}, {}
        for key, st in state_dict["state"].items():
            st = dict(st)
            if st.get("mu_product") is not None:
                a = np.asarray(st.pop("mu_product"), dtype=np.float64)
                if a.size != 1 or not np.isfinite(a).all():
                    raise ValueError(f"state_dict: 'mu_product' of state {key!r} must be one finite number")
                mus[key] = np.float32(a.reshape(()))
            state[key] = st
        self._mu_reset()
        super().load_state_dict(dict(state_dict, state=state))
        flat = {}
        for g, s in zip(self.param_groups, state_dict["param_groups"]):
            for key, p in zip(s["params"], g["params"]):
                flat[int(key)] = p
        for key, v in mus.items():
            st = self._state.get(id(flat[int(key)]))
            if st is not None:
                st["mu_product"] = v
