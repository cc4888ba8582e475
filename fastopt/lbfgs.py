"""L-BFGS (torch.optim.LBFGS), with its vector work in fused C passes over a flat view."""
import math
import numbers

import numpy as np

from . import _engine, _threads, _tools
from . import _validation as V
from ._docs import fill
from .optimizer import Optimizer

__all__ = ["LBFGS"]

# Ops of the lbfgs kernel (csrc/kernels/lbfgs.h): low 4 bits, VAR = bit 4.
_STEP, _SAVE, _RESTORE, _GATHER, _DOT, _AXPY, _NEG, _HIST, _SCALE, _NORMS = range(10)
_VAR = 16


def _refuse_clip(name, value):
    """Validate a clip option as every optimizer does, then refuse any value but None."""
    if _tools._threshold(name, value) is not None:
        raise ValueError(
            f"{name}: LBFGS does not clip gradients: a clipped gradient is no longer the gradient of the loss "
            f"the closure returns, so the curvature pairs (y = g_k - g_(k-1)) and the line search's "
            f"sufficient-decrease and curvature tests would mix two different functions; control the step "
            f"with line_search_fn='strong_wolfe' and lr instead")


def _no_clip(name):
    return property(lambda self: None, lambda self, v: _refuse_clip(name, v),
                    doc=f"Always None: LBFGS refuses {name} (see its docstring).")


def _int(name, value, index, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} (param group {index})")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value} (param group {index})")
    return int(value)


class _Flat:
    """The flat vectors of one LBFGS run and the plans that reach them.

    ``g`` (current gradient), ``d`` (direction), ``pg`` (previous gradient)
    and ``x`` (params saved during a line search) are allocated once; ``g``,
    ``d`` and ``x`` also have per-param views so the param-side passes are one
    C call over all params. History vectors come in (y, s) pairs, recycled when
    the history is full; each pair has its plans built once."""

    def __init__(self, params, labels, dtype, d=None, pg=None):
        self.params = list(params)
        self.T = np.dtype(dtype).type
        sizes = [p.size for p in params]
        self.n = int(sum(sizes))
        self.g = np.zeros(self.n, dtype)
        self.d = d if d is not None else np.zeros(self.n, dtype)
        self.pg = pg if pg is not None else np.zeros(self.n, dtype)
        self.x = np.zeros(self.n, dtype)
        offs = np.cumsum([0] + sizes)

        def views(flat):
            return [flat[offs[i]:offs[i + 1]].reshape(p.shape) for i, p in enumerate(params)]

        self.gviews = views(self.g)
        self.pplan = _engine.Plan([self.params, views(self.d), views(self.x)], labels)
        self.gplan = _engine.Plan([views(self.g), _engine.INPUT, views(self.d)], labels)
        self.writable = _engine.WritableSet(self.params + [self.g], labels + ["LBFGS flat gradient"])
        self._vplans = {}
        self._out = {}

    def out(self, plan):
        o = self._out.get(id(plan))
        if o is None:
            o = self._out[id(plan)] = np.empty(plan.n_spans * _engine.OUT_WIDTH)
        return o

    def vplan(self, *vecs):
        """Plan over flat vectors (cached by identity; the vectors live as long as the run)."""
        key = tuple(id(v) for v in vecs)
        plan = self._vplans.get(key)
        if plan is None:
            plan = self._vplans[key] = _engine.Plan([[v] for v in vecs], ["flat"])
        return plan


class LBFGS(Optimizer):
    #: Its step does not run through the fused pipeline: skip_nonfinite and
    #: track_update_ratio are handled around the iterations (step), clipping
    #: is refused, and an attached fastopt.EMA runs its own pass after each step.
    _fuses_tools = False

    clip_value = _no_clip("clip_value")
    clip_norm = _no_clip("clip_norm")
    clip_global_norm = _no_clip("clip_global_norm")

    __doc__ = fill(r"""L-BFGS (Liu & Nocedal, 1989), torch.optim.LBFGS semantics.

    One ``step(closure)`` runs up to ``max_iter`` iterations. Each iteration
    builds the direction :math:`d = -H g` by the two-loop recursion over the
    last ``history_size`` pairs :math:`(y_i, s_i)`:

    .. math::

        y &= g_k - g_{{k-1}},\quad s = t\,d_{{k-1}},\quad
            \text{{kept if }} y^\top s > 10^{{-10}},\ \rho = 1/(y^\top s),\
            H_0 = y^\top s / y^\top y \\
        q &\leftarrow -g_k;\quad \alpha_i = \rho_i\, s_i^\top q,\ q \leftarrow q - \alpha_i y_i
            \quad (i = m-1 \dots 0) \\
        r &\leftarrow H_0\, q;\quad \beta_i = \rho_i\, y_i^\top r,\ r \leftarrow r + (\alpha_i - \beta_i) s_i
            \quad (i = 0 \dots m-1),\qquad d = r

    then moves :math:`\theta \leftarrow \theta + t\,d` with :math:`t = \gamma`
    (the first iteration ever uses :math:`t = \min(1, 1/\|g\|_1)\,\gamma`), or
    with the step found by a strong-Wolfe line search (cubic interpolation,
    :math:`c_1 = 10^{{-4}}, c_2 = 0.9`, at most ``max_eval`` evaluations in all).
    It stops early when :math:`\max|g| \le` ``tolerance_grad``, when
    :math:`g^\top d > -` ``tolerance_change``, when :math:`\max|t d|` or the
    change of the loss falls below ``tolerance_change``.

    The closure returns ``(loss, grads)`` (grads as a list in param order or a
    dict by name) for the params as they are when it is called. Params are
    viewed as one flat vector (all of one dtype): every vector operation
    (gathering the grads, the dot products and axpys of the recursion, the
    param update, saving and restoring params in the line search) is one
    fused C pass over that vector or over all params, with sums accumulated in
    double in a fixed order (deterministic, thread-count independent).

    State (torch's keys, kept on the first param): ``func_evals``, ``n_iter``,
    ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``,
    ``prev_flat_grad``, ``prev_loss``, ``al``; a run resumed from a
    state_dict continues exactly. Uses ``param_bytes * (2 * history_size + 4)``
    bytes of memory.

    Args:
        {params}
        lr: learning rate (step length of the first trial), >= 0 (default: 1)
        max_iter: maximal number of iterations per step, >= 1 (default: 20)
        max_eval: maximal number of closure evaluations per step; None means
            ``max_iter * 5 // 4`` (default: None)
        tolerance_grad: stop when the largest gradient entry is at most this (default: 1e-7)
        tolerance_change: stop when the step, loss change or directional
            derivative falls below this (default: 1e-9)
        history_size: number of (y, s) pairs kept, >= 1 (default: 100)
        line_search_fn: None (fixed step ``lr``) or ``'strong_wolfe'`` (default: None)
        {n_threads}
        {flush_denormals}
        skip_nonfinite: skip the whole step when the first closure evaluation
            of the step returns a NaN/Inf loss or grad; also a writable
            attribute (default: False)
        track_update_ratio: measure :math:`\|\Delta w\|` over the whole step,
            :math:`\|w\|` before it and :math:`\|g\|` of the first evaluation's
            grads, per param (:meth:`update_ratios`); also a writable attribute
            (default: False)
        clip_value: refused: any value but None raises ValueError (default: None)
        clip_norm: refused, as ``clip_value`` (default: None)
        clip_global_norm: refused, as ``clip_value`` (default: None)

    Training tools. ``skip_nonfinite`` checks the first closure evaluation of
    a step, before anything moves: when its loss or any grad element is NaN
    or infinite, the step ends there (params, state, ``func_evals`` and
    ``n_iter`` untouched; ``last_step_skipped``, ``skipped_steps`` as for
    every optimizer). The later evaluations inside the step (the next
    iterations, the line search's probes) are not guarded: they happen after
    params have moved and curvature pairs were formed, so skipping then would
    mean rolling back part of a step (a saved copy of the params and of the
    history, memory the step does not otherwise need); a NaN or Inf there
    propagates as in torch. Gradient clipping is refused: a clipped
    gradient is not the gradient of the loss the closure returns, so the
    curvature pairs :math:`y = g_k - g_{{k-1}}` would not describe the
    function's curvature and the strong-Wolfe tests would compare the loss with
    a directional derivative of another function; a step bound belongs to the
    line search (``lr``, ``line_search_fn``), not to the gradient.

    Only one param group is supported, as in torch. Unlike torch, an unknown
    ``line_search_fn`` is refused when the optimizer is built (torch raises at
    the first step). Closure loss values are converted with ``float()``.

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([1.0, 2.0, 3.0])
        >>> opt = fastopt.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     return float(((w - 0.5) ** 2).sum()), [2 * (w - 0.5)]
        >>> loss = opt.step(closure)
        >>> w.round(6)
        array([0.5, 0.5, 0.5])

    References:
        Liu & Nocedal, "On the limited memory BFGS method for large scale
        optimization", Mathematical Programming 45, 1989.
        Nocedal & Wright, "Numerical Optimization", 2nd ed., 2006 (ch. 3, 7).
    """)

    rule = "lbfgs"
    step_in_state = False

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None, *, n_threads=None, flush_denormals=False,
                 skip_nonfinite=False, track_update_ratio=False, clip_value=None, clip_norm=None,
                 clip_global_norm=None):
        for name, value in (("clip_value", clip_value), ("clip_norm", clip_norm),
                            ("clip_global_norm", clip_global_norm)):
            _refuse_clip(name, value)
        if max_eval is None and isinstance(max_iter, numbers.Integral) and not isinstance(max_iter, bool):
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        self._flat = None
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals,
                         skip_nonfinite=skip_nonfinite, track_update_ratio=track_update_ratio)

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _check_group(self, group, index):
        V.nonneg("lr", group["lr"], index)
        _int("max_iter", group["max_iter"], index, 1)
        _int("max_eval", group["max_eval"], index, 1)
        V.nonneg("tolerance_grad", group["tolerance_grad"], index)
        V.nonneg("tolerance_change", group["tolerance_change"], index)
        _int("history_size", group["history_size"], index, 1)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"line_search_fn: expected None or 'strong_wolfe', got {group['line_search_fn']!r} "
                             f"(param group {index})")

    def _buffer_names(self, group):
        return ()

    def _scalars(self, group, step):
        raise NotImplementedError("LBFGS steps are driven by step(closure)")

    # ------------------------------------------------------------ flat vectors
    def _state0(self):
        return self._state.setdefault(id(self.param_groups[0]["params"][0]), {})

    def _runtime_flat(self):
        params = self.param_groups[0]["params"]
        fl = self._flat
        if fl is not None and len(fl.params) == len(params) and all(a is b for a, b in zip(fl.params, params)):
            return fl
        labels = self._flat_labels()
        _engine.check_params(list(params), labels)
        if len({p.dtype for p in params}) != 1:
            raise TypeError("params: LBFGS needs all params of one dtype (they are viewed as one flat vector)")
        hit = _engine.find_overlap(list(params))
        if hit is not None or len({id(p) for p in params}) != len(params):
            raise ValueError("params: params share memory or appear twice")
        dtype = params[0].dtype
        n = sum(p.size for p in params)
        st = self._state0()

        def adopt(key):
            a = st.get(key)
            if isinstance(a, np.ndarray) and a.shape == (n,) and a.dtype == dtype and a.flags.c_contiguous \
                    and a.flags.writeable:
                return a
            return None

        fl = _Flat(params, labels, dtype, d=adopt("d"), pg=adopt("prev_flat_grad"))
        # History arrays from a loaded state are used in place when they fit.
        for key in ("old_dirs", "old_stps"):
            if key in st:
                st[key] = [a if (a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable)
                           else np.array(a, dtype=dtype) for a in st[key]]
        self._flat = fl
        return fl

    def _run(self, plan, op, scalar=0.0, reduce=False):
        out = self._flat.out(plan) if reduce else None
        plan.run(self._rule_id, (scalar,), op, self._nt, self.flush_denormals, None, out)
        if reduce:
            o = out.reshape(-1, _engine.OUT_WIDTH)
            return o
        return None

    def _dot(self, a, b):
        o = self._run(self._flat.vplan(a, b), _DOT, reduce=True)
        return self._flat.T(o[:, 0].sum())

    def _evaluate(self, closure, with_dot=False):
        """Call the closure; gather its grads into the flat gradient.
        Returns (raw loss, float loss, sum|g|, max|g|, g.d)."""
        res = closure()
        if not (isinstance(res, tuple) and len(res) == 2):
            raise TypeError("closure: must return a (loss, grads) tuple")
        raw, grads = res
        loss = float(raw)
        (glist,) = self._split_grads(grads)
        fl = self._flat
        missing = fl.gplan.bind(1, glist, fl.writable)
        if missing:
            raise ValueError(f"grads: entry for {self._flat_labels()[missing[0]]} is None (LBFGS needs every grad)")
        o = self._run(fl.gplan, _GATHER | (_VAR if with_dot else 0), reduce=True)
        T = fl.T
        gsum = T(o[:, 0].sum())
        gmax = T(o[:, 1].max()) if o.shape[0] else T(0)
        if gsum != gsum:  # NaN anywhere: the max is NaN too (torch's max propagates NaN)
            gmax = gsum
        gtd = T(o[:, 2].sum()) if with_dot else None
        return raw, loss, gsum, gmax, gtd

    def _add_dir(self, t):
        """params += t * d; returns max |t * d|."""
        o = self._run(self._flat.pplan, _STEP, float(t), reduce=True)
        return self._flat.T(o[:, 1].max()) if o.shape[0] else self._flat.T(0)

    # ------------------------------------------------------------ step
    def step(self, closure=None, grads=None):
        """Run up to ``max_iter`` L-BFGS iterations; returns the closure's first loss.

        Args:
            closure: callable returning ``(loss, grads)`` for the current params
                (required; it is called several times).
        """
        args, kwargs = (closure,), {}
        for hook in list(self._step_pre_hooks.values()):
            res = hook(self, args, kwargs)
            if res is not None:
                args, kwargs = res
        closure = args[0] if args else kwargs.get("closure")
        if closure is None or not callable(closure):
            raise TypeError("closure: LBFGS.step needs a closure returning (loss, grads)")
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        group = self.param_groups[0]
        self._check_group(group, 0)
        self._nt = _threads.resolve(self.n_threads)
        fl = self._runtime_flat()
        first = self._evaluate(closure)
        loss = first[0]
        t = self._tools
        if t.skip_nonfinite or t.track_update_ratio:
            g2, nonfinite = _tools.sums_of_squares(fl.gviews, self._nt)
            if t.skip_nonfinite and (nonfinite or not math.isfinite(first[1])):
                # Nothing has moved yet: params, state and counters stay as they were.
                self.last_step_skipped = True
                self.skipped_steps += 1
            else:
                self.last_step_skipped = False
                self.last_global_grad_norm = math.sqrt(math.fsum(g2.tolist()))
                old = [p.copy() for p in fl.params] if t.track_update_ratio else None
                w2 = _tools.sums_of_squares(fl.params, self._nt)[0] if old is not None else None
                self._iterate(closure, group, first)
                if old is not None:
                    diffs = [np.subtract(p, o, dtype=np.float64) for p, o in zip(fl.params, old)]
                    dw2, _ = _tools.sums_of_squares(diffs, self._nt)
                    self._telemetry = np.stack([dw2, w2, g2], axis=1)
        else:
            self.last_step_skipped = False
            self._iterate(closure, group, first)
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return loss

    def _iterate(self, closure, group, first):
        """The iterations of one step, after its first closure evaluation `first`."""
        fl = self._flat
        T = fl.T
        lr = float(group["lr"])
        max_iter, max_eval = int(group["max_iter"]), int(group["max_eval"])
        tol_grad, tol_change = float(group["tolerance_grad"]), float(group["tolerance_change"])
        history_size = int(group["history_size"])
        wolfe = group["line_search_fn"] is not None

        st = self._state0()
        st.setdefault("func_evals", 0)
        st.setdefault("n_iter", 0)

        orig_loss, loss, gsum, gmax, _ = first
        current_evals = 1
        st["func_evals"] += 1
        if gmax <= tol_grad:
            return orig_loss

        d, g, pg = fl.d, fl.g, fl.pg
        t = st.get("t")
        old_dirs, old_stps, ro = st.get("old_dirs"), st.get("old_stps"), st.get("ro")
        H_diag = st.get("H_diag")
        prev_loss = st.get("prev_loss")
        spares = getattr(fl, "spares", None)
        if spares is None:
            spares = fl.spares = []
        n_iter = 0
        tdmax = None
        while n_iter < max_iter:
            n_iter += 1
            st["n_iter"] += 1
            # ---- direction
            if st["n_iter"] == 1:
                self._run(fl.vplan(d, g, pg), _NEG | _VAR)       # d = -g; prev_g = g
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                if not spares:
                    spares.append((np.empty(fl.n, g.dtype), np.empty(fl.n, g.dtype)))
                y, s = spares[-1]
                o = self._run(fl.vplan(y, s, g, pg, d), _HIST, float(t), reduce=True)  # y, s; prev_g = g
                ys, yy = T(o[:, 0].sum()), T(o[:, 1].sum())
                if ys > 1e-10:
                    spares.pop()
                    if len(old_dirs) == history_size:
                        spares.append((old_dirs.pop(0), old_stps.pop(0)))
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(T(1.0) / ys)
                    H_diag = ys / yy
                num_old = len(old_dirs)
                al = st.get("al")
                if al is None or len(al) < history_size:
                    al = st["al"] = (list(al) if al else []) + [None] * (history_size - (len(al) if al else 0))
                self._run(fl.vplan(d, g), _NEG)                    # q = -g (in d's buffer)
                for i in range(num_old - 1, -1, -1):
                    plan = fl.vplan(d, old_dirs[i], old_stps[i])
                    o = self._run(plan, _DOT | _VAR, reduce=True)
                    al[i] = T(o[:, 0].sum()) * ro[i]
                    self._run(plan, _AXPY, float(-al[i]))          # q += -al_i * y_i
                self._run(fl.vplan(d), _SCALE, float(H_diag))     # r = q * H_diag
                for i in range(num_old):
                    plan = fl.vplan(d, old_dirs[i], old_stps[i])
                    o = self._run(plan, _DOT, reduce=True)
                    be_i = T(o[:, 0].sum()) * ro[i]
                    self._run(plan, _AXPY | _VAR, float(al[i] - be_i))  # r += (al_i - be_i) * s_i
            prev_loss = loss
            # ---- step length
            if st["n_iter"] == 1:
                t = min(1.0, T(1.0) / gsum) * lr
            else:
                t = lr
            gtd = self._dot(g, d)
            if gtd > -tol_change:
                break
            ls_func_evals = 0
            if wolfe:
                self._run(fl.pplan, _SAVE)
                loss, (g_new, gmax), t, ls_func_evals = self._strong_wolfe(
                    closure, t, loss, (g, gmax), gtd, tol_change, max_eval - current_evals)
                if g_new is not g:
                    np.copyto(g, g_new)
                tdmax = self._add_dir(t)
                opt_cond = gmax <= tol_grad
            else:
                tdmax = self._add_dir(t)
                if n_iter != max_iter:
                    _, loss, _, gmax, _ = self._evaluate(closure)
                    opt_cond = gmax <= tol_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            st["func_evals"] += ls_func_evals
            # ---- stopping tests (torch's order)
            if n_iter == max_iter:
                break
            if current_evals >= max_eval:
                break
            if opt_cond:
                break
            if tdmax <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        st["d"] = d
        st["t"] = t
        st["old_dirs"] = old_dirs
        st["old_stps"] = old_stps
        st["ro"] = ro
        st["H_diag"] = H_diag
        st["prev_flat_grad"] = pg
        st["prev_loss"] = prev_loss
        return orig_loss

    # ------------------------------------------------------------ line search
    def _probe(self, closure, t):
        """Loss and gradient at params + t*d (params restored after)."""
        self._add_dir(t)
        try:
            _, f, _, gmax, gtd = self._evaluate(closure, with_dot=True)
        finally:
            self._run(self._flat.pplan, _RESTORE)
        return f, (self._flat.g, gmax), gtd

    def _strong_wolfe(self, closure, t, f, g, gtd, tol_change, max_ls, c1=1e-4, c2=0.9):
        """Strong-Wolfe line search along d (torch's bracketing + zoom with cubic
        interpolation, same tests in the same order). Gradients are
        (array, max|g|) pairs; copies are taken where later probes would
        overwrite the shared gradient buffer."""
        fl = self._flat
        d_norm = self._max_abs(fl.d)
        g = (g[0].copy(), g[1])

        def keep(gr):
            return (gr[0].copy(), gr[1])

        f_new, g_new, gtd_new = self._probe(closure, t)
        evals = 1
        t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
        done = False
        ls_iter = 0
        while ls_iter < max_ls:
            if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
                br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, keep(g_new)], [gtd_prev, gtd_new]
                break
            if abs(gtd_new) <= -c2 * gtd:
                br, br_f, br_g = [t], [f_new], [g_new]
                done = True
                break
            if gtd_new >= 0:
                br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, keep(g_new)], [gtd_prev, gtd_new]
                break
            lo_step = t + 0.01 * (t - t_prev)
            hi_step = t * 10
            t_old = t
            t = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (lo_step, hi_step))
            t_prev, f_prev, g_prev, gtd_prev = t_old, f_new, keep(g_new), gtd_new
            f_new, g_new, gtd_new = self._probe(closure, t)
            evals += 1
            ls_iter += 1
        if ls_iter == max_ls:
            br, br_f, br_g = [0, t], [f, f_new], [g, g_new]

        insuf = False
        lo, hi = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
        while not done and ls_iter < max_ls:
            if abs(br[1] - br[0]) * d_norm < tol_change:
                break
            t = _cubic_min(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
            top, bot = max(br), min(br)
            eps = 0.1 * (top - bot)
            if min(top - t, t - bot) < eps:
                if insuf or t >= top or t <= bot:
                    t = top - eps if abs(t - top) < abs(t - bot) else bot + eps
                    insuf = False
                else:
                    insuf = True
            else:
                insuf = False
            f_new, g_new, gtd_new = self._probe(closure, t)
            evals += 1
            ls_iter += 1
            if f_new > (f + c1 * t * gtd) or f_new >= br_f[lo]:
                br[hi], br_f[hi], br_g[hi], br_gtd[hi] = t, f_new, keep(g_new), gtd_new
                lo, hi = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
            else:
                if abs(gtd_new) <= -c2 * gtd:
                    done = True
                elif gtd_new * (br[hi] - br[lo]) >= 0:
                    br[hi], br_f[hi], br_g[hi], br_gtd[hi] = br[lo], br_f[lo], br_g[lo], br_gtd[lo]
                br[lo], br_f[lo], br_g[lo], br_gtd[lo] = t, f_new, keep(g_new), gtd_new
        return br_f[lo], br_g[lo], br[lo], evals

    def _max_abs(self, v):
        o = self._run(self._flat.vplan(v), _NORMS, reduce=True)
        T = self._flat.T
        m = T(o[:, 1].max()) if o.shape[0] else T(0)
        return m

    # ------------------------------------------------------------ state
    def state_dict(self):
        """torch's layout: the whole state under param index 0 (lists of flat
        arrays for the history). Arrays are live; copy to snapshot."""
        for hook in list(self._state_dict_pre_hooks.values()):
            hook(self)
        st = self._state.get(id(self.param_groups[0]["params"][0])) if self.param_groups[0]["params"] else None
        g = self.param_groups[0]
        d = {k: v for k, v in g.items() if k != "params"}
        d["params"] = list(range(len(g["params"])))
        sd = {"state": {0: dict(st)} if st else {}, "param_groups": [d]}
        if self.skipped_steps or self._tools.skip_nonfinite:
            sd["skipped_steps"] = self.skipped_steps
        for hook in list(self._state_dict_post_hooks.values()):
            res = hook(self, sd)
            if res is not None:
                sd = res
        return sd

    def load_state_dict(self, state_dict):
        """Load this class's or torch's LBFGS state_dict (tensors converted
        with ``np.asarray``); values are copied."""
        for hook in list(self._load_state_dict_pre_hooks.values()):
            res = hook(self, state_dict)
            if res is not None:
                state_dict = res
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("state_dict: expected a mapping with 'state' and 'param_groups'")
        saved = list(state_dict["param_groups"])
        if len(saved) != 1:
            raise ValueError(f"state_dict: has {len(saved)} param groups, LBFGS has 1")
        params = self.param_groups[0]["params"]
        if len(saved[0]["params"]) != len(params):
            raise ValueError(f"state_dict: param group 0 has {len(saved[0]['params'])} params, "
                             f"the optimizer's has {len(params)}")
        ng = dict(self.param_groups[0])
        for key, v in saved[0].items():
            if key not in ("params", "param_names"):
                ng[key] = v
        self._check_group(ng, 0)
        skipped = self._saved_skipped_steps(state_dict)
        dtype = params[0].dtype if params else np.float64
        n = sum(p.size for p in params)
        T = np.dtype(dtype).type
        raw = dict(state_dict["state"])
        if len(raw) > 1:
            raise ValueError("state_dict: LBFGS keeps its state under one key")
        new = {}
        for _, entry in raw.items():
            for k, v in entry.items():
                if k in ("d", "prev_flat_grad"):
                    new[k] = self._flat_copy(k, v, n, dtype)
                elif k in ("old_dirs", "old_stps"):
                    new[k] = [self._flat_copy(k, a, n, dtype) for a in v]
                elif k in ("ro", "al"):
                    new[k] = [None if a is None else T(float(np.asarray(a))) for a in v]
                elif k in ("t", "H_diag"):
                    new[k] = v if v is None or isinstance(v, (int, float)) else T(float(np.asarray(v)))
                elif k in ("n_iter", "func_evals"):
                    new[k] = int(v)
                elif k == "prev_loss":
                    new[k] = None if v is None else float(v)
                else:
                    new[k] = v
        self.param_groups[0].clear()
        self.param_groups[0].update(ng)
        self._state = {id(params[0]): new} if (new and params) else {}
        self.skipped_steps = skipped
        self._flat = None
        self._invalidate()
        for hook in list(self._load_state_dict_post_hooks.values()):
            hook(self)

    @staticmethod
    def _flat_copy(key, v, n, dtype):
        a = np.array(np.asarray(v), dtype=dtype, order="C", copy=True).reshape(-1)
        if a.size != n:
            raise ValueError(f"state_dict: {key!r} has {a.size} elements, the params {n}")
        return a

    @property
    def state(self):
        """The live state dicts; the next step re-reads them (edits take effect)."""
        self._flat = None
        return super().state


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clamped to
    `bounds` (default: the interval between the points); the midpoint when
    the cubic has no real minimiser."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc >= 0:
        d2 = np.sqrt(disc)
        if x1 <= x2:
            m = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            m = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(m, lo), hi)
    return (lo + hi) / 2.0
