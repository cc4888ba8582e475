"""Argument checks shared by the schedules and the scheduler classes.

Every check raises :class:`ValueError` (or :class:`TypeError` for a value of
the wrong kind) with a message that starts with the argument's name, so that a
bad call says which argument is wrong.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "check_real",
    "check_nonneg",
    "check_positive",
    "check_at_least",
    "check_int",
    "check_range",
    "check_increasing",
    "check_choice",
    "check_bool",
]


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float; it must be a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def check_nonneg(name: str, value: Any) -> float:
    """Return ``value`` as a float; it must be finite and ``>= 0``."""
    out = check_real(name, value)
    if out < 0.0:
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    return out


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float; it must be finite and ``> 0``."""
    out = check_real(name, value)
    if out <= 0.0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return out


def check_at_least(name: str, value: Any, low: float) -> float:
    """Return ``value`` as a float; it must be finite and ``>= low``."""
    out = check_real(name, value)
    if out < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return out


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as an int; it must be an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return out


def check_range(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float inside the interval from ``low`` to ``high``."""
    out = check_real(name, value)
    too_low = out <= low if low_open else out < low
    too_high = out >= high if high_open else out > high
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")
    return out


def check_increasing(
    name: str, values: Iterable[Any], *, nonneg: bool = True
) -> list[float]:
    """Return ``values`` as a list of floats; they must be strictly increasing."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}")
    out = [check_real(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if nonneg:
        for i, v in enumerate(out):
            if v < 0.0:
                raise ValueError(f"{name} must be non-negative, got {name}[{i}] = {v!r}")
    for i in range(1, len(out)):
        if not out[i] > out[i - 1]:
            raise ValueError(
                f"{name} must be strictly increasing, got {name}[{i - 1}] = {out[i - 1]!r}"
                f" and {name}[{i}] = {out[i]!r}"
            )
    return out


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Return ``value``; it must be one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value``; it must be a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value
