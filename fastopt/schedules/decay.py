"""Monotone decays: step, multi-step, exponential, inverse-time, polynomial,
piecewise-constant and linear.

``t`` is the step, :math:`\\eta_0` the initial value (``init_value``). The
"Keras-style" decays (:class:`ExponentialDecay`, :class:`InverseTimeDecay`,
:class:`PolynomialDecay`, :class:`PiecewiseConstant`) follow the semantics of
the Keras schedules of the same names, including ``staircase`` and ``cycle``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validation import (
    check_bool,
    check_increasing,
    check_nonneg,
    check_positive,
    check_real,
)
from .base import Schedule

__all__ = [
    "StepDecay",
    "MultiStepDecay",
    "ExponentialDecay",
    "NaturalExpDecay",
    "InverseTimeDecay",
    "PolynomialDecay",
    "PiecewiseConstant",
    "Linear",
]


def _progress(t: np.ndarray, decay_steps: float, staircase: bool) -> np.ndarray:
    p = t / decay_steps
    if staircase:
        p = np.floor(p)
    return p


class StepDecay(Schedule):
    r"""Multiply by ``gamma`` every ``step_size`` steps (the closed form of
    :class:`torch.optim.lr_scheduler.StepLR`).

    .. math:: \eta_t = \eta_0 \, \gamma^{\lfloor t / s \rfloor}

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        step_size (float): :math:`s > 0`, the period of the decay.
        gamma (float): :math:`\gamma \ge 0`, the factor (default: 0.1).
    """

    def __init__(self, init_value: float, step_size: float, gamma: float = 0.1) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.step_size = check_positive("step_size", step_size)
        self.gamma = check_nonneg("gamma", gamma)

    def _value(self, t: np.ndarray) -> np.ndarray:
        return self.init_value * np.power(self.gamma, np.floor(t / self.step_size))


class MultiStepDecay(Schedule):
    r"""Multiply by ``gamma`` at each milestone (the closed form of
    :class:`torch.optim.lr_scheduler.MultiStepLR`).

    .. math:: \eta_t = \eta_0 \, \gamma^{\#\{i \,:\, m_i \le t\}}

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        milestones (sequence of float): strictly increasing steps :math:`m_i \ge 0`.
        gamma (float): :math:`\gamma \ge 0` (default: 0.1).
    """

    def __init__(
        self, init_value: float, milestones: Sequence[float], gamma: float = 0.1
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.milestones = check_increasing("milestones", milestones)
        self.gamma = check_nonneg("gamma", gamma)

    @property
    def horizon(self) -> float:
        return self.milestones[-1] if self.milestones else 0.0

    def _value(self, t: np.ndarray) -> np.ndarray:
        count = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), t, side="right")
        return self.init_value * np.power(self.gamma, count.astype(np.float64))


class ExponentialDecay(Schedule):
    r"""Exponential decay by a rate per ``decay_steps`` steps (Keras
    ``ExponentialDecay`` semantics).

    .. math:: \eta_t = \eta_0 \, r^{p}, \qquad
              p = t / T \text{ or } \lfloor t / T \rfloor \text{ (staircase)}

    With ``decay_steps=1`` and ``decay_rate=gamma`` this is the closed form of
    :class:`torch.optim.lr_scheduler.ExponentialLR`.

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        decay_steps (float): :math:`T > 0`.
        decay_rate (float): :math:`r \ge 0`.
        staircase (bool): decay in discrete steps (default: False).
    """

    def __init__(
        self,
        init_value: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = check_nonneg("decay_rate", decay_rate)
        self.staircase = check_bool("staircase", staircase)

    def _value(self, t: np.ndarray) -> np.ndarray:
        p = _progress(t, self.decay_steps, self.staircase)
        return self.init_value * np.power(self.decay_rate, p)


class NaturalExpDecay(Schedule):
    r"""Exponential decay with a natural-exponent rate.

    .. math:: \eta_t = \eta_0 \, e^{-k p}, \qquad
              p = t / T \text{ or } \lfloor t / T \rfloor \text{ (staircase)}

    With ``decay_steps=1`` this is the textbook :math:`\eta_0 e^{-k t}`.

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        decay_steps (float): :math:`T > 0`.
        decay_rate (float): :math:`k \ge 0`.
        staircase (bool): decay in discrete steps (default: False).
    """

    def __init__(
        self,
        init_value: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = check_nonneg("decay_rate", decay_rate)
        self.staircase = check_bool("staircase", staircase)

    def _value(self, t: np.ndarray) -> np.ndarray:
        p = _progress(t, self.decay_steps, self.staircase)
        return self.init_value * np.exp(-self.decay_rate * p)


class InverseTimeDecay(Schedule):
    r"""Inverse-time decay (Keras ``InverseTimeDecay`` semantics).

    .. math:: \eta_t = \frac{\eta_0}{1 + k\, p}, \qquad
              p = t / T \text{ or } \lfloor t / T \rfloor \text{ (staircase)}

    With ``decay_steps=1`` this is the classic :math:`\eta_0 / (1 + k t)`.

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        decay_steps (float): :math:`T > 0`.
        decay_rate (float): :math:`k \ge 0`.
        staircase (bool): decay in discrete steps (default: False).
    """

    def __init__(
        self,
        init_value: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = check_nonneg("decay_rate", decay_rate)
        self.staircase = check_bool("staircase", staircase)

    def _value(self, t: np.ndarray) -> np.ndarray:
        p = _progress(t, self.decay_steps, self.staircase)
        return self.init_value / (1.0 + self.decay_rate * p)


class PolynomialDecay(Schedule):
    r"""Polynomial decay to an end value, optionally cycling (Keras
    ``PolynomialDecay`` semantics).

    Without cycling, :math:`\tau = \min(t, T)` and :math:`D = T`; with
    cycling, :math:`\tau = t` and :math:`D = T \lceil t / T \rceil`
    (:math:`D = T` at :math:`t = 0`):

    .. math:: \eta_t = (\eta_0 - \eta_{end}) (1 - \tau / D)^{p} + \eta_{end}

    With ``end_value=0`` and no cycling this is the closed form of
    :class:`torch.optim.lr_scheduler.PolynomialLR`.

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        decay_steps (float): :math:`T > 0`.
        end_value (float): :math:`\eta_{end} \ge 0` (default: 0.0001, as in Keras).
        power (float): :math:`p \ge 0` (default: 1.0).
        cycle (bool): restart the decay every ``decay_steps`` with a longer
            period (default: False).
    """

    def __init__(
        self,
        init_value: float,
        decay_steps: float,
        end_value: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.end_value = check_nonneg("end_value", end_value)
        self.power = check_nonneg("power", power)
        self.cycle = check_bool("cycle", cycle)

    @property
    def horizon(self) -> float | None:
        return None if self.cycle else self.decay_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        if self.cycle:
            mult = np.where(t == 0.0, 1.0, np.ceil(t / self.decay_steps))
            frac = t / (self.decay_steps * mult)
        else:
            frac = np.minimum(t, self.decay_steps) / self.decay_steps
        return (self.init_value - self.end_value) * np.power(1.0 - frac, self.power) + self.end_value


class PiecewiseConstant(Schedule):
    r"""Piecewise-constant values (Keras ``PiecewiseConstantDecay`` semantics).

    .. math:: \eta_t = v_i \quad\text{for}\quad b_{i-1} < t \le b_i,
              \qquad b_0 = -\infty,\ b_n = +\infty

    Each boundary belongs to the interval on its left: ``values[0]`` is used up
    to and including ``boundaries[0]``.

    Args:
        boundaries (sequence of float): ``n - 1`` strictly increasing steps.
        values (sequence of float): ``n`` non-negative values.
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float]) -> None:
        self.boundaries = check_increasing("boundaries", boundaries)
        vals = [check_nonneg(f"values[{i}]", v) for i, v in enumerate(values)]
        if len(vals) != len(self.boundaries) + 1:
            raise ValueError(
                f"values must have len(boundaries) + 1 = {len(self.boundaries) + 1} entries,"
                f" got {len(vals)}"
            )
        self.values = vals

    @property
    def horizon(self) -> float:
        return self.boundaries[-1] if self.boundaries else 0.0

    def _value(self, t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64), t, side="left")
        return np.asarray(self.values, dtype=np.float64)[idx]


class Linear(Schedule):
    r"""Linear interpolation between two values.

    .. math:: \eta_t = \eta_0 + (\eta_{end} - \eta_0)\,
              \mathrm{clip}\!\left(\frac{t - t_0}{T}, 0, 1\right)

    Args:
        init_value (float): :math:`\eta_0`, finite.
        end_value (float): :math:`\eta_{end}`, finite.
        transition_steps (float): :math:`T > 0`.
        transition_begin (float): :math:`t_0 \ge 0`, steps held at
            ``init_value`` first (default: 0).
    """

    def __init__(
        self,
        init_value: float,
        end_value: float,
        transition_steps: float,
        transition_begin: float = 0.0,
    ) -> None:
        self.init_value = check_real("init_value", init_value)
        self.end_value = check_real("end_value", end_value)
        self.transition_steps = check_positive("transition_steps", transition_steps)
        self.transition_begin = check_nonneg("transition_begin", transition_begin)

    @property
    def horizon(self) -> float:
        return self.transition_begin + self.transition_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        frac = np.clip((t - self.transition_begin) / self.transition_steps, 0.0, 1.0)
        return self.init_value + (self.end_value - self.init_value) * frac
