"""Lookahead (Zhang et al. 2019) around any fastopt optimizer."""
import numbers

import numpy as np

from . import _engine, _threads
from . import _validation as V
from ._params import by_dtype
from .optimizer import Optimizer

__all__ = ["Lookahead"]


class Lookahead:
    r"""Lookahead (Zhang, Lucas, Hinton & Ba, 2019) around any fastopt optimizer.

    The base ("fast") optimizer updates the params at every step; every
    :math:`k` steps the slow weights :math:`\phi` move toward them and the
    params restart from there:

    .. math::

        \phi &\leftarrow \phi + \alpha\,(\theta - \phi) \\
        \theta &\leftarrow \phi

    The slow weights start as a copy of the params at the first ``step()``.
    The synchronisation is one fused C pass over params and slow weights
    (read both, write both: 4 elements per parameter, every :math:`k` steps).
    ``param_groups`` and ``state`` are the base optimizer's; ``state_dict()``
    holds the base optimizer's state_dict, the slow weights (by flat param
    index), ``k``, ``alpha`` and the step count.

    Args:
        base_optimizer: a :class:`fastopt.Optimizer` over the params.
        k: synchronisation period, an int >= 1 (default: 5)
        alpha: slow-weights step size, in [0, 1] (default: 0.5)

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Lookahead(fastopt.SGD([w], lr=0.1), k=2, alpha=0.5)
        >>> for _ in range(2):
        ...     opt.step([np.ones(3)])
        >>> w
        array([0.9, 1.9, 2.9])

    References:
        Zhang, Lucas, Hinton & Ba, "Lookahead Optimizer: k steps forward, 1
        step back", NeurIPS 2019 (arXiv:1907.08610).
    """

    def __init__(self, base_optimizer, k=5, alpha=0.5):
        if not isinstance(base_optimizer, Optimizer):
            raise TypeError(f"base_optimizer: expected a fastopt.Optimizer, got {type(base_optimizer).__name__}")
        self.base_optimizer = base_optimizer
        self.k = self._check_k(k)
        self.alpha = V.unit_interval("alpha", alpha, closed_right=True)
        self._rule_id = _engine.RULES["lookahead"]
        self._slow = {}    # id(param) -> slow weights
        self._plans = None  # (params list, [Plan]) while the params are the same
        self._step = 0

    @staticmethod
    def _check_k(k):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"k: expected an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k: expected a value >= 1, got {k}")
        return int(k)

    @property
    def param_groups(self):
        return self.base_optimizer.param_groups

    @property
    def state(self):
        return self.base_optimizer.state

    def _flat(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _ensure_slow(self, flat):
        for p in flat:
            if id(p) not in self._slow:
                self._slow[id(p)] = np.array(p, copy=True, order="C")

    def _get_plans(self, flat):
        if self._plans is not None and len(self._plans[0]) == len(flat) and \
                all(a is b for a, b in zip(self._plans[0], flat)):
            return self._plans[1]
        labels = self.base_optimizer._flat_labels()
        plans = [_engine.Plan([[flat[i] for i in idx], [self._slow[id(flat[i])] for i in idx]],
                              [labels[i] for i in idx]) for idx in by_dtype(flat)]
        self._plans = (flat, plans)
        return plans

    def step(self, grads=None, closure=None):
        """One base step; every k-th step also synchronises with the slow weights."""
        self.k = self._check_k(self.k)
        alpha = V.unit_interval("alpha", self.alpha, closed_right=True)
        flat = self._flat()
        self._ensure_slow(flat)
        loss = self.base_optimizer.step(grads, closure=closure)
        self._step += 1
        if self._step % self.k == 0:
            base = self.base_optimizer
            n_threads = _threads.resolve(base.n_threads)
            for plan in self._get_plans(flat):
                plan.run(self._rule_id, (alpha,), 0, n_threads, base.flush_denormals)
        return loss

    def zero_grad(self, set_to_none=True):
        """No-op kept for torch compatibility."""

    def state_dict(self):
        """``{'base': base.state_dict(), 'slow': {index: array}, 'k', 'alpha', 'step'}``."""
        flat = self._flat()
        slow = {i: self._slow[id(p)] for i, p in enumerate(flat) if id(p) in self._slow}
        return {"base": self.base_optimizer.state_dict(), "slow": slow, "k": self.k, "alpha": self.alpha,
                "step": self._step}

    def load_state_dict(self, state_dict):
        for key in ("base", "slow", "k", "alpha", "step"):
            if key not in state_dict:
                raise ValueError(f"state_dict: missing {key!r} (not a Lookahead state_dict)")
        k = self._check_k(state_dict["k"])
        alpha = V.unit_interval("alpha", state_dict["alpha"], closed_right=True)
        flat = self._flat()
        slow = {}
        for key, v in state_dict["slow"].items():
            i = int(key)
            if not 0 <= i < len(flat):
                raise ValueError(f"state_dict: slow weights for param index {key!r}, which does not exist")
            a = np.asarray(v)
            if a.shape != flat[i].shape:
                raise ValueError(f"state_dict: slow weights of params[{i}] have shape {a.shape}, "
                                 f"the param {flat[i].shape}")
            slow[id(flat[i])] = np.array(a, dtype=flat[i].dtype, order="C", copy=True)
        self.base_optimizer.load_state_dict(state_dict["base"])
        self._slow, self.k, self.alpha, self._step = slow, k, alpha, int(state_dict["step"])
        self._plans = None

    def __repr__(self):
        return f"Lookahead(k={self.k}, alpha={self.alpha}, {self.base_optimizer!r})"
