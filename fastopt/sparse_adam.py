"""SparseAdam (torch.optim.SparseAdam) over row-sparse gradients."""
import math

import numpy as np

from . import _engine, _threads, _tools
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["RowSparseGrad", "SparseAdam"]


class RowSparseGrad:
    """A gradient that is zero outside a few rows of its param (e.g. the rows
    of an embedding table that a batch looked up).

    Args:
        indices: integer array of shape (k,): row ids into the param's first
            dimension, each in ``[0, param.shape[0])``. Repeated ids are
            allowed; their values are summed (torch's ``coalesce``).
        values: array of shape ``(k,) + param.shape[1:]`` in the param's dtype:
            row ``j`` of the gradient at row ``indices[j]`` of the param.

    It is checked against its param when a step uses it. The torch equivalent
    is ``torch.sparse_coo_tensor(indices[None], values, param.shape)``.

    Example:
        >>> import numpy as np, fastopt
        >>> g = fastopt.RowSparseGrad([2, 0], np.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> g.todense((3, 2))
        array([[3., 4.],
               [0., 0.],
               [1., 2.]])
    """

    __slots__ = ("indices", "values")

    def __init__(self, indices, values):
        self.indices = np.asarray(indices)
        self.values = np.asarray(values)

    def todense(self, shape):
        """The dense gradient of a param of `shape` (duplicates summed)."""
        out = np.zeros(shape, dtype=self.values.dtype)
        np.add.at(out, self.indices.astype(np.int64, copy=False), self.values)
        return out

    def __repr__(self):
        return f"RowSparseGrad(indices={self.indices!r}, values=<{self.values.dtype} {self.values.shape}>)"


def _prepare(g, p, label):
    """Check `g` against param `p`; return (rows int64 (k,), values (k, D) C-contiguous),
    indices unique (duplicates summed in a fixed order)."""
    if isinstance(g, np.ndarray) or not isinstance(g, RowSparseGrad):
        raise TypeError(f"grads for {label}: SparseAdam needs a fastopt.RowSparseGrad (dense gradients: use Adam), "
                        f"got {type(g).__name__}")
    if p.ndim < 1:
        raise ValueError(f"grads for {label}: a row-sparse gradient needs a param with at least one dimension")
    idx, vals = g.indices, g.values
    if idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer)):
        raise TypeError(f"grads for {label}: indices must be a 1-d integer array, got {idx.dtype} of shape {idx.shape}")
    if vals.dtype != p.dtype:
        raise TypeError(f"grads for {label}: values dtype {vals.dtype} does not match the param's {p.dtype}")
    if vals.shape != (idx.shape[0],) + p.shape[1:]:
        raise ValueError(f"grads for {label}: values shape {vals.shape} should be {(idx.shape[0],) + p.shape[1:]} "
                         f"(one row per index)")
    k = idx.shape[0]
    n_rows = p.shape[0]
    idx = idx.astype(np.int64, copy=False)
    if k and (int(idx.min()) < 0 or int(idx.max()) >= n_rows):
        bad = int(idx[(idx < 0) | (idx >= n_rows)][0])
        raise ValueError(f"grads for {label}: row index {bad} is out of range for {n_rows} rows")
    D = int(np.prod(p.shape[1:], dtype=np.int64))
    vals = vals.reshape(k, D)
    if k > 1 and not bool((idx[1:] > idx[:-1]).all()):
        order = np.argsort(idx, kind="stable")
        srt = idx[order]
        new = np.empty(k, dtype=bool)
        new[0] = True
        np.not_equal(srt[1:], srt[:-1], out=new[1:])
        if not new.all():  # duplicates: sum them, in their order of appearance
            starts = np.flatnonzero(new)
            vals = np.add.reduceat(vals[order], starts, axis=0)
            idx = srt[starts]
    return np.ascontiguousarray(idx), np.ascontiguousarray(vals)


def _alias_owner(ws, vals):
    """The owner of a written buffer (of the _engine.WritableSet `ws`, built
    once per step: a lookup is a binary search) that `vals` overlaps, or None."""
    if vals.size == 0:
        return None
    return ws.owner_of(vals)


def _apply(rule_id, work, scalars, n_threads, ftz):
    """work: [(param, rows, values (k, D), exp_avg, exp_avg_sq, neg_step)] of one dtype, k > 0.
    One C call over all of them."""
    if not work:
        return
    nt = len(work)
    ks = [w[1].shape[0] for w in work]
    head = 3 * nt
    total = head + sum(ks)
    width = -(-total // nt)
    table = np.zeros(nt * width, dtype=np.int64)
    tabf = table.view(np.float64)
    offs = head + np.concatenate(([0], np.cumsum(ks[:-1], dtype=np.int64))) if nt > 1 else np.array([head])
    table[0:head:3] = offs
    table[1:head:3] = [w[2].shape[1] for w in work]
    tabf[2:head:3] = [w[5] for w in work]
    table[head:total] = np.concatenate([w[1] for w in work]) if nt > 1 else work[0][1]
    slots = [[w[2] for w in work]]
    for b in (0, 3, 4):
        slots.append([w[b].reshape(w[b].shape[0], -1)[:w[2].shape[0]] for w in work])
    plan = _engine.Plan(slots, [f"sparse rows of param {i}" for i in range(nt)])
    plan.run(rule_id, scalars, 0, n_threads, ftz, tabf.reshape(nt, width))


def _scalars(group):
    beta1, beta2 = (float(b) for b in group["betas"])
    return (-1.0 if group["maximize"] else 1.0, 1.0 - beta1, 1.0 - beta2, float(group["eps"]))


def _neg_step(group, step):
    beta1, beta2 = (float(b) for b in group["betas"])
    bc1 = 1.0 - beta1 ** step
    bc2 = 1.0 - beta2 ** step
    return -(float(group["lr"]) * math.sqrt(bc2) / bc1)


class SparseAdam(Optimizer):
    #: Its step does not run through the fused pipeline: the tool options act
    #: on the row values in NumPy (see _tool_values), and an attached
    #: fastopt.EMA runs its own pass after each step.
    _fuses_tools = False

    __doc__ = fill(r"""SparseAdam: Adam applied only to the rows present in a row-sparse
    gradient (torch.optim.SparseAdam semantics).

    For each row :math:`r` present in the gradient (indices coalesced: repeated
    rows summed), and only there:

    .. math::

        g &\leftarrow \pm g_r \\
        m_r &\leftarrow m_r + (1-\beta_1)(g - m_r) \\
        v_r &\leftarrow v_r + (1-\beta_2)(g^2 - v_r) \\
        \theta_r &\leftarrow \theta_r - \frac{{\gamma\sqrt{{1-\beta_2^t}}}}{{1-\beta_1^t}}\,
            \frac{{m_r}}{{\sqrt{{v_r}} + \epsilon}}

    Other rows are neither read nor written: their moments do not decay (the
    "lazy" approximation of Adam). :math:`t` counts the steps at which the
    param had a gradient (an empty one counts, as in torch). State per param:
    ``step``, ``exp_avg``, ``exp_avg_sq`` (dense, the param's shape).

    Gradients are :class:`fastopt.RowSparseGrad` ``(indices, values)``; dense
    arrays are refused, as torch refuses dense gradients. Indices are checked
    (integer, in range) in Python; duplicates are summed. One C call per param
    group and dtype gathers the rows by index (a table of row ids passed to the
    kernel) and moves 7 elements per present element (read g, p, m, v; write
    p, m, v): 28 bytes in float32, plus 8 bytes per row id.

    Args:
        {params}
        lr: learning rate, > 0 (default: 0.001)
        betas: coefficients :math:`(\beta_1, \beta_2)`, each in [0, 1) (default: (0.9, 0.999))
        eps: term added to the denominator, > 0 (default: 1e-8)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    The training tools see the gradient as the dense array it stands for (zero
    outside the given rows), i.e. they act on the coalesced row values:
    ``clip_value`` clamps them; the per-tensor and global norms of
    ``clip_norm`` / ``clip_global_norm`` are the 2-norms of the (clamped)
    values, and the factor scales the values before the update;
    ``skip_nonfinite`` skips the whole step (params, moments, step counts
    untouched; ``skipped_steps`` counts it) when a coalesced value is NaN or
    infinite; ``track_update_ratio`` measures :math:`\|\Delta w\|` (only the
    touched rows move), :math:`\|w\|` of the whole param before the step (one
    read of the table) and :math:`\|g\|` of the values the update read. The
    tools work on private copies of the values in NumPy (the caller's arrays
    are never written); sums of squares are taken in double in a fixed order.

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.SparseAdam([w], lr=0.1)
        >>> opt.step([fastopt.RowSparseGrad([0, 2], np.array([0.5, -1.0]))])
        >>> w.round(6)
        array([0.9, 2. , 3.1])

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """)

    rule = "sparse_adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False, *, n_threads=None,
                 flush_denormals=False, **tools):
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    def _check_group(self, group, index):
        V.positive("lr", group["lr"], index)
        V.betas("betas", group["betas"], index)
        V.positive("eps", group["eps"], index)
        V.boolean("maximize", group["maximize"], index)

    def _buffer_names(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _scalars(self, group, step):
        return _scalars(group), 0

    def _tool_values(self, prepared, nthr):
        """The training tools on the step's coalesced row values, before anything is written.

        A row-sparse grad is a dense grad that is zero outside its rows, so
        the dense tools apply to its (coalesced) values as they are: clamp,
        then the per-tensor and global factors of
        :func:`fastopt._tools.clip_factors` from the 2-norms of the clamped
        values. Returns (prepared with the values replaced by transformed
        private copies, telemetry scratch or None), or (None, None) when
        skip_nonfinite finds a NaN/Inf value."""
        t = self._tools
        vals = [np.array(v, order="C", copy=True) for *_, v in prepared]
        sums, nonfinite = _tools.sums_of_squares(vals, nthr, t.clip_value)
        if t.skip_nonfinite and nonfinite:
            return None, None
        if t.clip_value:
            for v in vals:
                T = v.dtype.type
                np.clip(v, T(-t.clip_value), T(t.clip_value), out=v)
        tele = None
        if t.track_update_ratio:
            w2, _ = _tools.sums_of_squares([p for _, p, _, _ in prepared], nthr)
            old_rows = [p.reshape(p.shape[0], v.shape[1])[rows] for _, p, rows, v in prepared]
            tele = [w2, old_rows, sums]
        self.last_global_grad_norm = None
        if t.reduce:
            at = [(gi, j) for gi, j, _ in self._positions(prepared)]
            per_group = [np.zeros(len(g["params"])) for g in self.param_groups]
            for (gi, j), s in zip(at, sums):
                per_group[gi][j] = s
            self.last_global_grad_norm, factors = _tools.clip_factors(t, per_group)
            scaled = False
            for v, (gi, j) in zip(vals, at):
                f = float(factors[gi][j])
                if f != 1.0:
                    v *= v.dtype.type(f)
                    scaled = True
            if scaled and tele is not None:  # ||g|| of the values as the kernel reads them
                tele[2], _ = _tools.sums_of_squares(vals, nthr)
        return [(gi, p, rows, v) for (gi, p, rows, _), v in zip(prepared, vals)], tele

    def _positions(self, prepared):
        """(group index, index in group, flat index) of each prepared param."""
        out, base = [], 0
        index = {}
        for gi, g in enumerate(self.param_groups):
            for j, q in enumerate(g["params"]):
                index[id(q)] = (gi, j, base + j)
            base += len(g["params"])
        for _, p, _, _ in prepared:
            out.append(index[id(p)])
        return out

    def _finish_telemetry(self, tele, prepared, nthr):
        """Store ||dw||^2 (only the touched rows move), ||w||^2 before the step
        and ||g||^2 of the values the kernel read, per param (flat order); NaN
        for params without a grad in this step."""
        w2, old_rows, g2 = tele
        diffs = [np.subtract(p.reshape(p.shape[0], o.shape[1])[rows], o, dtype=np.float64)
                 for (_, p, rows, _), o in zip(prepared, old_rows)]
        dw2, _ = _tools.sums_of_squares(diffs, nthr)
        out = np.full((len(self._flat_params()), 3), np.nan)
        for k, (_, _, i) in enumerate(self._positions(prepared)):
            out[i] = (dw2[k], w2[k], g2[k])
        self._telemetry = out

    def step(self, grads=None, closure=None):
        """One SparseAdam step.

        Args:
            grads: one :class:`fastopt.RowSparseGrad` (or None: skipped) per
                param, as a list in param order or a dict by name.
            closure: a callable returning ``(loss, grads)``, evaluated first.

        Everything is checked before anything is written.
        """
        args, kwargs = (grads,), {"closure": closure}
        for hook in list(self._step_pre_hooks.values()):
            res = hook(self, args, kwargs)
            if res is not None:
                args, kwargs = res
        grads, closure = args[0], kwargs.get("closure")
        loss = None
        if closure is not None:
            res = closure()
            if not (isinstance(res, tuple) and len(res) == 2):
                raise TypeError("closure: must return a (loss, grads) tuple")
            loss, grads = res
        if grads is None:
            raise TypeError("step: pass grads, or a closure returning (loss, grads)")
        if isinstance(grads, RowSparseGrad):
            grads = [grads]
        per_group = self._split_grads(grads)
        labels = self._flat_labels()
        # ---- check everything
        flat = self._flat_params()
        _engine.check_params(flat, labels)
        hit = _engine.find_overlap(flat)
        if hit is not None or len({id(p) for p in flat}) != len(flat):
            raise ValueError("params: params share memory or appear twice")
        prepared, k0 = [], 0
        for gi, group in enumerate(self.param_groups):
            self._check_group(group, gi)
            for j, p in enumerate(group["params"]):
                g = per_group[gi][j]
                if g is not None:
                    rows, vals = _prepare(g, p, labels[k0 + j])
                    prepared.append((gi, p, rows, vals))
            k0 += len(group["params"])
        written, owners = [], []
        for i, p in enumerate(flat):
            written.append(p)
            owners.append(labels[i])
            for n, b in self._state.get(id(p), {}).items():
                if isinstance(b, np.ndarray):
                    written.append(b)
                    owners.append(f"state {n!r} of {labels[i]}")
        ws = _engine.WritableSet(written, owners)
        for _, p, rows, vals in prepared:
            owner = _alias_owner(ws, vals)
            if owner is not None:
                raise ValueError(f"grads: values share memory with {owner}, which the step writes")
        # ---- tools (reads and private copies only), then write
        nthr = _threads.resolve(self.n_threads)
        tele = None
        if self._tools.active:
            prepared, tele = self._tool_values(prepared, nthr)
            if prepared is None:  # skip_nonfinite: a NaN/Inf value; nothing written
                self.last_step_skipped = True
                self.skipped_steps += 1
                for hook in list(self._step_post_hooks.values()):
                    hook(self, args, kwargs)
                return loss
        self.last_step_skipped = False
        work = {}
        for gi, p, rows, vals in prepared:
            st = self._state.setdefault(id(p), {})
            if not st:
                st["step"] = 0
            for name in ("exp_avg", "exp_avg_sq"):
                b = st.get(name)
                if not (isinstance(b, np.ndarray) and b.shape == p.shape and b.dtype == p.dtype
                        and b.flags.c_contiguous and b.flags.writeable):
                    st[name] = np.zeros_like(p) if b is None else np.array(b, dtype=p.dtype, order="C")
            st["step"] = int(st.get("step", 0)) + 1
            if rows.shape[0] == 0 or vals.size == 0:
                continue
            group = self.param_groups[gi]
            work.setdefault((gi, p.dtype.char), []).append(
                (p, rows, vals, st["exp_avg"], st["exp_avg_sq"], _neg_step(group, st["step"])))
        for (gi, _), items in work.items():
            _apply(self._rule_id, items, _scalars(self.param_groups[gi]), nthr, self.flush_denormals)
        if tele is not None:
            self._finish_telemetry(tele, prepared, nthr)
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return loss


def sparse_adam_(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                 maximize=False, n_threads=None, flush_denormals=False):
    """In-place SparseAdam step (see :class:`fastopt.SparseAdam`): ``grads[i]``
    is a :class:`fastopt.RowSparseGrad` (or None to skip), ``step`` the 1-based
    step number (int, or one per param)."""
    params = list(params)
    n = len(params)
    labels = [f"params[{i}]" for i in range(n)]
    _engine.check_params(params, labels)
    grads, ms, vs = list(grads), list(exp_avgs), list(exp_avg_sqs)
    for name, lst in (("grads", grads), ("exp_avgs", ms), ("exp_avg_sqs", vs)):
        if len(lst) != n:
            raise ValueError(f"{name}: expected {n} entries, got {len(lst)}")
    for name, lst in (("exp_avgs", ms), ("exp_avg_sqs", vs)):
        _engine.check_params(lst, [f"{name}[{i}]" for i in range(n)])
        for i, (b, p) in enumerate(zip(lst, params)):
            if b.shape != p.shape or b.dtype != p.dtype:
                raise ValueError(f"{name}[{i}]: shape/dtype {b.shape}/{b.dtype} does not match params[{i}]")
    written = params + ms + vs
    owners = labels + [f"exp_avgs[{i}]" for i in range(n)] + [f"exp_avg_sqs[{i}]" for i in range(n)]
    hit = _engine.find_overlap(written)
    if hit is not None:
        raise ValueError(f"{owners[hit[1]]}: shares memory with {owners[hit[0]]}")
    steps = [int(step)] * n if isinstance(step, (int, np.integer)) and not isinstance(step, bool) else [int(s) for s in step]
    if len(steps) != n or any(s < 1 for s in steps):
        raise ValueError("step: expected 1-based step numbers (an int or one per param)")
    group = dict(lr=lr, betas=(beta1, beta2), eps=eps, maximize=maximize)
    SparseAdam._check_group(None, group, None)
    work = {}
    ws = _engine.WritableSet(written, owners)
    for i, (p, g) in enumerate(zip(params, grads)):
        if g is None:
            continue
        rows, vals = _prepare(g, p, labels[i])
        owner = _alias_owner(ws, vals)
        if owner is not None:
            raise ValueError(f"grads[{i}]: values share memory with {owner}")
        if rows.shape[0]:
            work.setdefault(p.dtype.char, []).append((p, rows, vals, ms[i], vs[i], _neg_step(group, steps[i])))
    nthr = _threads.resolve(_threads.check_n_threads(n_threads))
    for items in work.values():
        _apply(_engine.RULES["sparse_adam"], items, _scalars(group), nthr, flush_denormals)

