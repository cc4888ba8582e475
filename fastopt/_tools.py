"""The training tools that ride inside an optimizer's pass.

Every fastopt optimizer built on :class:`fastopt.Optimizer` takes

* ``clip_value=c``: grads clamped to ``[-c, c]`` (torch's clip_grad_value_);
* ``clip_norm=c``: each grad tensor scaled by ``min(1, c / (||g|| + 1e-6))``;
* ``clip_global_norm=c``: all grads of the optimizer scaled by
  ``min(1, c / (||g||_global + 1e-6))`` (torch's clip_grad_norm_);
* ``skip_nonfinite=True``: a step whose grads hold a NaN or an infinity is
  skipped whole (params, state and step counts untouched);
* ``track_update_ratio=True``: the pass also measures ||dw||, ||w|| and ||g||
  per param (:meth:`fastopt.Optimizer.update_ratios`).

How they run (see fo_pipe in csrc/fastopt.h and kernels/pipeline.h): norms and
the non-finite check need the grads before the update, so they take one
reduction pass over the grads (rule ``grad_stats``, deterministic). The clamp
and the factors are then applied to each span of grads inside the update pass,
into a per-thread scratch span in cache, and the telemetry and a fused
:class:`fastopt.EMA` run on the same span right after the rule's kernel.

Order: clamp, then the per-tensor factor, then the global factor (the norms
are those of the clamped grads; the two factors are multiplied in double and
applied as one factor in the grads' dtype).
"""
import math

import numpy as np

from . import _engine
from .clip import _plans, _sum_sq, norm_clip_coef, threshold

_GRAD_STATS = _engine.RULES["grad_stats"]


def _threshold(name, value):
    return threshold(name, value, optional=True)


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


class StepTools:
    """The tool options of one optimizer (validated when set)."""

    NAMES = ("clip_value", "clip_norm", "clip_global_norm", "skip_nonfinite", "track_update_ratio")

    def __init__(self, clip_value=None, clip_norm=None, clip_global_norm=None, skip_nonfinite=False,
                 track_update_ratio=False):
        self.set("clip_value", clip_value)
        self.set("clip_norm", clip_norm)
        self.set("clip_global_norm", clip_global_norm)
        self.set("skip_nonfinite", skip_nonfinite)
        self.set("track_update_ratio", track_update_ratio)

    def set(self, name, value):
        check = _flag if name in ("skip_nonfinite", "track_update_ratio") else _threshold
        self.__dict__[name] = check(name, value)
        self.__dict__["reduce"] = bool(self.__dict__.get("clip_norm") or self.__dict__.get("clip_global_norm")
                                       or self.__dict__.get("skip_nonfinite"))
        self.__dict__["active"] = self.reduce or bool(self.__dict__.get("clip_value")
                                                      or self.__dict__.get("track_update_ratio"))

    def __setattr__(self, name, value):
        if name not in self.NAMES:
            raise AttributeError(name)
        self.set(name, value)


def clip_factors(tools, sums):
    """(global norm, factors) from sums of squares of the (clamped) grads.

    sums: one float64 array per param group (one entry per param); returns
    the global 2-norm (``math.fsum`` across all params) and, per group, the
    float64 factor of each param: ``min(1, clip_norm / (||g|| + 1e-6))``
    times the global factor (computed on the per-tensor clipped norms)."""
    global_norm = math.sqrt(math.fsum(np.concatenate(sums).tolist())) if sums else 0.0
    factors = []
    for s in sums:
        f = norm_clip_coef(tools.clip_norm, np.sqrt(s)) if tools.clip_norm else np.ones(s.size)
        factors.append(f)
    if tools.clip_global_norm:
        total = math.sqrt(math.fsum(np.concatenate([s * f * f for s, f in zip(sums, factors)]).tolist())) \
            if tools.clip_norm else global_norm
        coef = float(norm_clip_coef(tools.clip_global_norm, total))
        factors = [f * coef for f in factors]
    return global_norm, factors


def sums_of_squares(arrays, n_threads, clip=None):
    """Sum of squares (float64, one per array) of float32/float64 arrays, with
    the grad_stats pass of :func:`fastopt.clip.global_norm` (fixed order, so
    thread-count independent), and whether any element is NaN or infinite.
    With `clip`, the squares of the elements clamped to [-clip, clip], as the
    pipe measures them (the non-finite test sees the elements unclamped).
    For steps that work outside the fused pipe (SparseAdam, LBFGS); the
    arrays must be writeable and C-contiguous (private copies or params)."""
    sums = np.zeros(len(arrays))
    live = [i for i, a in enumerate(arrays) if a.size]
    if not live:
        return sums, False
    _, plans = _plans([arrays[i] for i in live], "arrays")
    part, nonfinite = _sum_sq(plans, len(live), n_threads, clip)
    sums[live] = part
    return sums, nonfinite


class StepContext:
    """The tool work of one step of one optimizer.

    ``measure()`` runs the gradient statistics pass (when norms or the
    non-finite check are wanted) and decides whether the step goes ahead;
    ``attach(plan, gi, sel)`` / ``detach(...)`` put the pipe on a plan around
    its rule's passes (``sel``: the plan's tensors as indices into group gi's
    params, None for all); ``finish()`` stores the telemetry and brings the
    fused average up to date for params that took no part in the step.
    """

    def __init__(self, opt, runtimes):
        self.opt = opt
        self.tools = opt._tools
        self.runtimes = runtimes
        self.scale = [None] * len(runtimes)      # per group: float64 factors per param, or None
        self.global_norm = None
        avg = opt._fused_average
        self.average = avg
        self.avg_flags, self.avg_w = avg._next_weight() if avg is not None else (0, 0.0)
        self.averaged = []                       # plans whose params the fused average updated
        self.n_averaged = 0
        self._where = {}                         # group -> {id(param): index}, built on demand
        n = [len(rt.params) for rt in runtimes]
        tele = self.tools.track_update_ratio
        self.tele = [np.full((k, 3), np.nan) for k in n] if tele else None

    # -------------------------------------------------------------- before
    def measure(self):
        """Run the reduction pass if needed; False when the step must be skipped."""
        t = self.tools
        if not t.reduce:
            return True
        clip = t.clip_value
        lo, hi, flags = (-clip, clip, 1) if clip else (0.0, 0.0, 0)
        cache = self.opt._tool_spans
        sums, nonfinite = [], False
        n_threads = self.opt._step_threads
        for rt in self.runtimes:
            s = np.zeros(len(rt.params))
            for idx, plan in rt.plans:
                info = cache.get(plan)
                plan.run(_GRAD_STATS, (lo, hi), flags, n_threads, False, out=info.out, keep_inputs=True,
                         all_inputs=False)
                s[slice(None) if idx is None else idx] = info.sums(0)
                if t.skip_nonfinite and not nonfinite:
                    nonfinite = bool(np.isnan(info.sums(1)).any())
            sums.append(s)
        if nonfinite:
            for rt in self.runtimes:
                for _, plan in rt.plans:
                    plan.release_inputs()
            return False
        self.global_norm, factors = clip_factors(t, sums)
        self.scale = [None if bool((f == 1.0).all()) else np.ascontiguousarray(f, dtype=np.float64)
                      for f in factors]
        return True

    # -------------------------------------------------------------- around a plan
    def attach(self, plan, gi, sel):
        t = self.tools
        flags, lo, hi, scale = 0, 0.0, 0.0, None
        if t.clip_value:
            flags |= _engine.PIPE_CLIP
            lo, hi = -t.clip_value, t.clip_value
        f = self.scale[gi]
        if f is not None:
            scale = f if sel is None else np.ascontiguousarray(f[sel])
            flags |= _engine.PIPE_SCALE
        stats = averages = None
        if self.tele is not None:
            flags |= _engine.PIPE_STATS
            stats = self.opt._tele_spans.get(plan).out
        if self.average is not None:
            averages = self.average._buffers_for(plan.params)
            if averages is not None:
                flags |= self.avg_flags
                self.averaged.append(plan)
                self.n_averaged += plan.n_tensors
        if flags:
            plan.set_pipe(flags, lo, hi, self.avg_w, scale, averages, stats)
        return flags

    def detach(self, plan, gi, sel):
        plan.clear_pipe()
        if self.tele is not None:
            info = self.opt._tele_spans.get(plan)
            rows = slice(None) if sel is None else sel
            for col in range(3):
                self.tele[gi][rows, col] = info.sums(col)

    def index_in_group(self, gi, p):
        """Position of param `p` in group gi's params (a dict built once per step)."""
        where = self._where.get(gi)
        if where is None:
            where = self._where[gi] = {id(q): j for j, q in enumerate(self.opt.param_groups[gi]["params"])}
        return where[id(p)]

    def transforms(self, gi):
        """True when the pipe changes the grads of group gi (what transform() does)."""
        return bool(self.tools.clip_value) or self.scale[gi] is not None

    def transform(self, g, gi, j):
        """What the pipe makes of grad `g` of param j of group gi (NumPy, same
        arithmetic), for rules that also read the grads outside the engine."""
        t = self.tools
        T = g.dtype.type
        if t.clip_value:
            g = np.clip(g, T(-t.clip_value), T(t.clip_value))
        f = self.scale[gi]
        if f is not None:
            g = g * T(f[j])
        return g

    # -------------------------------------------------------------- after
    def finish(self):
        opt = self.opt
        if self.tele is not None:
            opt._telemetry = np.concatenate(self.tele) if self.tele else np.zeros((0, 3))
        opt.last_global_grad_norm = self.global_norm
        if self.average is not None:
            # Averaged plans hold tracked params only, each once: when their count
            # is the number tracked, none is left for a separate pass.
            rest = []
            if self.n_averaged < len(self.average.params):
                done = {id(p) for plan in self.averaged for p in plan.params}
                rest = [p for p in opt._flat_params() if id(p) not in done]
            self.average._after_fused_step(rest)


def grads_transformed(opt, group):
    """True when this step's tools change the grads the kernels of `group` read."""
    ctx = opt._step_ctx
    if ctx is None:
        return False
    return ctx.transforms(next(i for i, grp in enumerate(opt.param_groups) if grp is group))


def transformed_grad(opt, g, group, p):
    """A rule's NumPy view of grad `g` of param `p` as its kernel reads it
    (clamped and scaled when tools are on), for rules that read grads outside
    the engine (Adafactor's factored statistics)."""
    ctx = opt._step_ctx
    if ctx is None:
        return g
    gi = next(i for i, grp in enumerate(opt.param_groups) if grp is group)
    return ctx.transform(np.asarray(g), gi, ctx.index_in_group(gi, p))

