"""Hyperparameter checks shared by every optimizer.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose
message starts with the argument's name, so that a user sees which value of
which param group is wrong. Optimizers run them at construction and again at
every step, because ``param_groups`` is writable.
"""
import math
import numbers

import numpy as np


def _where(group_index):
    return "" if group_index is None else f" (param group {group_index})"


def number(name, value, group_index=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}{_where(group_index)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}{_where(group_index)}")
    return value


def nonneg(name, value, group_index=None):
    value = number(name, value, group_index)
    if value < 0.0:
        raise ValueError(f"{name}: expected a value >= 0, got {value}{_where(group_index)}")
    return value


def positive(name, value, group_index=None):
    value = number(name, value, group_index)
    if value <= 0.0:
        raise ValueError(f"{name}: expected a value > 0, got {value}{_where(group_index)}")
    return value


def unit_interval(name, value, group_index=None, closed_right=False):
    """0 <= value < 1 (or <= 1 when closed_right)."""
    value = number(name, value, group_index)
    if not (0.0 <= value < 1.0 or (closed_right and value == 1.0)):
        bound = "]" if closed_right else ")"
        raise ValueError(f"{name}: expected a value in [0, 1{bound}, got {value}{_where(group_index)}")
    return value


def unit_interval_closed(name, value, group_index=None):
    """0 <= value <= 1."""
    return unit_interval(name, value, group_index, closed_right=True)


def nesterov(group, group_index=None):
    """SGD-style Nesterov momentum needs momentum > 0 and dampening = 0."""
    if group["nesterov"] and (float(group["momentum"]) <= 0 or float(group["dampening"]) != 0):
        raise ValueError(f"nesterov: Nesterov momentum requires momentum > 0 and dampening = 0{_where(group_index)}")


def betas(name, value, group_index=None, n=2):
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name}: expected a tuple of {n} numbers, got {type(value).__name__}{_where(group_index)}") from None
    if len(items) != n:
        raise ValueError(f"{name}: expected {n} values, got {len(items)}{_where(group_index)}")
    return tuple(unit_interval(f"{name}[{i}]", b, group_index) for i, b in enumerate(items))


def boolean(name, value, group_index=None):
    """A bool (also numpy.bool_ or an integral 0/1)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name}: expected a bool, got {value!r}{_where(group_index)}")


def integer(name, value, minimum=None, group_index=None):
    """An integral value (int or numpy integer, not bool), optionally >= minimum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name}: expected an integer, got {value!r}{_where(group_index)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}{_where(group_index)}")
    return value
