"""SAM / ASAM: sharpness-aware minimization around any fastopt optimizer."""
import math

import numpy as np

from . import _engine, _threads
from . import _validation as V
from ._multipass import SpanCache, combine, rebind_dummy
from ._params import by_dtype
from .optimizer import Optimizer

__all__ = ["SAM"]


class SAM:
    r"""Sharpness-aware minimization (Foret et al., 2020), with the adaptive
    variant ASAM (Kwon et al., 2021), wrapped around any fastopt optimizer.

    .. math::

        \hat\epsilon &= \rho\, \frac{T_w^2\, g}{\|T_w\, g\| + 10^{-12}}, \qquad
            T_w = \operatorname{diag}(|w|) \text{ (adaptive) or } I \\
        w' &= w + \hat\epsilon \quad\text{(first step)} \\
        w &\leftarrow \text{base step from } w \text{ with } \nabla f(w')
            \quad\text{(second step)}

    The norm is global: over every param of every group (each group with its
    own ``rho`` and ``adaptive``), accumulated in double with a fixed
    reduction order (independent of threads and instruction set). The
    :math:`10^{-12}` guard follows the widely used reference implementation;
    with ``maximize`` in a group, the perturbation goes the other way.

    Passes (fused C kernels): reduce :math:`\|T_w g\|^2` (reads g, and w when
    adaptive), perturb (reads w, g; writes the saved copy of w and w),
    restore (reads the copy, writes w): 7 elements moved per parameter, 8
    adaptive (28/32 B in float32), on top of the base step. The old weights
    are saved rather than :math:`\hat\epsilon`, so restoring is exact and
    cheaper. The saved copy is transient (between ``first_step`` and
    ``second_step``) and is not part of ``state_dict``.

    SAM shares ``param_groups`` and state with the base optimizer: ``rho`` and
    ``adaptive`` are group options (set on each group unless present).

    Args:
        base_optimizer: a :class:`fastopt.Optimizer` (SGD, Adam, ...) over the params.
        rho: neighbourhood radius :math:`\rho`, >= 0 (default: 0.05)
        adaptive: ASAM's scale-invariant neighbourhood, :math:`T_w = |w|` (default: False)

    Call ``opt.step(closure)`` with ``closure() -> (loss, grads)``: it is
    evaluated at :math:`w` and at :math:`w + \hat\epsilon`; the loss at
    :math:`w` is returned. Frameworks that compute gradients themselves call
    ``first_step(grads)`` then ``second_step(grads_at_perturbed_point)``.

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([3.0, 0.0, 4.0])
        >>> opt = fastopt.SAM(fastopt.SGD([w], lr=0.1), rho=0.5)
        >>> opt.step(lambda: (0.5 * float(w @ w), [w.copy()]))  # f = |w|^2 / 2
        12.5
        >>> w.round(6)
        array([2.67, 0.  , 3.56])

    References:
        Foret, Kleiner, Mobahi & Neyshabur, "Sharpness-Aware Minimization for
        Efficiently Improving Generalization", ICLR 2021 (arXiv:2010.01412).
        Kwon, Kim, Park & Choi, "ASAM: Adaptive Sharpness-Aware Minimization
        for Scale-Invariant Learning of Deep Neural Networks", ICML 2021.
    """

    def __init__(self, base_optimizer, rho=0.05, adaptive=False):
        if not isinstance(base_optimizer, Optimizer):
            raise TypeError(f"base_optimizer: expected a fastopt.Optimizer, got {type(base_optimizer).__name__}")
        V.nonneg("rho", rho)
        V.boolean("adaptive", adaptive)
        self.base_optimizer = base_optimizer
        self.defaults = dict(rho=rho, adaptive=adaptive)
        for g in self.param_groups:
            g.setdefault("rho", rho)
            g.setdefault("adaptive", adaptive)
        self._rule_id = _engine.RULES["sam"]
        self._spans = SpanCache()
        self._cache = {}        # group index -> (params list, [(idx, Plan)], WritableSet)
        self._perturbed = None  # plans to restore at second_step

    @property
    def param_groups(self):
        return self.base_optimizer.param_groups

    @property
    def state(self):
        return self.base_optimizer.state

    def _opts(self, group, gi):
        rho = V.nonneg("rho", group.get("rho", self.defaults["rho"]), gi)
        adaptive = V.boolean("adaptive", group.get("adaptive", self.defaults["adaptive"]), gi)
        return rho, adaptive

    def _plans(self, gi, group):
        params = list(group["params"])
        hit = self._cache.get(gi)
        if hit is not None and len(hit[0]) == len(params) and all(a is b for a, b in zip(hit[0], params)):
            return hit
        labels = self.base_optimizer._flat_labels()
        off = sum(len(g["params"]) for g in self.param_groups[:gi])
        labels = labels[off:off + len(params)]
        olds = [np.empty_like(p) for p in params]
        plans = [(idx, _engine.Plan([[params[i] for i in idx], _engine.INPUT, [olds[i] for i in idx]],
                                    [labels[i] for i in idx])) for idx in by_dtype(params)]
        ws = _engine.WritableSet(params + olds, labels + [f"SAM's copy of {lab}" for lab in labels])
        hit = (params, plans, ws)
        self._cache[gi] = hit
        return hit

    def first_step(self, grads):
        """Move every param with a grad to :math:`w + \\hat\\epsilon` (saving :math:`w`)."""
        if self._perturbed is not None:
            raise RuntimeError("first_step: already perturbed; call second_step first")
        base = self.base_optimizer
        per_group = base._split_grads(grads)
        n_threads = _threads.resolve(base.n_threads)
        ftz = base.flush_denormals
        work = []
        for gi, group in enumerate(self.param_groups):
            rho, adaptive = self._opts(group, gi)
            params, plans, ws = self._plans(gi, group)
            g = per_group[gi]
            for idx, plan in plans:
                sub = [g[i] for i in idx]
                missing = plan.bind(1, sub, ws)
                if missing:  # rare: params without a grad are left where they are
                    keep = [k for k in range(len(idx)) if k not in set(missing)]
                    if not keep:
                        continue
                    olds = [np.empty_like(params[idx[k]]) for k in keep]
                    plan = _engine.Plan([[params[idx[k]] for k in keep], _engine.INPUT, olds],
                                        [f"params[{idx[k]}]" for k in keep])
                    sub = [sub[k] for k in keep]
                    plan.bind(1, sub, ws)
                work.append((plan, sub, rho, adaptive, bool(group.get("maximize", False))))
        total = 0.0
        for plan, sub, rho, adaptive, _ in work:
            if plan.n_spans == 0:
                continue
            info = self._spans.get(plan)
            plan.run(self._rule_id, (), 4 if adaptive else 0, n_threads, ftz, out=info.out)
            total += float(combine(info.out[0::4], [0])[0])
        norm = math.sqrt(total)
        for plan, sub, rho, adaptive, maximize in work:
            scale = rho / (norm + 1e-12)
            plan.bind(1, sub, None)
            plan.run(self._rule_id, (-scale if maximize else scale,), 1 | (4 if adaptive else 0), n_threads, ftz)
        self._perturbed = [w[0] for w in work]

    def second_step(self, grads):
        """Restore :math:`w` and take the base optimizer's step with `grads`
        (the gradients at :math:`w + \\hat\\epsilon`)."""
        self._restore()
        self.base_optimizer.step(grads)

    def _restore(self):
        if self._perturbed is None:
            raise RuntimeError("second_step: call first_step first")
        base = self.base_optimizer
        n_threads = _threads.resolve(base.n_threads)
        for plan in self._perturbed:
            rebind_dummy(plan)  # restore reads no grads
            plan.run(self._rule_id, (), 2, n_threads, base.flush_denormals)
        self._perturbed = None

    def step(self, closure=None):
        """Two closure evaluations, one update: returns the loss at :math:`w`."""
        if closure is None:
            raise TypeError("step: SAM needs a closure returning (loss, grads) (or use first_step/second_step)")
        loss, grads = self._call(closure)
        self.first_step(grads)
        try:
            _, grads2 = self._call(closure)
        except BaseException:
            self._restore()
            raise
        self.second_step(grads2)
        return loss

    @staticmethod
    def _call(closure):
        res = closure()
        if not (isinstance(res, tuple) and len(res) == 2):
            raise TypeError("closure: must return a (loss, grads) tuple")
        return res

    def zero_grad(self, set_to_none=True):
        """No-op kept for torch compatibility."""

    def state_dict(self):
        """The base optimizer's state_dict (its groups carry ``rho`` and ``adaptive``)."""
        if self._perturbed is not None:
            raise RuntimeError("state_dict: params are perturbed; call second_step first")
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.base_optimizer.load_state_dict(state_dict)
        self._cache = {}

    def __repr__(self):
        return f"SAM({self.base_optimizer!r})"
