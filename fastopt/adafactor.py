"""Adafactor: adaptive steps with factored second moments (Shazeer & Stern 2018)."""
import numbers

import numpy as np

from . import _engine
from . import _validation as V
from ._docs import fill
from ._multipass import (SMALL_MATRIX, InputStash, SpanCache, factored_partials, factored_sums, factored_tiles,
                         lane_rows)
from ._params import by_dtype
from ._tools import grads_transformed, transformed_grad
from .optimizer import Optimizer, ParamState

__all__ = ["Adafactor"]

_FACTORED = ("row_var", "col_var")


def _stat_shapes(shape):
    """{name: shape} of the state buffers of a param of this shape (torch's layout)."""
    if len(shape) >= 2:
        return {"row_var": tuple(shape[:-1]) + (1,), "col_var": tuple(shape[:-2]) + (1, shape[-1])}
    return {"variance": tuple(shape)}


def _lerp(a, x, w, T):
    """torch's lerp(a, x, w) with a scalar weight, in dtype T."""
    if abs(w) < 0.5:
        return a + T(w) * (x - a)
    return x - (x - a) * (T(1) - T(w))


def factored_den(row_sum, col_sum, row_var, col_var, w, eps1, T):
    """Update row_var (shape (..., R, 1)) and col_var (shape (..., 1, C)) in
    place from the sums of g^2 along rows and along columns (float64, any
    shape of the same size) and return den = max(mean_r row_var, eps1), shape
    (..., 1, 1), in dtype T; the sum behind that mean in double, in the
    kernels' lane order (fastopt._multipass.lane_rows).

    The sums come from the tiled pass (csrc/kernels/adafactor.h, pass 3;
    fastopt._multipass.factored_sums); the means are those sums divided by C or
    R and rounded to T. The reference runs the same sequence of NumPy calls, and
    the tiled pass finishes small matrices (SMALL_MATRIX) with the same
    operations in C, so all three agree bit for bit."""
    R, C = row_var.shape[-2], col_var.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        row_mean = (row_sum.reshape(row_var.shape) / C).astype(T)
        col_mean = (col_sum.reshape(col_var.shape) / R).astype(T)
        row_var[...] = _lerp(row_var, row_mean, w, T)
        col_var[...] = _lerp(col_var, col_mean, w, T)
        rows = row_var.reshape(-1, R).astype(np.float64)
        mean = (lane_rows(rows) / R).astype(T).reshape(row_var.shape[:-2] + (1, 1))
    return np.maximum(mean, T(eps1))


class _Meta:
    """What Adafactor keeps per plan: tensor kinds and shapes, the kernel's
    per-tensor table, the den arrays, the state buffers in slot order; and
    the tiled statistics plan of its factored non-empty tensors (positions
    ``fj`` in the plan), its table and partial-sum buffers."""

    __slots__ = ("plan", "params", "fac", "n", "table", "den", "bufs", "fj", "stats", "stats_table", "rowpart",
                 "colpart", "small", "stats_total")


class Adafactor(InputStash, Optimizer):
    __doc__ = fill(r"""Adafactor (Shazeer & Stern, 2018), as torch.optim.Adafactor defines it.

    .. math::

        g_t &\leftarrow \pm\nabla f(\theta_{{t-1}}), \quad
            \hat\beta_{{2,t}} = 1 - t^{{\tau}}, \quad
            \rho_t = \min(\gamma, 1/\sqrt{{t}}) \\
        \alpha_t &\leftarrow \max(\epsilon_2, \mathrm{{RMS}}(\theta_{{t-1}}))\,\rho_t \\
        \theta_{{t-1}} &\leftarrow \theta_{{t-1}} (1 - \gamma\lambda) \\
        R_t &\leftarrow \mathrm{{lerp}}(R_{{t-1}}, \mathrm{{mean}}_c\, g_t^2, 1 - \hat\beta_{{2,t}}), \quad
        C_t \leftarrow \mathrm{{lerp}}(C_{{t-1}}, \mathrm{{mean}}_r\, g_t^2, 1 - \hat\beta_{{2,t}}) \\
        \hat V_t &\leftarrow \frac{{R_t C_t}}{{\max(\mathrm{{mean}}_r R_t, \epsilon_1)}}
            \quad\text{{(params of 2 or more dims)}} \\
        \hat V_t &\leftarrow \mathrm{{lerp}}(\hat V_{{t-1}}, g_t^2, 1 - \hat\beta_{{2,t}})
            \quad\text{{(0-d and 1-d params)}} \\
        U_t &\leftarrow g_t / \sqrt{{\max(\hat V_t, \epsilon_1^2)}}, \quad
        \theta_t \leftarrow \theta_{{t-1}} - \frac{{\alpha_t}}{{\max(1, \mathrm{{RMS}}(U_t)/d)}} U_t

    A param of shape ``(..., R, C)`` keeps the row statistics ``row_var``
    (shape ``(..., R, 1)``) and the column statistics ``col_var`` (shape
    ``(..., 1, C)``), reduced over its last two dims with any leading dims
    kept; 0-d and 1-d params keep a full ``variance``. ``lr`` caps the
    relative step size and scales the decoupled weight decay, and
    :math:`\epsilon_1` (the machine epsilon of the param's dtype when None)
    guards the variance estimate, as in torch (not as in the paper). Same
    operation order as torch's single-tensor implementation.

    Per step and dtype: a fused pass reducing :math:`\|\theta\|^2` (and, for
    0-d/1-d params, updating the variance and reducing :math:`\|U\|^2`); a
    tiled pass over the factored params' grads writing partial sums of
    :math:`g^2` along rows and columns (tiles of whole rows up to 16384
    columns, so both sums come from one read of the grad); the O(R + C)
    statistics from those sums in NumPy, or, for matrices of at most 256 rows
    and columns (conv filters), by the tiled pass itself; a fused pass reducing
    :math:`\|U\|^2` of the factored params; a fused apply pass (decay,
    :math:`U` recomputed, update). Sums and norms are accumulated in double
    in a fixed order (torch uses the param dtype): results depend on neither
    the thread count nor the instruction set. Memory traffic per element: 8
    elements for 0-d/1-d params (32 bytes in float32), 6 for factored params
    (24 bytes in float32) plus the tiles' partial sums (1/64 of a double per
    element or less for matrices of 64 rows or more; none for small ones) and
    the statistics (read by passes 1 and 2; for a conv filter's 3 x 3 and 1 x 1
    as large as 6/9 and 2 times the param). The
    statistics pass is not affected by ``flush_denormals``. State per param:
    ``step``, and ``row_var``/``col_var`` or ``variance``.

    Differences from torch: with ``eps1=None`` torch takes the machine
    epsilon of the first param of the group for all its params, fastopt
    that of each param's dtype (they differ only in a group mixing float32
    and float64); torch fails on empty params (a division by zero), fastopt
    leaves them unchanged.

    Args:
        {params}
        lr: maximum relative step size :math:`\gamma` and weight-decay scale,
            >= 0 (default: 0.01)
        beta2_decay: decay exponent :math:`\tau` of the second-moment
            coefficient, <= 0 (default: -0.8)
        eps: :math:`(\epsilon_1, \epsilon_2)`: :math:`\epsilon_1` > 0 guards the
            variance estimate (None: the dtype's machine epsilon), and
            :math:`\epsilon_2` >= 0 floors the parameter scale (default: (None, 0.001))
        d: clipping threshold of the update's RMS, >= 1 (default: 1.0)
        weight_decay: decoupled decay :math:`\lambda`, applied as
            :math:`\theta (1 - \gamma\lambda)`, >= 0 (default: 0.0)
        foreach: accepted for torch compatibility and ignored (default: None)
        {maximize}
        {n_threads}
        {flush_denormals}
        {tools}

    {step_note}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.Adafactor([w], lr=0.01)
        >>> opt.step([np.array([0.5, -1.0, 2.0])])
        >>> w.round(6)
        array([0.978398, 2.021602, 2.978398])

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear
        Memory Cost", ICML 2018 (arXiv:1804.04235).
    """)

    rule = "adafactor"

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False, n_threads=None, flush_denormals=False, **tools):
        if foreach is not None:
            V.boolean("foreach", foreach)
        self._spans = SpanCache()
        self._meta = {}
        self._fresh = {}
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    # ------------------------------------------------------------ hyperparameters
    def _check_group(self, group, index):
        V.nonneg("lr", group["lr"], index)
        b = V.number("beta2_decay", group["beta2_decay"], index)
        if b > 0:
            raise ValueError(f"beta2_decay: expected a value <= 0, got {b}"
                             + ("" if index is None else f" (param group {index})"))
        eps = group["eps"]
        try:
            items = tuple(eps)
        except TypeError:
            raise TypeError(f"eps: expected a tuple (eps1, eps2), got {type(eps).__name__}"
                            + ("" if index is None else f" (param group {index})")) from None
        if len(items) != 2:
            raise ValueError(f"eps: expected 2 values, got {len(items)}"
                             + ("" if index is None else f" (param group {index})"))
        if items[0] is not None:
            V.positive("eps[0]", items[0], index)
        V.nonneg("eps[1]", items[1], index)
        dd = V.number("d", group["d"], index)
        if dd < 1.0:
            raise ValueError(f"d: expected a value >= 1, got {dd}" + ("" if index is None else f" (param group {index})"))
        V.nonneg("weight_decay", group["weight_decay"], index)
        V.boolean("maximize", group["maximize"], index)

    def _buffer_names(self, group):
        return ()  # the state buffers have other shapes than the params: see _make_plans

    # ------------------------------------------------------------ state buffers
    def _stat_buffers(self, p):
        """The state buffers of p in kernel order, from its state when they are
        usable in place, else new (kept in self._fresh until a step commits them)."""
        st = self._state.get(id(p)) or {}
        fresh = self._fresh.get(id(p), {})
        out = {}
        for name, shape in _stat_shapes(p.shape).items():
            b = st.get(name)
            if not (isinstance(b, np.ndarray) and b.shape == shape and b.dtype == p.dtype
                    and b.flags.c_contiguous and b.flags.writeable):
                b = fresh.get(name)
                if b is None:
                    old = st.get(name)
                    if old is not None and np.shape(old) == shape:
                        b = np.array(old, dtype=p.dtype, order="C", copy=True)
                    else:
                        b = np.zeros(shape, dtype=p.dtype)
                    self._fresh.setdefault(id(p), {})[name] = b
            out[name] = b
        return out

    def _make_plans(self, params, bufnames, buffers, labels, idx_all):
        subsets = by_dtype(params, idx_all)
        plans = []
        whole = len(subsets) == 1 and len(idx_all) == len(params)
        for idx in subsets:
            ps = [params[i] for i in idx]
            m = _Meta()
            m.params = ps
            m.bufs = [self._stat_buffers(p) for p in ps]
            m.fac = np.array([p.ndim >= 2 for p in ps], dtype=bool)
            m.n = np.array([p.size for p in ps], dtype=np.float64)
            m.table = np.zeros((len(ps), 4))
            m.den = []
            a_slot, c_slot, d_slot = [], [], []
            for j, (p, bufs) in enumerate(zip(ps, m.bufs)):
                if p.ndim >= 2:
                    R, C = p.shape[-2], p.shape[-1]
                    m.table[j, :3] = (1.0, R, C)
                    den = np.zeros(p.shape[:-2] + (1, 1), dtype=p.dtype)
                    m.den.append(den)
                    a_slot.append(bufs["row_var"])
                    c_slot.append(bufs["col_var"])
                    d_slot.append(den)
                else:
                    m.den.append(None)
                    a_slot += [bufs["variance"]]
                    c_slot += [bufs["variance"]]  # unused by kind-0 tensors
                    d_slot += [bufs["variance"]]
            slots = [ps, _engine.INPUT, _engine.Fixed(a_slot), _engine.Fixed(c_slot), _engine.Fixed(d_slot)]
            plan = _engine.Plan(slots, [labels[i] for i in idx])
            m.plan = plan
            self._make_stats_plan(m, [labels[i] for i in idx])
            if len(self._meta) > 64:  # plans of slow-path subsets come and go
                self._meta = {k: v for k, v in self._meta.items() if any(r[1] is v.plan for r in self._live_plans())}
            self._meta[id(plan)] = m
            plans.append((None if whole else idx, plan))
        return plans

    @staticmethod
    def _make_stats_plan(m, labels):
        """The tiled plan of pass 3 (kernel header): the row and column sums of
        g^2 of every factored non-empty tensor, in one parallel call."""
        m.fj = [j for j, p in enumerate(m.params) if p.ndim >= 2 and p.size]
        m.stats = None
        if not m.fj:
            return
        table, tiles, m.rowpart, m.colpart, m.small = [], [], [], [], []
        for j in m.fj:
            p = m.params[j]
            R, C = p.shape[-2], p.shape[-1]
            B = p.size // (R * C)
            ct, rt, ns, nrb, bt = factored_tiles(R, C)
            small = R <= SMALL_MATRIX and C <= SMALL_MATRIX  # then ns == nrb == 1: whole matrices per tile
            table.append((1.0, R, C, B * R, ct, rt, ns, nrb, bt, float(small)))
            tiles.append(-(-B // bt) * nrb * ns)
            m.small.append(small)
            m.rowpart.append(np.empty(0 if small else (ns, B, R)))
            m.colpart.append(np.empty(0 if small else (B, nrb, C)))
        ps = [m.params[j] for j in m.fj]
        m.stats_table = np.array(table, dtype=np.float64)
        m.stats_total = sum(p.size for p in ps)
        stats = [m.bufs[j]["row_var"] for j in m.fj], [m.bufs[j]["col_var"] for j in m.fj], [m.den[j] for j in m.fj]
        m.stats = _engine.Plan([ps, _engine.INPUT, _engine.Scratch(m.rowpart), _engine.Scratch(m.colpart)]
                               + [_engine.Fixed(s) for s in stats], [labels[j] for j in m.fj], tiles=tiles)

    def _live_plans(self):
        return [r for rt in self._runtimes if rt is not None for r in rt.plans]

    def _invalidate(self, sync=True):
        self._fresh = {}
        self._meta = {}
        super()._invalidate(sync)

    def _commit(self, m):
        """Put the buffers a plan used into its params' state (after its first run)."""
        changed = False
        for p, bufs in zip(m.params, m.bufs):
            new = self._fresh.pop(id(p), None)
            if new is None:
                continue
            st = self._state.get(id(p))
            if st is None:
                st = self._state[id(p)] = ParamState(self)
            dict.update(st, {k: bufs[k] for k in new})
            changed = True
        if changed:
            self._writable = None

    # ------------------------------------------------------------ step
    def _run_plan(self, plan, group, step, n_threads):
        m = self._meta[id(plan)]
        T = plan.params[0].dtype.type if plan.n_tensors else np.float64
        lr, wd, d = float(group["lr"]), float(group["weight_decay"]), float(group["d"])
        eps1, eps2 = group["eps"]
        eps1 = float(np.finfo(T).eps) if eps1 is None else float(eps1)
        eps2 = float(eps2)
        t = float(step)
        w = t ** float(group["beta2_decay"])
        rho = min(lr, 1 / (t ** 0.5))
        hi = abs(w) >= 0.5
        sign = -1.0 if group["maximize"] else 1.0
        scalars = (sign, w, float(T(1) - T(w)), eps1 * eps1, 1.0 - lr * wd)
        flags = (4 if hi else 0) | (8 if wd != 0 else 0)
        info = self._spans.get(plan)
        ft = self.flush_denormals
        plan.run(self._rule_id, scalars, flags, n_threads, ft, per_tensor=m.table, out=info.out, keep_inputs=True,
                 observe=False)
        p_sq = info.sums(0)
        u_sq = info.sums(1)
        if m.fac.any():
            self._factored_stats(plan, group, m, scalars + (eps1,), flags, n_threads)
            plan.run(self._rule_id, scalars, flags | 1, n_threads, ft, per_tensor=m.table, out=info.out,
                     keep_inputs=True, observe=False)
            u_sq = u_sq + info.sums(2)
        with np.errstate(invalid="ignore", divide="ignore"):
            rms_p = np.sqrt(p_sq) / np.sqrt(m.n)
            q = np.sqrt(u_sq) / (np.sqrt(m.n) * d)
        alpha = np.where(rms_p > eps2, rms_p, eps2) * rho  # Python's max(eps2, rms): eps2 when NaN
        denom = np.where(q > 1.0, q, 1.0)
        m.table[:, 3] = -alpha / denom
        plan.run(self._rule_id, scalars, flags | 2, n_threads, ft, per_tensor=m.table)
        self._commit(m)

    def _factored_stats(self, plan, group, m, scalars, flags, n_threads):
        """Between the reducing passes: row/col statistics and den of every
        factored non-empty tensor (an empty one has nothing to update; torch
        raises). The tiled pass over the grads the kernels read finishes small
        matrices itself and leaves partial sums of g^2 for the others, combined
        here; when tools transform the grads (clip_value, clip_norm), every
        tensor's sums come from the same tile order in NumPy over the
        transformed grads. Either way the same operations, bit for bit."""
        if not m.fj:
            return
        T = plan.params[0].dtype.type
        w, eps1 = scalars[1], scalars[5]
        if grads_transformed(self, group):
            gi = next(i for i, g in enumerate(self.param_groups) if g is group)
            by_id = {id(p): g for p, g in zip(group["params"], self._stash[0][gi])}
            for j in m.fj:
                p = m.params[j]
                g = np.asarray(by_id[id(p)], dtype=p.dtype).reshape(p.shape)
                self._finish_stats(m, j, *factored_partials(transformed_grad(self, g, group, p)), w, eps1, T)
            return
        grads = plan.bound_arrays(1)
        m.stats.bind(1, [grads[j] for j in m.fj], None)
        nt = n_threads if m.stats_total >= _engine.serial_threshold() else 1
        m.stats.run(self._rule_id, scalars, 3 | (flags & 4), nt, False, per_tensor=m.stats_table)
        for k, j in enumerate(m.fj):
            if not m.small[k]:
                self._finish_stats(m, j, m.rowpart[k], m.colpart[k], w, eps1, T)

    @staticmethod
    def _finish_stats(m, j, rowpart, colpart, w, eps1, T):
        bufs = m.bufs[j]
        row_sum, col_sum = factored_sums(rowpart, colpart)
        m.den[j][...] = factored_den(row_sum, col_sum, bufs["row_var"], bufs["col_var"], w, eps1, T)

    # ------------------------------------------------------------ state_dict
    def load_state_dict(self, state_dict):
        """As :meth:`Optimizer.load_state_dict`; ``row_var``/``col_var`` are
        checked against their factored shapes and copied in the param's dtype."""
        try:
            saved_groups = list(state_dict["param_groups"])
            saved_state = dict(state_dict["state"])
        except (TypeError, KeyError):
            return super().load_state_dict(state_dict)
        index_map = {}
        for g, s in zip(self.param_groups, saved_groups):
            for key, p in zip(s.get("params", ()), g["params"]):
                index_map[int(key)] = p
        labels = dict(zip(map(id, self._flat_params()), self._flat_labels()))
        stripped, extra = {}, {}
        for key, st in saved_state.items():
            st = dict(st)
            fac = {n: st.pop(n) for n in _FACTORED if n in st}
            stripped[key] = st
            if not fac:
                continue
            p = index_map.get(int(key)) if isinstance(key, (numbers.Integral, str)) else None
            if p is None:
                continue  # the base class reports the bad key
            shapes = _stat_shapes(p.shape)
            for n, v in fac.items():
                a = np.asarray(v)
                if n not in shapes or a.shape != shapes[n]:
                    want = shapes.get(n)
                    raise ValueError(f"state_dict: {n!r} of {labels[id(p)]} has shape {a.shape}, expected "
                                     f"{want if want is not None else 'none (a 0-d or 1-d param keeps variance)'}")
                extra.setdefault(id(p), {})[n] = np.array(a, dtype=p.dtype, order="C", copy=True)
        super().load_state_dict({**state_dict, "state": stripped})
        for pid, bufs in extra.items():
            st = self._state.get(pid)
            if st is None:
                st = self._state[pid] = ParamState(self, {"step": 1})
            dict.update(st, bufs)
        self._invalidate(sync=False)



def adafactor_(params, grads, row_vars, col_vars, variances, *, step, lr=1e-2, beta2_decay=-0.8, eps1=None,
               eps2=1e-3, d=1.0, weight_decay=0.0, maximize=False, n_threads=None, flush_denormals=False):
    """The stateless Adafactor step behind :func:`fastopt.functional.adafactor_`."""
    params = list(params)
    n = len(params)
    _engine.check_params(params, [f"params[{i}]" for i in range(n)])
    grads = list(grads)
    if len(grads) != n:
        raise ValueError(f"grads: expected {n} arrays, got {len(grads)}")
    if any(g is None for g in grads):
        raise ValueError(f"grads: entry for params[{[g is None for g in grads].index(True)}] is None")
    lists = {}
    for name, lst in (("row_var", row_vars), ("col_var", col_vars), ("variance", variances)):
        lists[name] = None if lst is None else list(lst)
        if lists[name] is not None and len(lists[name]) != n:
            raise ValueError(f"{name}s: expected {n} entries, got {len(lists[name])}")
    written, owners, states = list(params), [f"params[{i}]" for i in range(n)], []
    for i, p in enumerate(params):
        st = {}
        for name, shape in _stat_shapes(p.shape).items():
            where = f"{name}s[{i}]"
            if lists[name] is None:
                raise ValueError(f"{name}s: required (params[{i}] has {p.ndim} dims)")
            b = lists[name][i]
            if not isinstance(b, np.ndarray) or b.shape != shape or b.dtype != p.dtype \
                    or not b.flags.c_contiguous or not b.flags.writeable:
                got = f"{b.shape}/{b.dtype}" if isinstance(b, np.ndarray) else type(b).__name__
                raise ValueError(f"{where}: expected a writeable C-contiguous array of shape {shape} and dtype "
                                 f"{p.dtype}, got {got}")
            st[name] = b
            written.append(b)
            owners.append(where)
        states.append(st)
    hit = _engine.find_overlap(written)
    if hit is not None:
        raise ValueError(f"{owners[hit[1]]}: shares memory with {owners[hit[0]]}")
    if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
        step = [int(step)] * n
    steps = [int(s) for s in step]
    if len(steps) != n:
        raise ValueError(f"step: expected an int or {n} counts, got {len(steps)}")
    if any(s < 1 for s in steps):
        raise ValueError("step: step numbers are 1-based and must be >= 1")
    opt = Adafactor(params, lr=lr, beta2_decay=beta2_decay, eps=(eps1, eps2), d=d, weight_decay=weight_decay,
                    maximize=maximize, n_threads=n_threads, flush_denormals=flush_denormals)
    for p, s, st in zip(params, steps, states):
        st["step"] = s - 1
        opt._state[id(p)] = st
    opt.step(grads)
