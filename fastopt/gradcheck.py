r"""Check analytic gradients against centered finite differences.

``gradcheck(f, params, grads)`` perturbs sampled coordinates of every
parameter array, one at a time, by :math:`\pm h` and compares

.. math::

    n = \frac{f(x + h e_j) - f(x - h e_j)}{2h}
    \qquad\text{with the analytic}\qquad a = \frac{\partial f}{\partial x_j}

by the relative error

.. math::

    e = \frac{|a - n|}{\max(|a|,\, |n|,\, \text{floor})}, \qquad e = 0 \text{ if } a = n
    \text{ (so both zero is no error)}.

The floor keeps a difference between two tiny numbers from counting as a
100 % error. Rounding f (to :math:`u\,|f|`, :math:`u = 2^{-52}`) leaves noise
of about :math:`\sigma = u\,|f| / h` in every numeric derivative, so a
gradient much smaller than :math:`\sigma` cannot be measured at all, and
one of size :math:`g` only to a relative accuracy :math:`\sigma / g`. The
floor is :math:`10^5 \sigma` (or ``denom_floor``, if larger): components
above it are compared relatively; below it, their difference is measured
against the floor, so round-off noise (a few :math:`\sigma`) reads as an
error of a few 1e-5 instead of 1, while a factor-2 error in a component
larger than about :math:`10^3 \sigma` is still "wrong".

Reading the worst error (the classic rule of thumb, for float64):

=====================  ==========  ==================================================
worst relative error   verdict     meaning
=====================  ==========  ==================================================
> 1e-2                 wrong       the gradient is wrong
1e-4 .. 1e-2           suspicious  probably wrong, unless f has kinks near the point
1e-7 .. 1e-4           ok          fine for kinked functions (relu, abs, max) or a
                                   float32 computation; a smooth float64 function
                                   should do better
< 1e-7                 good        right
=====================  ==========  ==================================================

``result.passed`` is ``worst < tol`` (default 1e-4).

The check runs in float64: float32 (or integer) params are copied to float64
with a :class:`UserWarning`, since float32 finite differences cannot resolve
these thresholds. The caller's arrays are never written: ``f`` is called on
float64 **copies** in the same structure, so ``f`` must compute the loss from
the params it is passed, not from arrays it closes over.

Example:
    >>> import numpy as np
    >>> from fastopt.gradcheck import gradcheck
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    >>> def loss(p):
    ...     r = X @ p["w"] + p["b"] - y
    ...     return 0.5 * np.mean(r ** 2)
    >>> def grads(p):
    ...     r = X @ p["w"] + p["b"] - y
    ...     return {"w": X.T @ r / len(y), "b": np.array([r.mean()])}
    >>> params = {"w": rng.standard_normal(3), "b": np.zeros(1)}
    >>> res = gradcheck(loss, params, grads(params))
    >>> print(res.passed, res.verdict)
    True good
    >>> bad = grads(params)
    >>> bad["w"][1] *= 2                       # plant a factor-2 error
    >>> res = gradcheck(loss, params, bad)
    >>> print(res.passed, res.verdict, res["w"].worst_index)
    False wrong (1,)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["THRESHOLDS", "GradcheckResult", "ParamCheck", "gradcheck", "interpret"]

#: (upper bound, verdict) pairs, checked in order: errors below 1e-7 are
#: "good", up to 1e-4 "ok", up to 1e-2 "suspicious", above "wrong".
THRESHOLDS = ((1e-7, "good"), (1e-4, "ok"), (1e-2, "suspicious"), (math.inf, "wrong"))

_MEANING = {
    "good": "< 1e-7: the gradient is right",
    "ok": ("1e-7 .. 1e-4: fine if f has kinks (relu, abs, max) near the checked points or is computed "
           "in float32; a smooth float64 function should give < 1e-7"),
    "suspicious": ("1e-4 .. 1e-2: probably a bug, unless f has kinks near the checked points "
                   "(then check at other points or with a smaller eps)"),
    "wrong": "> 1e-2: the analytic gradient is wrong",
}

_U = np.finfo(np.float64).eps


def interpret(rel_error: float) -> str:
    """The verdict for one relative error: ``"good"``, ``"ok"``,
    ``"suspicious"`` or ``"wrong"`` (also for NaN).

    Example:
        >>> from fastopt.gradcheck import interpret
        >>> [interpret(e) for e in (1e-9, 1e-6, 1e-3, 0.5)]
        ['good', 'ok', 'suspicious', 'wrong']
    """
    if math.isnan(rel_error):
        return "wrong"
    for bound, verdict in THRESHOLDS:
        if rel_error < bound:
            return verdict
    return "wrong"


# ---------------------------------------------------------------------------
# results


@dataclass
class ParamCheck:
    """The check of one parameter array.

    ``coords[k]`` is the index (a tuple, as for ``array[coords[k]]``) of
    the k-th checked coordinate; ``analytic[k]``, ``numeric[k]`` and
    ``rel_errors[k]`` are the values there; ``kinks[k]`` is True where the
    one-sided differences did not scale with the step as they do for a smooth
    function (f is likely not differentiable within ``eps`` of the point;
    probed only for coordinates that fail).
    """

    name: str
    shape: tuple
    dtype: str
    coords: list
    analytic: np.ndarray
    numeric: np.ndarray
    rel_errors: np.ndarray
    kinks: np.ndarray
    grad_given: bool = True

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def n_checked(self) -> int:
        return len(self.coords)

    @property
    def _worst(self) -> int | None:
        if not self.coords:
            return None
        errs = np.where(np.isnan(self.rel_errors), np.inf, self.rel_errors)
        return int(np.argmax(errs))

    @property
    def worst_rel_error(self) -> float:
        """The largest relative error among the checked coordinates (0 if none were checked)."""
        k = self._worst
        return 0.0 if k is None else float(self.rel_errors[k])

    @property
    def worst_index(self) -> tuple | None:
        k = self._worst
        return None if k is None else self.coords[k]

    @property
    def worst_analytic(self) -> float | None:
        k = self._worst
        return None if k is None else float(self.analytic[k])

    @property
    def worst_numeric(self) -> float | None:
        k = self._worst
        return None if k is None else float(self.numeric[k])

    @property
    def verdict(self) -> str:
        return interpret(self.worst_rel_error)


@dataclass
class GradcheckResult:
    """What :func:`gradcheck` found.

    ``params`` holds one :class:`ParamCheck` per parameter array (also
    reachable as ``result[name]``); ``worst_rel_error`` and ``verdict``
    summarise them; ``passed`` is ``worst_rel_error < tol``, and so is
    ``bool(result)``; ``str(result)`` is a table with an interpretation.
    """

    params: list
    loss: float
    eps: float
    tol: float
    n_evals: int
    upcast: list = field(default_factory=list)

    @property
    def worst_rel_error(self) -> float:
        errs = [p.worst_rel_error for p in self.params]
        if not errs:
            return 0.0
        return math.nan if any(math.isnan(e) for e in errs) else max(errs)

    @property
    def worst(self) -> ParamCheck | None:
        """The :class:`ParamCheck` with the largest error."""
        if not self.params:
            return None
        return max(self.params, key=lambda p: math.inf if math.isnan(p.worst_rel_error) else p.worst_rel_error)

    @property
    def passed(self) -> bool:
        return bool(self.worst_rel_error < self.tol)

    @property
    def verdict(self) -> str:
        return interpret(self.worst_rel_error)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, name: str) -> ParamCheck:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"no param named {name!r}; names: {', '.join(p.name for p in self.params)}")

    @property
    def interpretation(self) -> str:
        """Plain-language reading of the result, with hints."""
        lines = [f"worst relative error {self.worst_rel_error:.2e} is {self.verdict} ({_MEANING[self.verdict]})."]
        w = self.worst
        if w is not None and w.verdict in ("wrong", "suspicious"):
            a, n = w.worst_analytic, w.worst_numeric
            where = f"{w.name}[{', '.join(map(str, w.worst_index))}]"
            line = f"worst at {where}: analytic {a:.6g}, numeric {n:.6g}"
            if a != 0 and n != 0 and np.isfinite(a) and np.isfinite(n):
                line += f" (analytic / numeric = {a / n:.4g})"
            lines.append(line + ".")
        for p in self.params:
            bad = p.rel_errors >= self.tol
            if p.n_checked and np.any(p.kinks & bad):
                lines.append(f"{p.name}: {int(np.sum(p.kinks & bad))} failing coordinate(s) look like kinks "
                             "(the one-sided differences do not scale with the step as for a smooth f): f is "
                             "probably not differentiable within eps of them, where a mismatch is expected.")
            if p.n_checked and np.all(p.numeric == 0) and np.any(p.analytic != 0):
                lines.append(f"{p.name}: every numeric derivative is exactly 0: f does not depend on this param's "
                             "values as passed. f is called on float64 copies; it must use them, not arrays it "
                             "closes over.")
            if not p.grad_given and np.any(p.numeric != 0):
                lines.append(f"{p.name}: no analytic gradient was given (None, taken as 0), but f depends on it.")
        if self.upcast:
            lines.append(f"checked on float64 copies of {', '.join(self.upcast)} (given in lower precision); "
                         "analytic gradients computed in float32 typically land in 'ok', not 'good'.")
        return "\n".join(lines)

    def __str__(self) -> str:
        n_coords = sum(p.n_checked for p in self.params)
        head = (f"gradcheck {'passed' if self.passed else 'FAILED'}: worst relative error "
                f"{self.worst_rel_error:.2e} ({self.verdict}; tol {self.tol:.0e}); {n_coords} coordinate(s) in "
                f"{len(self.params)} param(s), eps {self.eps:g}, {self.n_evals} evaluations of f")
        rows = [("param", "shape", "checked", "worst rel err", "at", "analytic", "numeric", "verdict")]
        for p in self.params:
            if p.n_checked:
                rows.append((p.name, str(p.shape), f"{p.n_checked}/{p.size}", f"{p.worst_rel_error:.2e}",
                             str(p.worst_index), f"{p.worst_analytic:.6g}", f"{p.worst_numeric:.6g}", p.verdict))
            else:
                rows.append((p.name, str(p.shape), f"0/{p.size}", "-", "-", "-", "-", "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        table = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join([head] + table + ["  " + line for line in self.interpretation.splitlines()])

    def __repr__(self) -> str:
        return (f"GradcheckResult(passed={self.passed}, worst_rel_error={self.worst_rel_error:.3g}, "
                f"verdict={self.verdict!r}, params={[p.name for p in self.params]})")


# ---------------------------------------------------------------------------
# structures


class _Structure:
    """The params structure: its leaves (the arrays), their labels, and how
    to rebuild the same structure around other arrays."""

    def __init__(self, params: Any):
        self.kind: str
        self.leaves: list = []
        self.names: list = []          # str or None per leaf
        self._groups: list = []        # for kind 'groups': (group dict, inner kind, n leaves)
        if isinstance(params, np.ndarray):
            self.kind = "array"
            self.leaves, self.names = [params], ["x"]
        elif isinstance(params, dict) and "params" in params and not all(
                isinstance(v, np.ndarray) for v in params.values()):
            self._parse_groups([params])
        elif isinstance(params, dict):
            self.kind = "dict"
            self._add_inner(params, "params")
        elif isinstance(params, (list, tuple)):
            items = list(params)
            if items and all(isinstance(g, dict) for g in items):
                self._parse_groups(items)
            else:
                self.kind = self._add_inner(items, "params")
                self.container = type(params)
        else:
            raise TypeError("gradcheck: params must be an array, a list/tuple of arrays, a list of (name, array) "
                            f"pairs, a dict of arrays or a list of param-group dicts; got {type(params).__name__}")
        if not self.leaves:
            raise ValueError("gradcheck: params is empty")
        self.labels = [n if n is not None else f"params[{i}]" for i, n in enumerate(self.names)]

    def _add_inner(self, obj: Any, where: str) -> str:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise TypeError(f"gradcheck: {where}: parameter names must be str, got {type(k).__name__}")
                self.leaves.append(v)
                self.names.append(k)
            return "dict"
        items = list(obj)
        if items and all(isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) for t in items):
            for k, v in items:
                self.leaves.append(v)
                self.names.append(k)
            return "pairs"
        for v in items:
            self.leaves.append(v)
            self.names.append(None)
        return "list"

    def _parse_groups(self, groups: list) -> None:
        self.kind = "groups"
        for gi, g in enumerate(groups):
            if "params" not in g:
                raise ValueError(f"gradcheck: param group {gi} has no 'params' key")
            inner = g["params"]
            if isinstance(inner, np.ndarray):
                raise TypeError(f"gradcheck: param group {gi}: 'params' must be a list of arrays, not one array")
            before = len(self.leaves)
            kind = self._add_inner(inner, f"param group {gi}")
            names = g.get("param_names")
            if kind == "list" and names is not None:
                self.names[before:] = list(names)
            self._groups.append((g, kind, len(self.leaves) - before, type(inner)))

    def build(self, arrays: list) -> Any:
        """The same structure as the user's params, around ``arrays``."""
        if self.kind == "array":
            return arrays[0]
        if self.kind == "dict":
            return dict(zip(self.names, arrays))
        if self.kind == "pairs":
            return self.container(zip(self.names, arrays))
        if self.kind == "list":
            return self.container(arrays)
        out, pos = [], 0
        for g, kind, n, inner_type in self._groups:
            chunk = arrays[pos:pos + n]
            names = self.names[pos:pos + n]
            pos += n
            if kind == "dict":
                inner = dict(zip(names, chunk))
            elif kind == "pairs":
                inner = list(zip(names, chunk))
            else:
                inner = list(chunk)
            out.append({**g, "params": inner})
        return out

    def match_grads(self, grads: Any) -> list:
        """The grads, one entry per leaf (None where none was given)."""
        n = len(self.leaves)
        if self.kind == "array":
            return [grads]
        if isinstance(grads, np.ndarray):
            raise TypeError("gradcheck: grads must have the params' structure (a list or a dict), "
                            "got a single array")
        if isinstance(grads, (list, tuple)) and grads and all(
                isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) for t in grads):
            grads = dict(grads)
        if isinstance(grads, dict):
            if any(nm is None for nm in self.names):
                raise TypeError("gradcheck: grads is a dict but the params are unnamed; pass a list in param order")
            unknown = [k for k in grads if k not in self.names]
            if unknown:
                raise ValueError(f"gradcheck: grads has names that are not params: {', '.join(map(str, unknown))}")
            return [grads.get(nm) for nm in self.names]
        try:
            items = list(grads)
        except TypeError:
            raise TypeError(f"gradcheck: grads must be a list or a dict, got {type(grads).__name__}") from None
        if len(items) != n:
            raise ValueError(f"gradcheck: {len(items)} grads for {n} params")
        return items


def _as_float64(value: Any, label: str, what: str) -> tuple[np.ndarray, bool]:
    arr = np.asarray(value)
    if arr.dtype.kind == "c":
        raise TypeError(f"gradcheck: {what} {label} is complex; only real arrays are supported")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"gradcheck: {what} {label} has dtype {arr.dtype}, expected a real number array")
    return np.array(arr, dtype=np.float64, order="C", copy=True), arr.dtype != np.float64


def _scalar_loss(out: Any) -> float:
    arr = np.asarray(out)
    if arr.size != 1 or arr.dtype.kind not in "fiub":
        raise TypeError(f"gradcheck: f must return a real scalar loss, got {type(out).__name__} "
                        f"with shape {arr.shape} and dtype {arr.dtype}")
    return float(arr.reshape(()))


# ---------------------------------------------------------------------------
# the check


def gradcheck(
    f: Callable[[Any], Any],
    params: Any,
    grads: Any = None,
    eps: float = 1e-5,
    n_samples: int | None = 10,
    seed: int | None = 0,
    *,
    tol: float = 1e-4,
    denom_floor: float = 1e-10,
) -> GradcheckResult:
    """Compare analytic gradients with centered differences of ``f``.

    Args:
        f: ``f(params) -> loss`` (a real scalar), or ``-> (loss, grads)``.
            It is called with float64 copies of ``params`` in the same
            structure and must compute the loss from them.
        params: the point to check at, in any structure the optimizers take:
            a list of arrays, a list of ``(name, array)`` pairs, a dict of
            arrays, a list of param-group dicts (``{"params": [...], ...}``),
            or a single array. Never modified.
        grads: the analytic gradients at ``params``: a list in flattened
            param order or a dict by name (as ``opt.step`` takes), or one
            array for a single-array ``params``. ``None`` entries count as
            zero gradients. If ``grads`` is None, ``f`` must return
            ``(loss, grads)`` and the grads of the unperturbed call are
            checked (copied at once, so reused buffers are fine).
            (default: None)
        eps: the finite-difference step :math:`h` (absolute) (default: 1e-5)
        n_samples: coordinates checked per param array: min(n_samples, size)
            of each array, drawn without replacement, so every array is
            checked, not only the largest; None checks every coordinate
            (default: 10)
        seed: seed for drawing the coordinates (default: 0)
        tol: ``passed`` is ``worst relative error < tol`` (default: 1e-4)
        denom_floor: the smallest denominator of the relative error; the
            floor is this or 1e5 times the round-off noise of the finite
            difference, whichever is larger (see the module docstring)
            (default: 1e-10)

    Returns:
        A :class:`GradcheckResult`: per-param :class:`ParamCheck` (the
        coordinates, analytic and numeric values, relative errors, worst
        error), ``passed``, ``verdict``, ``interpretation``; print it for a
        table.

    Warns:
        UserWarning: if a param is not float64; the check then runs on
        float64 copies.

    Cost: ``1 + 2 * (number of coordinates checked)`` calls of ``f``, plus 2
    for each failing coordinate (the kink probe).
    """
    if not (isinstance(eps, (int, float, np.floating)) and eps > 0 and math.isfinite(eps)):
        raise ValueError(f"gradcheck: eps must be a positive finite number, got {eps!r}")
    if n_samples is not None and (int(n_samples) != n_samples or n_samples < 1):
        raise ValueError(f"gradcheck: n_samples must be a positive integer or None, got {n_samples!r}")
    if not tol > 0:
        raise ValueError(f"gradcheck: tol must be > 0, got {tol!r}")

    struct = _Structure(params)
    work, upcast = [], []
    for leaf, label in zip(struct.leaves, struct.labels):
        arr, lower = _as_float64(leaf, label, "param")
        work.append(arr)
        if lower:
            upcast.append(f"{label} ({np.asarray(leaf).dtype})")
    if upcast:
        warnings.warn(f"gradcheck: {', '.join(upcast)} not float64: checking on float64 copies (finite "
                      "differences in float32 cannot resolve the error thresholds); your arrays are not modified",
                      UserWarning, stacklevel=2)
    dtypes = [str(np.asarray(leaf).dtype) for leaf in struct.leaves]
    point = struct.build(work)
    n_evals = 0

    def call() -> Any:
        nonlocal n_evals
        n_evals += 1
        return f(point)

    out = call()
    if grads is None:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("gradcheck: grads=None, so f must return (loss, grads); "
                            f"it returned {type(out).__name__}")
        loss0, grads = _scalar_loss(out[0]), out[1]
    else:
        loss0 = _scalar_loss(out[0] if isinstance(out, (tuple, list)) and len(out) == 2 else out)

    def loss() -> float:
        o = call()
        return _scalar_loss(o[0] if isinstance(o, (tuple, list)) and len(o) == 2 else o)

    analytic_all = []
    for g, w, label in zip(struct.match_grads(grads), work, struct.labels):
        if g is None:
            analytic_all.append(None)
            continue
        garr, _ = _as_float64(g, label, "grad of")
        if garr.shape != w.shape:
            raise ValueError(f"gradcheck: the grad of {label} has shape {garr.shape}, the param {w.shape}")
        analytic_all.append(garr)

    rng = np.random.default_rng(seed)
    checks = []
    for w, ga, label, dtype in zip(work, analytic_all, struct.labels, dtypes):
        flat = w.reshape(-1)                      # a view: w is a C-contiguous copy
        size = flat.size
        k = size if n_samples is None else min(int(n_samples), size)
        picks = np.sort(rng.choice(size, size=k, replace=False)) if k < size else np.arange(size)
        coords, an, nu, errs, kinks = [], [], [], [], []
        for j in picks:
            j = int(j)
            x = flat[j]
            xp, xm = x + eps, x - eps
            flat[j] = xp
            fp = loss()
            flat[j] = xm
            fm = loss()
            flat[j] = x                           # exact restore
            num = (fp - fm) / (xp - xm)
            a = 0.0 if ga is None else float(ga.reshape(-1)[j])
            fmax = max(abs(fp), abs(fm), abs(loss0))
            roundoff = 2.0 * _U * fmax / (xp - xm) if math.isfinite(fmax) else 0.0   # sigma
            err = _rel_error(a, num, max(denom_floor, 1e5 * roundoff))
            kink = False
            if not err < tol and math.isfinite(fmax):
                kink = _probe_kink(flat, j, x, eps, loss0, fp, fm, xp, xm, loss, roundoff)
            coords.append(tuple(int(i) for i in np.unravel_index(j, w.shape)))
            an.append(a)
            nu.append(num)
            errs.append(err)
            kinks.append(kink)
        checks.append(ParamCheck(name=label, shape=tuple(w.shape), dtype=dtype, coords=coords,
                                 analytic=np.array(an, dtype=np.float64), numeric=np.array(nu, dtype=np.float64),
                                 rel_errors=np.array(errs, dtype=np.float64), kinks=np.array(kinks, dtype=bool),
                                 grad_given=ga is not None))
    return GradcheckResult(params=checks, loss=loss0, eps=float(eps), tol=float(tol), n_evals=n_evals,
                           upcast=upcast)


def _rel_error(a: float, n: float, floor: float) -> float:
    if a == n:                                    # includes both zero
        return 0.0
    if not (math.isfinite(a) and math.isfinite(n)):
        return math.nan if (math.isnan(a) or math.isnan(n)) else math.inf
    return abs(a - n) / max(abs(a), abs(n), floor)


def _probe_kink(flat, j, x, eps, f0, fp, fm, xp, xm, loss, roundoff) -> bool:
    """True if f looks non-differentiable within ``eps`` of ``x``.

    For a smooth f the gap between the forward and backward differences is
    about ``h |f''|``, so it shrinks tenfold with the step. A kink at ``x``
    keeps it (ratio near 1); a kink between ``eps/10`` and ``eps`` away
    makes it collapse (ratio near 0).
    """
    gap = abs((fp - f0) / (xp - x) - (f0 - fm) / (x - xm))
    if not gap > 1000.0 * roundoff:
        return False
    h = eps / 10.0
    xp2, xm2 = x + h, x - h
    flat[j] = xp2
    fp2 = loss()
    flat[j] = xm2
    fm2 = loss()
    flat[j] = x
    ratio = abs((fp2 - f0) / (xp2 - x) - (f0 - fm2) / (x - xm2)) / gap
    return bool(ratio > 0.5 or ratio < 0.03)
