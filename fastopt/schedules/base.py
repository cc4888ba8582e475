"""The :class:`Schedule` base class and the ways to combine schedules.

A schedule maps a step ``t >= 0`` (an int or a float, e.g. a fractional epoch)
to a value: a learning rate, a multiplier, or a momentum. Every schedule takes
either one step, and returns a Python float, or an array of steps, and returns
a float64 array of the same shape computed in one vectorized pass (NumPy
ufuncs over the whole array, never a Python loop per step).

The scalar path evaluates the same NumPy code on a one-element array, so both
paths give bitwise identical values.

Composition:

* :class:`Join` (also :func:`join`) runs schedules one after another, each
  restarting its step count at its boundary;
* :class:`Product` / :class:`Sum` (also the ``*`` and ``+`` operators, with
  numbers or schedules) multiply or add values;
* :class:`Shift` evaluates a schedule at ``t + offset``;
* :class:`~fastopt.schedules.warmup.Warmup` puts a warm-up in front of any
  schedule;
* :class:`~fastopt.schedules.momentum.MomentumSchedule` marks a schedule as a
  momentum schedule.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._validation import check_increasing, check_nonneg, check_real

__all__ = [
    "Schedule",
    "Constant",
    "FunctionSchedule",
    "Join",
    "join",
    "Product",
    "Sum",
    "Shift",
    "as_schedule",
]


#: Arrays longer than this are evaluated block by block: the temporaries of a
#: block (a few arrays of 16,000 float64 = 125 KiB each) stay in cache and
#: under glibc's default 128 KiB mmap threshold, so they are reused from the
#: heap instead of being page-faulted in for every NumPy operation. The result
#: is bitwise the same (every schedule is elementwise).
BLOCK = 16_000


def _is_scalar_step(step: Any) -> bool:
    if isinstance(step, np.ndarray):
        return step.ndim == 0
    return isinstance(step, numbers.Real) or np.isscalar(step)


def _check_steps(t: np.ndarray) -> None:
    if t.size == 0:
        return
    lowest = t.min()
    if not lowest >= 0.0:  # also catches NaN
        raise ValueError(f"step must be non-negative and finite, got {lowest!r}")
    highest = t.max()
    if not np.isfinite(highest):
        raise ValueError(f"step must be finite, got {highest!r}")


class Schedule:
    """Base class of all schedules: a map from step to value.

    Subclasses implement :meth:`_value`, which receives a one-dimensional,
    float64, non-negative, finite array of steps and returns a new float64
    array of the same length, elementwise (a step's value must not depend on
    the other steps in the array). :meth:`__call__` handles scalars, shapes,
    input checks, and evaluates long arrays in cache-sized blocks.

    Attributes:
        quantity (str): what the values are, ``"lr"`` or ``"momentum"``; used
            for plot labels.
        horizon (float | None): the step from which the schedule stays
            constant (its total length), or ``None`` when it has none.
    """

    quantity: str = "lr"

    @property
    def horizon(self) -> float | None:
        return None

    def __call__(self, step: Any) -> Any:
        """Evaluate the schedule.

        Args:
            step: a step (int or float, ``>= 0``) or an array-like of steps.

        Returns:
            float for a scalar step, else a float64 :class:`numpy.ndarray` of
            the same shape as ``step``.
        """
        if _is_scalar_step(step):
            x = float(step)
            if not 0.0 <= x < math.inf:
                raise ValueError(f"step must be non-negative and finite, got {step!r}")
            return float(self._value(np.array([x], dtype=np.float64))[0])
        t = np.asarray(step, dtype=np.float64)
        shape = t.shape
        flat = t.reshape(-1)
        _check_steps(flat)
        if flat.size <= BLOCK:
            out = self._value(flat)
            if out is flat:
                out = out.copy()
            return out.reshape(shape)
        out = np.empty(flat.shape, dtype=np.float64)
        for start in range(0, flat.size, BLOCK):
            stop = start + BLOCK
            out[start:stop] = self._value(flat[start:stop])
        return out.reshape(shape)

    def _value(self, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- composition ----------------------------------------------------------
    def __mul__(self, other: Any) -> Schedule:
        return Product(self, other)

    def __rmul__(self, other: Any) -> Schedule:
        return Product(other, self)

    def __add__(self, other: Any) -> Schedule:
        return Sum(self, other)

    def __radd__(self, other: Any) -> Schedule:
        return Sum(other, self)

    def __repr__(self) -> str:
        try:
            names = [
                p.name
                for p in inspect.signature(type(self).__init__).parameters.values()
                if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD
            ]
        except (TypeError, ValueError):  # pragma: no cover - builtins only
            names = []
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names if hasattr(self, n))
        return f"{type(self).__name__}({args})"


def as_schedule(value: Any, name: str = "schedule") -> Schedule:
    """Return ``value`` as a :class:`Schedule`.

    Numbers become :class:`Constant`; schedules are returned unchanged; any
    other callable is wrapped in :class:`FunctionSchedule` (it must accept a
    NumPy array of steps).

    Args:
        value: a schedule, a number or a vectorized callable.
        name (str): the argument name used in error messages
            (default: ``"schedule"``).
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return Constant(value)
    if callable(value):
        return FunctionSchedule(value)
    raise TypeError(f"{name} must be a Schedule, a number or a callable, got {value!r}")


class Constant(Schedule):
    r"""A constant value.

    .. math:: \eta_t = v

    Args:
        value (float): the value, finite (negative values are allowed so that
            constants can be used in sums).
    """

    def __init__(self, value: float) -> None:
        self.value = check_real("value", value)

    @property
    def horizon(self) -> float:
        return 0.0

    def _value(self, t: np.ndarray) -> np.ndarray:
        return np.full(t.shape, self.value, dtype=np.float64)


class FunctionSchedule(Schedule):
    """Wrap a vectorized function of the step as a schedule.

    Args:
        fn (callable): called with a float64 array of steps; must return an
            array (or a scalar, broadcast) of values.
        quantity (str): ``"lr"`` or ``"momentum"`` (default: ``"lr"``).

    Example:
        >>> s = FunctionSchedule(lambda t: 0.1 * 0.5 ** (t // 10))
        >>> s(25)
        0.025
    """

    def __init__(self, fn: Callable[[np.ndarray], Any], quantity: str = "lr") -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        self.fn = fn
        self.quantity = quantity

    def _value(self, t: np.ndarray) -> np.ndarray:
        out = np.asarray(self.fn(t), dtype=np.float64)
        return np.array(np.broadcast_to(out, t.shape), dtype=np.float64)


class Join(Schedule):
    r"""Run schedules one after another.

    With boundaries :math:`b_1 < \dots < b_{n-1}` and :math:`b_0 = 0`, step
    :math:`t` with :math:`b_i \le t < b_{i+1}` takes its value from schedule
    :math:`i`:

    .. math:: \eta_t = s_i(t - b_i) \quad\text{(relative, the default)}
              \qquad\text{or}\qquad \eta_t = s_i(t).

    Args:
        schedules (sequence of Schedule): ``n`` schedules (numbers become
            constants).
        boundaries (sequence of float): ``n - 1`` strictly increasing,
            positive steps where the next schedule takes over.
        relative (bool): restart each schedule's step count at its boundary
            (default: True).
    """

    def __init__(
        self,
        schedules: Sequence[Any],
        boundaries: Sequence[float],
        relative: bool = True,
    ) -> None:
        schedules = [as_schedule(s, f"schedules[{i}]") for i, s in enumerate(schedules)]
        if not schedules:
            raise ValueError("schedules must contain at least one schedule")
        bounds = check_increasing("boundaries", boundaries)
        if len(bounds) != len(schedules) - 1:
            raise ValueError(
                f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} entries,"
                f" got {len(bounds)}"
            )
        if bounds and bounds[0] <= 0.0:
            raise ValueError(f"boundaries must be positive, got {bounds[0]!r}")
        self.schedules = schedules
        self.boundaries = bounds
        self.relative = bool(relative)
        self.quantity = schedules[0].quantity

    @property
    def horizon(self) -> float | None:
        last = self.schedules[-1].horizon
        if last is None:
            return None
        start = self.boundaries[-1] if self.boundaries else 0.0
        return start + last if self.relative else max(start, last)

    def _value(self, t: np.ndarray) -> np.ndarray:
        if not self.boundaries:
            return self.schedules[0]._value(t)
        starts = np.asarray([0.0, *self.boundaries])
        idx = np.searchsorted(starts[1:], t, side="right")
        out = np.empty_like(t)
        for i, sched in enumerate(self.schedules):
            sel = idx == i
            if not sel.any():
                continue
            ti = t[sel]
            if self.relative and i > 0:
                ti = ti - starts[i]
            out[sel] = sched._value(ti)
        return out


def join(schedules: Sequence[Any], boundaries: Sequence[float], relative: bool = True) -> Join:
    """Functional spelling of :class:`Join`.

    Args:
        schedules (sequence of Schedule): the schedules, in order.
        boundaries (sequence of float): the steps where each next one starts.
        relative (bool): restart the step count at each boundary
            (default: True).
    """
    return Join(schedules, boundaries, relative)


class Product(Schedule):
    r"""The product of schedules and numbers.

    .. math:: \eta_t = \prod_k s_k(t)

    Args:
        *factors: schedules or numbers (numbers become constants).
    """

    def __init__(self, *factors: Any) -> None:
        if not factors:
            raise ValueError("factors must contain at least one schedule or number")
        self.factors = [as_schedule(f, f"factors[{i}]") for i, f in enumerate(factors)]
        self.quantity = next(
            (f.quantity for f in self.factors if not isinstance(f, Constant)),
            self.factors[0].quantity,
        )

    @property
    def horizon(self) -> float | None:
        hs = [f.horizon for f in self.factors]
        return None if any(h is None for h in hs) else max(hs)

    def _value(self, t: np.ndarray) -> np.ndarray:
        out = self.factors[0]._value(t)
        for f in self.factors[1:]:
            out = out * f._value(t)
        return out

    def __repr__(self) -> str:
        return "Product(" + ", ".join(repr(f) for f in self.factors) + ")"


class Sum(Schedule):
    r"""The sum of schedules and numbers.

    .. math:: \eta_t = \sum_k s_k(t)

    Args:
        *terms: schedules or numbers (numbers become constants).
    """

    def __init__(self, *terms: Any) -> None:
        if not terms:
            raise ValueError("terms must contain at least one schedule or number")
        self.terms = [as_schedule(f, f"terms[{i}]") for i, f in enumerate(terms)]
        self.quantity = next(
            (f.quantity for f in self.terms if not isinstance(f, Constant)),
            self.terms[0].quantity,
        )

    @property
    def horizon(self) -> float | None:
        hs = [f.horizon for f in self.terms]
        return None if any(h is None for h in hs) else max(hs)

    def _value(self, t: np.ndarray) -> np.ndarray:
        out = self.terms[0]._value(t)
        for f in self.terms[1:]:
            out = out + f._value(t)
        return out

    def __repr__(self) -> str:
        return "Sum(" + ", ".join(repr(f) for f in self.terms) + ")"


class Shift(Schedule):
    r"""Evaluate a schedule ``offset`` steps later.

    .. math:: \eta_t = s(t + \Delta)

    Useful for formulas that count steps from 1, e.g.
    ``Shift(Noam(512), 1)``.

    Args:
        schedule (Schedule): the schedule.
        offset (float): :math:`\Delta \ge 0` (default: 1).
    """

    def __init__(self, schedule: Schedule, offset: float = 1.0) -> None:
        self.schedule = as_schedule(schedule)
        self.offset = check_nonneg("offset", offset)
        self.quantity = self.schedule.quantity

    @property
    def horizon(self) -> float | None:
        h = self.schedule.horizon
        return None if h is None else max(h - self.offset, 0.0)

    def _value(self, t: np.ndarray) -> np.ndarray:
        return self.schedule._value(t + self.offset)
