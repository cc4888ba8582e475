"""The Optimizer base class: torch.optim's API over NumPy arrays.

A subclass declares its engine rule and three small methods:

* ``_check_group(group, index)``: validate hyperparameters (raise naming the key);
* ``_buffer_names(group)``: its state buffers in kernel slot order (``None`` for
  an optional slot that is absent, e.g. AMSGrad's maximum when off);
* ``_scalars(group, step)``: the per-step scalars and flag word of its kernel.

Everything else lives here once: param structures and groups, lazy state,
pointer-table caching, step counting, checking every input before anything is
written, state_dict in torch's layout, hooks. One ``step()`` makes one C call
per param group and dtype.
"""
import itertools
import operator
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from . import _engine, _multipass, _threads, _tools
from . import _validation as V
from ._params import by_dtype, check_new_params, label, normalize_groups

__all__ = ["Optimizer"]

_hook_ids = itertools.count()


class _RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters."""

    def __init__(self, hooks, key):
        self._hooks = hooks
        self._key = key

    def remove(self):
        self._hooks.pop(self._key, None)


class _Runtime:
    """What one param group needs at each step, built once and reused while the
    group's params and buffer layout are unchanged."""

    __slots__ = ("params", "bufnames", "labels", "plans", "step", "steps", "pending")

    def __init__(self, params, bufnames, labels, plans, steps, pending):
        self.params = params        # list of arrays (identity checked each step)
        self.bufnames = bufnames    # tuple of buffer names / None, slot order
        self.labels = labels
        self.plans = plans          # [(idx or None, Plan)] one per dtype
        self.pending = pending      # {id(param): {name: array}} allocated, not yet in state
        # Step counts: `step` (int) when every param of the group is at the
        # same count -- the common case, one counter for the whole group --
        # else None and `steps` (int64 per param) is authoritative.
        self.steps = steps
        u = steps.size == 0 or bool((steps == steps[0]).all())
        self.step = int(steps[0]) if (u and steps.size) else (0 if u else None)

    def step_array(self):
        """Per-param step counts (brought up to date from `step` if uniform)."""
        if self.step is not None:
            self.steps.fill(self.step)
        return self.steps


class ParamState(dict):
    """One param's state: a dict whose edits (assigning or deleting a key)
    make the optimizer re-read its state at the next step. Buffers are the
    live arrays the kernels update in place."""

    __slots__ = ("_opt",)

    def __init__(self, opt, *args):
        super().__init__(*args)
        self._opt = opt

    def _edit(self):
        opt = self._opt
        if opt is not None:
            opt._invalidate()

    def __setitem__(self, key, value):
        self._edit()
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._edit()
        super().__delitem__(key)

    def update(self, *args, **kwargs):
        self._edit()
        super().update(*args, **kwargs)

    def pop(self, *args):
        self._edit()
        return super().pop(*args)

    def popitem(self):
        self._edit()
        return super().popitem()

    def clear(self):
        self._edit()
        super().clear()

    def setdefault(self, key, default=None):
        if key not in self:
            self._edit()
        return super().setdefault(key, default)

    def __reduce__(self):
        return dict, (dict(self),)


class StateView(Mapping):
    """``opt.state``: per-param state, indexed by the param array itself or by
    its flat index (the state_dict key). Values are the live dicts: buffers
    are the arrays the kernels update in place."""

    def __init__(self, opt):
        self._opt = opt

    def _key(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            flat = self._opt._flat_params()
            return id(flat[key])
        return id(key)

    def __getitem__(self, key):
        st = self._opt._state.get(self._key(key))
        if st is None:
            raise KeyError(key)
        return st

    def __iter__(self):
        return (i for i, p in enumerate(self._opt._flat_params()) if id(p) in self._opt._state)

    def __len__(self):
        return sum(1 for _ in self)

    def __repr__(self):
        return f"StateView({dict(self)!r})"


class Optimizer:
    """Base class of every fastopt optimizer (torch.optim.Optimizer's API).

    Args:
        params: a list of arrays, a list of (name, array) pairs, a dict
            name -> array, or a list of param-group dicts (``{'params': ...,
            'lr': ...}``) whose options override the defaults.
        defaults: the default hyperparameters of every group.
        n_threads: threads for this optimizer's steps; None uses
            :func:`fastopt.get_num_threads` at each step (default: None).
        flush_denormals: set flush-to-zero/denormals-are-zero on the worker
            threads during a step and restore it after; off by default, so
            results match torch (default: False).
        clip_value, clip_norm, clip_global_norm, skip_nonfinite,
            track_update_ratio: training tools fused into the step (see
            :mod:`fastopt._tools` and docs/tools.md); also writable attributes
            (default: None, None, None, False, False).
    """

    #: Engine rule name (key of fastopt._engine.RULES).
    rule = None
    #: Whether state_dict carries a per-param 'step' (torch's layout).
    step_in_state = True
    #: Per-step input slots after the param slot (1 = grads; a rule may take
    #: more, e.g. a diagonal Hessian estimate), bound anew at every step.
    n_inputs = 1

    def __init__(self, params, defaults, *, n_threads=None, flush_denormals=False, clip_value=None,
                 clip_norm=None, clip_global_norm=None, skip_nonfinite=False, track_update_ratio=False):
        self.defaults = dict(defaults)
        self.n_threads = _threads.check_n_threads(n_threads)
        self.flush_denormals = V.boolean("flush_denormals", flush_denormals)
        self._tools = _tools.StepTools(clip_value, clip_norm, clip_global_norm, skip_nonfinite,
                                       track_update_ratio)
        self._tool_spans = _multipass.SpanCache()
        self._tele_spans = _multipass.SpanCache()
        self._telemetry = None
        self._fused_average = None
        self._step_ctx = None
        self._step_threads = 1
        #: True when the last step was skipped by ``skip_nonfinite``.
        self.last_step_skipped = False
        #: Steps skipped by ``skip_nonfinite`` (kept in state_dict).
        self.skipped_steps = 0
        #: The global 2-norm of the last step's grads (after ``clip_value``,
        #: before norm clipping), when a norm was measured; else None.
        self.last_global_grad_norm = None
        self.param_groups = []
        self._state = {}
        self._runtimes = []
        self._writable = None
        self._rule_id = _engine.RULES[self.rule]
        self._hyper_of = operator.itemgetter(*self.defaults) if len(self.defaults) > 1 else None
        self._validated = []
        self._unsynced = False  # steps taken since the state dicts last saw the counts
        self._step_pre_hooks = OrderedDict()
        self._step_post_hooks = OrderedDict()
        self._state_dict_pre_hooks = OrderedDict()
        self._state_dict_post_hooks = OrderedDict()
        self._load_state_dict_pre_hooks = OrderedDict()
        self._load_state_dict_post_hooks = OrderedDict()
        groups = normalize_groups(params)
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------ subclass API
    #: (key, check) pairs: ``check(key, group[key], index)`` from
    #: fastopt._validation, run by the default :meth:`_check_group`.
    _checks = ()

    def _check_group(self, group, index):
        """Validate the group's hyperparameters; raise naming the key. The
        default runs :attr:`_checks`; rules with cross-field rules extend it."""
        for key, check in self._checks:
            check(key, group[key], index)

    def _buffer_names(self, group):
        """State buffer names in kernel slot order (after param and grad)."""
        raise NotImplementedError

    def _scalars(self, group, step):
        """(scalars, flags) of the kernel for a step numbered `step` (1-based)."""
        raise NotImplementedError

    def _init_buffer(self, name, param):
        """A new state buffer for `param` (zeros unless a subclass says otherwise)."""
        return np.zeros_like(param)

    # ------------------------------------------------------------ tools
    clip_value = property(lambda self: self._tools.clip_value,
                          lambda self, v: self._tools.set("clip_value", v),
                          doc="Grads are clamped to [-clip_value, clip_value] (None: off).")
    clip_norm = property(lambda self: self._tools.clip_norm,
                         lambda self, v: self._tools.set("clip_norm", v),
                         doc="Each grad tensor's 2-norm is clipped to this (None: off).")
    clip_global_norm = property(lambda self: self._tools.clip_global_norm,
                                lambda self, v: self._tools.set("clip_global_norm", v),
                                doc="The global 2-norm of all grads is clipped to this (None: off).")
    skip_nonfinite = property(lambda self: self._tools.skip_nonfinite,
                              lambda self, v: self._tools.set("skip_nonfinite", v),
                              doc="Skip a step whose grads hold NaN or Inf.")
    track_update_ratio = property(lambda self: self._tools.track_update_ratio,
                                  lambda self, v: self._tools.set("track_update_ratio", v),
                                  doc="Measure ||dw||, ||w||, ||g|| per param in each step.")

    def _norms(self, col):
        t = self._telemetry
        if t is None:
            raise RuntimeError("no telemetry yet: construct the optimizer with track_update_ratio=True "
                               "and take a step")
        return np.sqrt(t[:, col])

    def update_norms(self):
        """||w_new - w_old|| of each param (flat param order) in the last step
        with ``track_update_ratio``; NaN for params it did not update."""
        return self._norms(0)

    def param_norms(self):
        """||w|| of each param before the last step with ``track_update_ratio``."""
        return self._norms(1)

    def grad_norms(self):
        """||g|| of each param's grad as the rule read it (after clipping) in
        the last step with ``track_update_ratio``; NaN for params without a grad."""
        return self._norms(2)

    def update_ratios(self):
        """||dw|| / ||w|| per param (flat param order) of the last step with
        ``track_update_ratio``: the update:weight ratio, about 1e-3 when the
        learning rate is sensible. Sums of squares are accumulated in double
        inside the step's own pass (no extra memory traffic)."""
        t = self._telemetry
        self._norms(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sqrt(t[:, 0]) / np.sqrt(t[:, 1])

    def _attach_average(self, average):
        """Fuse `average`'s update into this optimizer's pass (fastopt.EMA);
        False when another one already is (that one then runs its own pass)."""
        if self._fused_average is not None and self._fused_average is not average:
            return False
        self._fused_average = average
        return True

    def _detach_average(self, average):
        if self._fused_average is average:
            self._fused_average = None

    # ------------------------------------------------------------ groups
    def _flat_params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _flat_labels(self):
        out = []
        for g in self.param_groups:
            names = g.get("param_names")
            for j in range(len(g["params"])):
                out.append(label(len(out), names[j] if names is not None else None))
        return out

    def add_param_group(self, param_group):
        """Add a group of params with its own options (torch semantics: the
        optimizer's defaults fill every option the group does not set)."""
        (group,) = normalize_groups([param_group])
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        index = len(self.param_groups)
        existing = (self._flat_params(), self._flat_labels())
        n0 = len(existing[0])
        names = group.get("param_names")
        if (names is None) != all(g.get("param_names") is None for g in self.param_groups) and self.param_groups:
            raise ValueError(f"param group {index}: all param groups must be named or all unnamed")
        labels = [label(n0 + j, names[j] if names is not None else None) for j in range(len(group["params"]))]
        check_new_params(group["params"], labels, existing)
        if names is not None:
            taken = {n for g in self.param_groups for n in g.get("param_names", ())}
            dup = [n for n in names if n in taken] or [n for i, n in enumerate(names) if n in names[:i]]
            if dup:
                raise ValueError(f"param group {index}: parameter name {dup[0]!r} is used twice")
        self._check_group(group, index)
        self.param_groups.append(group)
        self._validated.append(None)
        self._runtimes.append(None)
        self._writable = None

    # ------------------------------------------------------------ runtime
    def _make_plans(self, params, bufnames, buffers, labels, idx_all):
        """Plans over params[idx] for idx in idx_all, one per dtype.
        buffers: {name: list aligned with params}; returns [(idx or None, Plan)]."""
        subsets = by_dtype(params, idx_all)
        plans = []
        whole = len(subsets) == 1 and len(idx_all) == len(params)
        for idx in subsets:
            slots = [[params[i] for i in idx]] + [_engine.INPUT] * self.n_inputs
            for name in bufnames:
                slots.append(None if name is None else [buffers[name][i] for i in idx])
            plans.append((None if whole else idx, _engine.Plan(slots, [labels[i] for i in idx])))
        return plans

    def _build_runtime(self, gi):
        group = self.param_groups[gi]
        params = list(group["params"])
        offset = sum(len(g["params"]) for g in self.param_groups[:gi])
        names = group.get("param_names")
        labels = [label(offset + j, names[j] if names is not None else None) for j in range(len(params))]
        rt_old = self._runtimes[gi]
        self._sync_steps([rt_old])
        if rt_old is None or len(rt_old.params) != len(params) or any(a is not b for a, b in zip(rt_old.params, params)):
            flat = self._flat_params()
            _engine.check_params(params, labels)
            hit = _engine.find_overlap(flat)
            if hit is not None or len({id(p) for p in flat}) != len(flat):
                raise ValueError(f"param group {gi}: params share memory or appear twice")
        bufnames = tuple(self._buffer_names(group))
        pending = {}
        buffers = {n: [] for n in bufnames if n is not None}
        steps = np.zeros(len(params), dtype=np.int64)
        fresh = []  # (j, name): buffers to create
        for j, p in enumerate(params):
            st = self._state.get(id(p))
            if st is not None:
                steps[j] = int(st.get("step", 0))
            for n in buffers:
                b = st.get(n) if st is not None else None
                if b is None or not isinstance(b, np.ndarray) or b.shape != p.shape or b.dtype != p.dtype \
                        or not b.flags.c_contiguous or not b.flags.writeable:
                    if b is not None and isinstance(b, np.ndarray) and b.shape == p.shape:
                        b = np.array(b, dtype=p.dtype, order="C")
                    else:
                        fresh.append((j, n))
                        b = None
                    pending.setdefault(id(p), {})[n] = b
                buffers[n].append(b)
        for (j, n), b in zip(fresh, self._new_buffers(params, fresh)):
            pending[id(params[j])][n] = buffers[n][j] = b
        plans = self._make_plans(params, bufnames, buffers, labels, range(len(params)))
        rt = _Runtime(params, bufnames, labels, plans, steps, pending)
        self._runtimes[gi] = rt
        self._writable = None
        return rt

    def _new_buffers(self, params, wanted):
        """New state buffers for (param index, name) pairs, initialised by
        :meth:`_init_buffer`. The buffers of one name and dtype are views into
        one contiguous block (each view starting on a 64-byte line): a step
        over many small tensors then streams a few long ranges, which the
        hardware prefetchers follow, instead of many short ones."""
        out = [None] * len(wanted)
        blocks = {}
        for k, (j, n) in enumerate(wanted):
            blocks.setdefault((n, params[j].dtype.str), []).append(k)
        for (n, _), ks in blocks.items():
            p0 = params[wanted[ks[0]][0]]
            line = max(1, 64 // p0.itemsize)
            sizes = [params[wanted[k][0]].size for k in ks]
            starts = np.concatenate(([0], np.cumsum([-(-sz // line) * line for sz in sizes])))
            block = np.zeros(int(starts[-1]) + line, dtype=p0.dtype)
            skew = (-(block.ctypes.data // p0.itemsize)) % line  # align the first view
            custom = type(self)._init_buffer is not Optimizer._init_buffer
            for k, start, sz in zip(ks, starts, sizes):
                p = params[wanted[k][0]]
                view = block[skew + start: skew + start + sz].reshape(p.shape)
                if custom:
                    view[...] = self._init_buffer(n, p)
                out[k] = view
        return out

    def _runtime(self, gi):
        rt = self._runtimes[gi]
        group = self.param_groups[gi]
        if rt is not None:
            params = group["params"]
            idx, plan = rt.plans[0] if rt.plans else (0, None)
            if idx is None:
                same = plan.same_params(params)
            else:
                same = len(params) == len(rt.params) and all(a is b for a, b in zip(params, rt.params))
            if same and tuple(self._buffer_names(group)) == rt.bufnames:
                return rt
        return self._build_runtime(gi)

    def _writable_set(self):
        if self._writable is None:
            arrays, owners = [], []
            labels = self._flat_labels()
            for i, p in enumerate(self._flat_params()):
                arrays.append(p)
                owners.append(labels[i])
            for gi, rt in enumerate(self._runtimes):
                if rt is None:
                    continue
                for j, p in enumerate(rt.params):
                    st = dict(self._state.get(id(p), {}))
                    st.update(rt.pending.get(id(p), {}))
                    for n, b in st.items():
                        if isinstance(b, np.ndarray):
                            arrays.append(b)
                            owners.append(f"state {n!r} of {rt.labels[j]}")
            self._writable = _engine.WritableSet(arrays, owners)
        return self._writable

    def _split_grads(self, grads):
        groups = self.param_groups
        if len(groups) == 1 and type(grads) is list:  # the common case, no copy
            if len(grads) != len(groups[0]["params"]):
                raise ValueError(f"grads: expected {len(groups[0]['params'])} arrays (one per param), got {len(grads)}")
            return [grads]
        sizes = [len(g["params"]) for g in groups]
        total = sum(sizes)
        if isinstance(grads, Mapping):
            if any(g.get("param_names") is None for g in self.param_groups):
                raise TypeError("grads: a dict of grads needs named params (pass params as a dict or (name, array) pairs)")
            out = []
            for g in self.param_groups:
                try:
                    out.append([grads[n] for n in g["param_names"]])
                except KeyError as exc:
                    raise ValueError(f"grads: missing the grad of param {exc.args[0]!r}") from None
            if len(grads) != total:
                known = {n for g in self.param_groups for n in g["param_names"]}
                extra = next(k for k in grads if k not in known)
                raise ValueError(f"grads: {extra!r} is not the name of a param of this optimizer")
            return out
        if isinstance(grads, np.ndarray):
            raise TypeError("grads: expected a list of arrays (one per param) or a dict, got a single ndarray")
        if not isinstance(grads, (list, tuple)):
            try:
                grads = list(grads)
            except TypeError:
                raise TypeError(f"grads: expected a list or dict of arrays, got {type(grads).__name__}") from None
        if len(grads) != total:
            raise ValueError(f"grads: expected {total} arrays (one per param), got {len(grads)}")
        if len(sizes) == 1:
            return [grads if isinstance(grads, list) else list(grads)]
        out, k = [], 0
        for n in sizes:
            out.append(list(grads[k:k + n]))
            k += n
        return out

    # ------------------------------------------------------------ step
    def step(self, grads=None, closure=None):
        """One optimization step over every param group.

        Args:
            grads: the gradients, as a list in flattened param order or a dict
                keyed by param name. An entry may be None: that param is
                skipped (its state and step count stay as they were).
            closure: a callable returning ``(loss, grads)``, evaluated once
                before the update; its loss is returned.

        Every grad, hyperparameter and shape is checked before anything is
        written: a step that raises leaves params and state as they were.
        """
        if self._step_pre_hooks or self._step_post_hooks:
            return self._step_with_hooks(grads, closure)
        return self._step(grads, closure)

    def _step_with_hooks(self, grads, closure):
        args, kwargs = (grads,), {"closure": closure}
        for hook in list(self._step_pre_hooks.values()):
            res = hook(self, args, kwargs)
            if res is not None:
                args, kwargs = res
        loss = self._step(args[0] if args else kwargs.get("grads"), kwargs.get("closure"))
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return loss

    def _step(self, grads, closure):
        loss = None
        if closure is not None:
            res = closure()
            if not (isinstance(res, tuple) and len(res) == 2):
                raise TypeError("closure: must return a (loss, grads) tuple")
            loss, grads = res
        if grads is None:
            raise TypeError("step: pass grads, or a closure returning (loss, grads)")
        self._apply([self._split_grads(grads)])
        return loss

    def _apply(self, inputs):
        """Check everything, then update every group.

        inputs: one entry per input slot (grads first), each a list with one
        list of arrays per param group (see :meth:`_split_grads`)."""
        n_threads = _threads.resolve(self.n_threads)
        bound = []
        validated = self._validated
        hyper_of = self._hyper_of
        for gi, group in enumerate(self.param_groups):
            # Groups are writable: re-validate, but only when a value changed.
            key = hyper_of(group) if hyper_of is not None else None
            if key is None or key != validated[gi]:
                self._check_group(group, gi)
                validated[gi] = key
            bound.append(self._runtime(gi))
        ws = self._writable_set()
        missing = []
        for gi, rt in enumerate(bound):
            miss = set()
            for k, per_group in enumerate(inputs):
                g = per_group[gi]
                for idx, plan in rt.plans:
                    m = plan.bind(1 + k, g if idx is None else [g[i] for i in idx], ws,
                                  "grads" if k == 0 else self._input_names[k])
                    miss.update(m if idx is None else [idx[i] for i in m])
            missing.append(miss)
        # Everything checked: from here on, write.
        ctx = None
        if self._tools.active or self._fused_average is not None:
            self._step_threads = n_threads
            ctx = _tools.StepContext(self, bound)
            if not ctx.measure():  # skip_nonfinite: a NaN/Inf grad; nothing written
                self.last_step_skipped = True
                self.skipped_steps += 1
                return
            self.last_step_skipped = False
        self._unsynced = True
        self._step_ctx = ctx
        try:
            for gi, (rt, group) in enumerate(zip(bound, self.param_groups)):
                if not missing[gi] and rt.step is not None:
                    self._commit_pending(rt, None)
                    step = rt.step + 1
                    for idx, plan in rt.plans:
                        if ctx is None:
                            self._run_plan(plan, group, step, n_threads)
                        else:
                            self._run_plan_tools(ctx, plan, gi, idx, group, step, n_threads)
                    rt.step = step
                else:
                    self._apply_slow(gi, rt, group, [per_group[gi] for per_group in inputs], missing[gi],
                                     n_threads, ctx)
            if ctx is not None:
                ctx.finish()
        finally:
            self._step_ctx = None

    def _run_plan_tools(self, ctx, plan, gi, sel, group, step, n_threads):
        ctx.attach(plan, gi, sel)
        try:
            self._run_plan(plan, group, step, n_threads)
        finally:
            ctx.detach(plan, gi, sel)

    #: Whether step() runs through _apply, so that clip options, telemetry and
    #: an attached fastopt.EMA ride inside the pass (LBFGS, SparseAdam: no).
    _fuses_tools = True

    #: Names of the input slots, for error messages.
    _input_names = ("grads",)

    def _run_plan(self, plan, group, step, n_threads):
        """Run this rule over one bound plan for step number `step`. Rules that
        need several passes (per-tensor norms, trust ratios) override this."""
        scalars, flags = self._scalars(group, step)
        plan.run(self._rule_id, scalars, flags, n_threads, self.flush_denormals)

    def _commit_pending(self, rt, which):
        if not rt.pending:
            return
        for j, p in enumerate(rt.params):
            if which is not None and j not in which:
                continue
            new = rt.pending.pop(id(p), None)
            if new:
                st = self._state.get(id(p))
                if st is None:
                    st = self._state[id(p)] = ParamState(self)
                dict.update(st, new)
        if which is not None or not rt.pending:
            self._writable = None

    def _apply_slow(self, gi, rt, group, inputs, missing, n_threads, ctx=None):
        """Params without grads are skipped; params at different step counts
        get their own scalars. One plan per (step value, dtype) subset."""
        present = [j for j in range(len(rt.params)) if j not in missing]
        if not present:
            return
        steps = rt.step_array()
        buffers = {}
        for n in rt.bufnames:
            if n is None:
                continue
            buffers[n] = [rt.pending[id(p)][n] if n in rt.pending.get(id(p), ()) else self._state[id(p)][n]
                          for p in rt.params]
        by_step = {}
        for j in present:
            by_step.setdefault(int(steps[j]), []).append(j)
        self._commit_pending(rt, set(present))
        for step, idx in sorted(by_step.items()):
            for sub, plan in self._make_plans(rt.params, rt.bufnames, buffers, rt.labels, idx):
                sel = idx if sub is None else sub
                for k, per_param in enumerate(inputs):
                    plan.bind(1 + k, [per_param[j] for j in sel], None)
                if ctx is None:
                    self._run_plan(plan, group, step + 1, n_threads)
                else:
                    self._run_plan_tools(ctx, plan, gi, sel, group, step + 1, n_threads)
            steps[idx] += 1
        rt.step = int(steps[0]) if steps.size and bool((steps == steps[0]).all()) else None
        self._writable = None

    # ------------------------------------------------------------ state
    def _sync_steps(self, runtimes=None):
        """Write the runtimes' step counters into the per-param state dicts
        (the runtimes count steps; the dicts are read when a runtime is built)."""
        if runtimes is None:
            if not self._unsynced:
                return
            self._unsynced = False
        for rt in (self._runtimes if runtimes is None else runtimes):
            if rt is None:
                continue
            steps = rt.step_array()
            for j, p in enumerate(rt.params):
                st = self._state.get(id(p))
                # A param without state (a rule with no buffers, e.g. plain
                # SGD) has nothing that depends on its count: keep it stateless.
                if st is not None:
                    dict.__setitem__(st, "step", int(steps[j]))

    def _invalidate(self, sync=True):
        """Drop the cached runtimes (after saving their step counts)."""
        if sync:
            self._sync_steps()
        self._runtimes = [None] * len(self.param_groups)
        self._writable = None

    @property
    def state(self):
        """Per-param state (see :class:`StateView` and :class:`ParamState`):
        live dicts; assigning a key takes effect at the next step."""
        self._sync_steps()
        return StateView(self)

    def state_dict(self):
        """torch's layout: ``{'state': {index: {'step': int, buffer: array}},
        'param_groups': [{..options, 'params': [indices]}]}``. Arrays are the
        live state (as torch returns live tensors); copy to snapshot."""
        for hook in list(self._state_dict_pre_hooks.values()):
            hook(self)
        self._sync_steps()
        flat = self._flat_params()
        state = {}
        for i, p in enumerate(flat):
            st = self._state.get(id(p))
            if not st:
                continue
            entry = {}
            for k, v in st.items():
                if k == "step" and not self.step_in_state:
                    continue
                entry[k] = v
            if entry:
                state[i] = entry
        groups, k = [], 0
        for g in self.param_groups:
            d = {key: v for key, v in g.items() if key != "params"}
            d["params"] = list(range(k, k + len(g["params"])))
            k += len(g["params"])
            groups.append(d)
        sd = {"state": state, "param_groups": groups}
        if self.skipped_steps or self._tools.skip_nonfinite:
            sd["skipped_steps"] = self.skipped_steps
        for hook in list(self._state_dict_post_hooks.values()):
            res = hook(self, sd)
            if res is not None:
                sd = res
        return sd

    @staticmethod
    def _saved_skipped_steps(state_dict):
        """The checked 'skipped_steps' of a state_dict (0 when absent)."""
        skipped = state_dict.get("skipped_steps", 0)
        if isinstance(skipped, bool) or not isinstance(skipped, (int, np.integer)) or skipped < 0:
            raise ValueError(f"state_dict: 'skipped_steps' must be a non-negative integer, got {skipped!r}")
        return int(skipped)

    def load_state_dict(self, state_dict):
        """Load a state_dict (this class's or torch's layout). Buffers are
        copied into arrays of each param's dtype; options of each group are
        replaced by the saved ones. Everything is checked before anything
        changes."""
        for hook in list(self._load_state_dict_pre_hooks.values()):
            res = hook(self, state_dict)
            if res is not None:
                state_dict = res
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("state_dict: expected a mapping with 'state' and 'param_groups'")
        saved = list(state_dict["param_groups"])
        if len(saved) != len(self.param_groups):
            raise ValueError(f"state_dict: has {len(saved)} param groups, the optimizer has {len(self.param_groups)}")
        for gi, (g, s) in enumerate(zip(self.param_groups, saved)):
            if len(s["params"]) != len(g["params"]):
                raise ValueError(f"state_dict: param group {gi} has {len(s['params'])} params, "
                                 f"the optimizer's has {len(g['params'])}")
        index_map = {}
        flat = []
        for g, s in zip(self.param_groups, saved):
            for key, p in zip(s["params"], g["params"]):
                index_map[int(key)] = len(flat)
                flat.append(p)
        new_groups = []
        for gi, (g, s) in enumerate(zip(self.param_groups, saved)):
            ng = dict(g)
            for key, v in s.items():
                if key in ("params", "param_names"):
                    continue
                if isinstance(g.get(key), tuple) and isinstance(v, list):
                    v = tuple(v)
                ng[key] = v
            self._check_group(ng, gi)
            new_groups.append(ng)
        labels = self._flat_labels()
        new_state = {}
        for key, st in state_dict["state"].items():
            try:
                i = index_map[int(key)]
            except (KeyError, ValueError):
                raise ValueError(f"state_dict: state key {key!r} is not a param index of the saved groups") from None
            p = flat[i]
            entry = {}
            for name, v in st.items():
                if name == "step":
                    step = float(np.asarray(v))
                    if not (step >= 0 and step == int(step)):
                        raise ValueError(f"state_dict: 'step' of {labels[i]} must be a non-negative integer, got {v!r}")
                    entry["step"] = int(step)
                    continue
                if v is None:
                    continue
                a = np.asarray(v)
                if a.shape != p.shape:
                    raise ValueError(f"state_dict: {name!r} of {labels[i]} has shape {a.shape}, the param {p.shape}")
                entry[name] = np.array(a, dtype=p.dtype, order="C", copy=True)
            if "step" not in entry:
                entry["step"] = 1 if any(isinstance(v, np.ndarray) for v in entry.values()) else 0
            new_state[id(p)] = ParamState(self, entry)
        skipped = self._saved_skipped_steps(state_dict)
        for g, ng in zip(self.param_groups, new_groups):
            g.clear()
            g.update(ng)
        self.skipped_steps = skipped
        self._validated = [None] * len(self.param_groups)
        self._state = new_state
        self._invalidate(sync=False)
        for hook in list(self._load_state_dict_post_hooks.values()):
            hook(self)

    def zero_grad(self, set_to_none=True):
        """No-op kept for torch compatibility: fastopt never owns gradients."""

    # ------------------------------------------------------------ hooks
    def _register(self, hooks, hook, prepend=False):
        key = next(_hook_ids)
        hooks[key] = hook
        if prepend:
            hooks.move_to_end(key, last=False)
        return _RemovableHandle(hooks, key)

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None or (args, kwargs)`` before each step."""
        return self._register(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None`` after each step."""
        return self._register(self._step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer) -> None`` before state_dict() builds its result."""
        return self._register(self._state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict) -> None or state_dict`` after state_dict()."""
        return self._register(self._state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict) -> None or state_dict`` before loading."""
        return self._register(self._load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer) -> None`` after loading."""
        return self._register(self._load_state_dict_post_hooks, hook, prepend)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k not in ("params", "param_names"):
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
