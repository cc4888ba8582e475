"""SGD with annealed Gaussian gradient noise (Neelakantan et al., 2015)."""
import math
import numbers

import numpy as np

from . import _validation as V
from ._docs import fill
from .optimizer import ParamState
from .sgd import SGD

__all__ = ["NoisySGD"]


class NoisySGD(SGD):
    __doc__ = fill(r"""SGD with annealed Gaussian gradient noise (Neelakantan et al., 2015).

    :class:`fastopt.SGD` (same options, torch.optim.SGD semantics) where every
    gradient element receives fresh Gaussian noise whose variance decays with
    the step:

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}) + \lambda\,\theta_{{t-1}}
            + \epsilon_t, \qquad \epsilon_t \sim \mathcal N(0, \sigma_t^2), \quad
            \sigma_t^2 = \frac{{\eta}}{{(1 + t)^{{\gamma}}}} \\
        b_t &\leftarrow \mu\, b_{{t-1}} + (1-\tau)\, g_t \quad (b_1 = g_1), \qquad
        \theta_t \leftarrow \theta_{{t-1}} - \gamma_{{lr}}\, d_t

    with :math:`t = 0` at the first step and :math:`d_t` as in SGD
    (:math:`g_t`, :math:`b_t`, or :math:`g_t + \mu b_t` with Nesterov). The
    noise is generated inside the fused kernel by a counter-based generator:
    element :math:`i` of param :math:`j` (flat param index) at step :math:`t`
    draws from a splitmix64 hash of ``(seed, t, j, pair)``, where elements
    ``w`` and ``w + 512`` of each block of 1,024 share one Box–Muller pair
    (cosine and sine deviate), computed in float32 with fixed polynomial
    ``ln``/``cos``/``sin`` (24-bit uniforms, so :math:`|z| \le 5.65`; relative
    error of :math:`z` below 1e-6) for both dtypes. Runs are reproducible,
    independent of the thread count and instruction set, and equal bit for bit
    to the NumPy reference. Params at different steps (or skipped with a None
    grad) keep their own noise streams. State per param: ``step`` (the noise
    schedule resumes from a state_dict) and ``momentum_buffer`` with momentum.
    One fused pass per step moves 3 elements per parameter (5 with momentum):
    12 (20) bytes in float32; the generator costs about 3.5 vector instructions
    per element (AVX-512), which on one core takes longer than the 12 bytes'
    memory traffic: float32 steps are compute-bound on a single thread.

    Args:
        {params}
        {lr}
        momentum: momentum factor :math:`\mu`, >= 0 (default: 0)
        dampening: dampening :math:`\tau` for momentum (default: 0)
        {weight_decay_l2}
        nesterov: use Nesterov momentum; needs momentum > 0 and dampening = 0 (default: False)
        noise_eta: noise scale :math:`\eta` >= 0; the paper uses 0.01, 0.3 or 1.0 (default: 0.01)
        noise_gamma: decay exponent :math:`\gamma` >= 0 of the variance, the paper's 0.55 (default: 0.55)
        seed: integer in [0, 2**64) keying the noise (default: 0)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.NoisySGD([w], lr=0.1, noise_eta=0.0)   # no noise: plain SGD
        >>> opt.step([np.array([1.0, 1.0, 1.0])])
        >>> w
        array([0.9, 1.9, 2.9])
        >>> v = np.array([1.0, 2.0, 3.0])
        >>> fastopt.NoisySGD([v], lr=0.1, seed=7).step([np.zeros(3)])
        >>> bool(np.all(v != [1.0, 2.0, 3.0]))
        True

    References:
        Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach & Martens, "Adding
        Gradient Noise Improves Learning for Very Deep Networks", arXiv:1511.06807, 2015.
        Box & Muller, "A Note on the Generation of Random Normal Deviates", 1958.
    """, lr=0.001, weight_decay_l2=0)

    rule = "noisy_sgd"
    step_in_state = True

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 noise_eta=0.01, noise_gamma=0.55, seed=0, maximize=False, n_threads=None, flush_denormals=False, **tools):
        self._plan_keys = {}
        super(SGD, self).__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                               weight_decay=weight_decay, nesterov=nesterov, noise_eta=noise_eta,
                                               noise_gamma=noise_gamma, seed=seed, maximize=maximize),
                                  n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    def _check_group(self, group, index):
        SGD._check_group(self, group, index)
        V.nonneg("noise_eta", group["noise_eta"], index)
        V.nonneg("noise_gamma", group["noise_gamma"], index)
        seed = group["seed"]
        where = "" if index is None else f" (param group {index})"
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed: expected an int, got {type(seed).__name__}{where}")
        if not 0 <= int(seed) < 2 ** 64:
            raise ValueError(f"seed: expected 0 <= seed < 2**64, got {seed}{where}")

    def _scalars(self, group, step):
        scalars, flags = SGD._scalars(self, group, step)
        sigma = math.sqrt(float(group["noise_eta"]) / float(step) ** float(group["noise_gamma"]))
        seed = int(group["seed"])
        return scalars + (sigma, float(seed >> 32), float(seed & 0xFFFFFFFF), float(step)), flags

    # -- noise keys: the flat param index of each tensor of each plan --------
    def _make_plans(self, params, bufnames, buffers, labels, idx_all):
        plans = super()._make_plans(params, bufnames, buffers, labels, idx_all)
        offset = 0
        for g in self.param_groups:
            if params and g["params"] and g["params"][0] is params[0]:
                break
            offset += len(g["params"])
        idx_all = list(idx_all)
        for sub, plan in plans:
            sel = idx_all if sub is None else sub
            self._plan_keys[id(plan)] = (plan, np.array([[offset + j] for j in sel], dtype=np.float64))
        return plans

    def _run_plan(self, plan, group, step, n_threads):
        scalars, flags = self._scalars(group, step)
        entry = self._plan_keys.get(id(plan))
        keys = entry[1] if entry is not None and entry[0] is plan else None
        plan.run(self._rule_id, scalars, flags, n_threads, self.flush_denormals, per_tensor=keys)

    def _apply(self, inputs):
        try:
            super()._apply(inputs)
        finally:  # forget the keys of one-off plans (params at mixed steps, None grads)
            live = {id(pl) for rt in self._runtimes if rt is not None for _, pl in rt.plans}
            for k in [k for k in self._plan_keys if k not in live]:
                del self._plan_keys[k]

    def _sync_steps(self, runtimes=None):
        if runtimes is None and not self._unsynced:
            return
        # Without momentum there is no buffer, hence no state entry to carry the
        # step count that the noise schedule needs: make one for stepped params.
        for rt in (self._runtimes if runtimes is None else runtimes):
            if rt is None:
                continue
            steps = rt.step_array()
            for j, p in enumerate(rt.params):
                if steps[j] > 0 and id(p) not in self._state:
                    self._state[id(p)] = ParamState(self)
                    self._unsynced = True
        super()._sync_steps(runtimes)
