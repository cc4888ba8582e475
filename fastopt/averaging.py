"""Running averages of the parameters: EMA (Polyak-style exponential
averaging) and SWA (equal averaging), updated by the engine.

Attached to a fastopt optimizer, an average is updated inside the optimizer's
own pass (kernels/pipeline.h): after the rule's kernel has written a span of
params, the same span of the average is updated while the params are still in
cache, which adds the average's own traffic (read and write it: 8 bytes per
float32 param) and no second pass over the params. Otherwise (a list of
arrays, or a wrapper such as Lookahead) ``update()`` runs one engine pass.

Update rules (kernels/average.h; torch.optim.swa_utils semantics):

* EMA: ``a = a + w (p - a)`` with ``w = 1 - decay_t`` (torch.lerp's form; for
  ``w >= 0.5`` the equivalent ``a = p - (p - a)(1 - w)``). Without warmup
  ``decay_t = decay`` and the first update copies the params, as
  ``AveragedModel(..., multi_avg_fn=get_ema_multi_avg_fn(decay))`` does; with
  ``warmup=k``, ``decay_t = min(decay, (1 + t) / (k + t))`` for the t-th update
  (t = 0, 1, ...), the averages starting from the params at creation
  (``k = 10`` is TensorFlow's ExponentialMovingAverage with num_updates).
* SWA: the first update copies the params, then ``a = a + (p - a) / (n + 1)``
  after n averaged models (``AveragedModel``'s default average).
"""
import contextlib
import math
from numbers import Real

import numpy as np

from . import _engine, _threads
from ._params import by_dtype, label, normalize_groups

__all__ = ["EMA", "SWA"]

_AVERAGE = _engine.RULES["average"]


class _Average:
    """Shared machinery: the tracked params, their averages (one contiguous
    block per dtype), engine plans, swap and state_dict."""

    def __init__(self, source, n_threads):
        self.n_threads = _threads.check_n_threads(n_threads)
        self._optimizer = None
        self._hook = None
        if hasattr(source, "param_groups"):
            params = [p for g in source.param_groups for p in g["params"]]
            if hasattr(source, "_attach_average"):
                self._optimizer = source
        else:
            params = [p for g in normalize_groups(source) for p in g["params"]]
        labels = [label(i, None) for i in range(len(params))]
        _engine.check_params(params, labels)
        if _engine.find_overlap(params) is not None or len({id(p) for p in params}) != len(params):
            raise ValueError("params share memory or appear twice")
        self.params = params
        self.averages = [np.array(p, order="C", copy=True) for p in params]
        self._index = {id(p): i for i, p in enumerate(params)}
        self._plans = {}
        self.n_updates = 0
        self.fused = False
        if self._optimizer is not None:
            opt = self._optimizer
            if getattr(opt, "_fuses_tools", True):
                if not opt._attach_average(self):
                    raise ValueError("this optimizer already has an average fused into its step; "
                                     "pass its params instead and call update() after each step")
                self.fused = True
            else:  # its step does not run through the fused pipeline: one pass after it
                self._hook = opt.register_step_post_hook(self._after_step)

    # ------------------------------------------------------------ weights
    def _next_weight(self):
        """(pipe flags, w) of the next update."""
        raise NotImplementedError

    @staticmethod
    def _lerp(w):
        return (_engine.PIPE_EMA | (_engine.PIPE_EMA_HI if w >= 0.5 else 0)), w

    # ------------------------------------------------------------ fused path
    def _buffers_for(self, params):
        """The averages of `params` (a plan's tensors), or None if one is not tracked."""
        idx = self._index
        out = []
        for p in params:
            i = idx.get(id(p))
            if i is None:
                return None
            out.append(self.averages[i])
        return out

    def _after_fused_step(self, rest):
        """Called by the optimizer after a step that updated some averages in
        its pass: update the averages of the tracked params it did not touch
        (no grad this step), then count the update."""
        rest = [p for p in rest if id(p) in self._index]
        if rest:
            self._run([self._index[id(p)] for p in rest])
        self.n_updates += 1

    # ------------------------------------------------------------ own pass
    def _run(self, which):
        flags, w = self._next_weight()
        nt = _threads.resolve(self.n_threads)
        for idx in by_dtype(self.params, which):
            k = tuple(idx)
            plan = self._plans.get(k)
            if plan is None:
                if len(self._plans) > 16:
                    self._plans.clear()
                plan = self._plans[k] = _engine.Plan(
                    [[self.averages[i] for i in idx], [self.params[i] for i in idx]],
                    [label(i, None) for i in idx])
            kflags = 2 if flags & _engine.PIPE_EMA_DIV else (1 if flags & _engine.PIPE_EMA_HI else 0)
            plan.run(_AVERAGE, (w,), kflags, nt)

    def _after_step(self, opt, *_):
        # A step skipped by skip_nonfinite changed no param: no update, as in the fused path.
        if not opt.last_step_skipped:
            self.update(_from_hook=True)

    def update(self, _from_hook=False):
        """Average the current params in (one engine pass). Not needed when
        the average is fused into an optimizer's step (``fused``)."""
        if self.fused:
            raise RuntimeError("this average is updated inside the optimizer's step; do not call update()")
        self._run(range(len(self.params)))
        self.n_updates += 1

    def detach(self):
        """Stop updating with the optimizer's steps."""
        if self._optimizer is not None:
            self._optimizer._detach_average(self)
            if self._hook is not None:
                self._hook.remove()
                self._hook = None
        self.fused = False

    # ------------------------------------------------------------ use
    def swap(self):
        """Exchange the params' values with the averages' (call again to undo)."""
        for p, a in zip(self.params, self.averages):
            tmp = p.copy()
            np.copyto(p, a)
            np.copyto(a, tmp)

    @contextlib.contextmanager
    def average_parameters(self):
        """``with ema.average_parameters(): evaluate()`` runs with the averaged
        weights in the params and restores them afterwards."""
        self.swap()
        try:
            yield self
        finally:
            self.swap()

    def copy_to(self, params=None):
        """Write the averages into `params` (default: the tracked params)."""
        targets = self.params if params is None else list(params)
        if len(targets) != len(self.averages):
            raise ValueError(f"params: expected {len(self.averages)} arrays, got {len(targets)}")
        for i, (t, a) in enumerate(zip(targets, self.averages)):
            if np.shape(t) != a.shape:
                raise ValueError(f"params[{i}]: shape {np.shape(t)} does not match the average's {a.shape}")
        for t, a in zip(targets, self.averages):
            np.copyto(t, a)

    # ------------------------------------------------------------ state
    def state_dict(self):
        return {"n_updates": self.n_updates, "averages": [a.copy() for a in self.averages], **self._config()}

    def load_state_dict(self, state_dict):
        avgs = list(state_dict["averages"])
        if len(avgs) != len(self.averages):
            raise ValueError(f"state_dict: has {len(avgs)} averages, this one tracks {len(self.averages)} params")
        for i, (a, b) in enumerate(zip(self.averages, avgs)):
            if np.shape(b) != a.shape:
                raise ValueError(f"state_dict: average {i} has shape {np.shape(b)}, the param {a.shape}")
        n = state_dict["n_updates"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"state_dict: 'n_updates' must be a non-negative integer, got {n!r}")
        for a, b in zip(self.averages, avgs):
            np.copyto(a, np.asarray(b, dtype=a.dtype))
        self.n_updates = int(n)

    def _config(self):
        return {}


class EMA(_Average):
    r"""Exponential moving average of the parameters (Polyak averaging).

    .. math::
        a_{t+1} = a_t + (1 - \beta_t)(p_{t+1} - a_t),\qquad
        \beta_t = \beta \text{ or } \min\!\big(\beta, \tfrac{1 + t}{k + t}\big) \text{ with warmup } k

    Args:
        source: a fastopt optimizer (its params are averaged inside each of
            its steps, with no extra pass over the params), or params (a list
            of arrays, a dict, param groups; or a wrapper such as Lookahead),
            averaged by :meth:`update`.
        decay: :math:`\beta`, in [0, 1] (default: 0.999)
        warmup: None (constant decay; the first update copies the params, as
            torch's ``get_ema_multi_avg_fn``), or k > 0: :math:`\beta_t =
            \min(\beta, (1 + t)/(k + t))` from the params at creation (k = 10
            is TensorFlow's ``num_updates`` rule) (default: None)
        n_threads: threads of :meth:`update`'s pass (default: None)

    Example:
        >>> import fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.SGD([w], lr=0.5)
        >>> ema = fastopt.EMA(opt, decay=0.9)
        >>> opt.step([np.ones(3)])      # first update: the average copies w
        >>> opt.step([np.ones(3)])      # the average is updated in this pass
        >>> w
        array([0., 1., 2.])
        >>> with ema.average_parameters():  # w holds the averages in here
        ...     print(w)
        [0.45 1.45 2.45]

    References:
        Polyak & Juditsky, "Acceleration of stochastic approximation by
        averaging", 1992; torch.optim.swa_utils.get_ema_multi_avg_fn.
    """

    def __init__(self, source, decay=0.999, *, warmup=None, n_threads=None):
        if isinstance(decay, bool) or not isinstance(decay, Real) or not 0.0 <= float(decay) <= 1.0:
            raise ValueError(f"decay: must be a number in [0, 1], got {decay!r}")
        if warmup is not None and (isinstance(warmup, bool) or not isinstance(warmup, Real)
                                   or not (float(warmup) > 0 and math.isfinite(float(warmup)))):
            raise ValueError(f"warmup: must be None or a positive number, got {warmup!r}")
        self.decay = float(decay)
        self.warmup = None if warmup is None else float(warmup)
        super().__init__(source, n_threads)

    def current_decay(self):
        """:math:`\\beta_t` of the next update."""
        t = self.n_updates
        if self.warmup is None:
            return 0.0 if t == 0 else self.decay
        return min(self.decay, (1.0 + t) / (self.warmup + t))

    def _next_weight(self):
        return self._lerp(1.0 - self.current_decay())

    def _config(self):
        return {"decay": self.decay, "warmup": self.warmup}


class SWA(_Average):
    r"""Equal average of the parameters over updates (stochastic weight
    averaging, torch.optim.swa_utils.AveragedModel's default):

    .. math:: a_{n+1} = a_n + \frac{p - a_n}{n + 1}\qquad (a_1 = p)

    Args:
        source: a fastopt optimizer (averaged inside each of its steps), or
            params averaged by :meth:`update` (e.g. once per epoch, the usual
            SWA schedule).
        n_threads: threads of :meth:`update`'s pass (default: None)

    Example:
        >>> w = np.zeros(2)
        >>> swa = SWA([w])
        >>> for epoch in range(4):
        ...     w += 1.0                # one epoch of training
        ...     swa.update()            # average the epoch's weights in
        >>> swa.copy_to()               # the final model takes the averages
        >>> w
        array([2.5, 2.5])

    References:
        Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
        Generalization", 2018.
    """

    def __init__(self, source, *, n_threads=None):
        super().__init__(source, n_threads)

    def _next_weight(self):
        n = self.n_updates
        if n == 0:
            return self._lerp(1.0)
        return _engine.PIPE_EMA_DIV, float(n + 1)
