r"""Momentum schedules.

A momentum schedule is an ordinary :class:`~fastopt.schedules.Schedule`
whose ``quantity`` is ``"momentum"``; drive an optimizer with it through
:class:`fastopt.lr_scheduler.ScheduleMomentum`, which writes SGD's
``momentum`` or Adam's ``betas[0]``.

References:
    * G. E. Hinton, N. Srivastava, A. Krizhevsky, I. Sutskever,
      R. R. Salakhutdinov. Improving neural networks by preventing
      co-adaptation of feature detectors. 2012.
      https://arxiv.org/abs/1207.0580
    * I. Sutskever, J. Martens, G. Dahl, G. Hinton. On the importance of
      initialization and momentum in deep learning. ICML 2013.
    * L. N. Smith. A disciplined approach to neural network hyper-parameters:
      Part 1. 2018. https://arxiv.org/abs/1803.09820
"""

from __future__ import annotations

import numpy as np

from ._kernels import cos_anneal
from ._validation import check_choice, check_positive, check_range, check_real
from .base import Schedule, as_schedule
from .cyclic import check_one_cycle, phase_anneal

__all__ = [
    "MomentumSchedule",
    "as_momentum",
    "AnnealMomentum",
    "SutskeverMomentum",
    "InverseMomentum",
    "OneCycleMomentum",
]


class MomentumSchedule(Schedule):
    """Wrap any schedule as a momentum schedule (``quantity = "momentum"``).

    Values are passed through unchanged.

    Args:
        schedule (Schedule | float | callable): the schedule.
    """

    quantity = "momentum"

    def __init__(self, schedule: Schedule | float) -> None:
        self.schedule = as_schedule(schedule)

    @property
    def horizon(self) -> float | None:
        return self.schedule.horizon

    def _value(self, t: np.ndarray) -> np.ndarray:
        return self.schedule._value(t)


def as_momentum(schedule: Schedule | float) -> MomentumSchedule:
    """Return ``schedule`` wrapped as a :class:`MomentumSchedule` (unchanged
    if it already is one).

    Args:
        schedule (Schedule | float | callable): the schedule.
    """
    if isinstance(schedule, MomentumSchedule):
        return schedule
    return MomentumSchedule(schedule)


def _check_momentum(name: str, value: float) -> float:
    return check_range(name, value, 0.0, 1.0)


class AnnealMomentum(Schedule):
    r"""Anneal the momentum from ``start_value`` to ``end_value`` over
    ``anneal_steps`` steps, then hold it (Hinton et al. 2012 raise it
    linearly from 0.5 to 0.99 over the first 500 epochs).

    With :math:`p = \min(t / T, 1)`:

    .. math::
        \mu_t = \mu_0 + (\mu_{end} - \mu_0)\, p \;\text{(linear)}, \qquad
        \mu_t = \mu_{end} + (\mu_0 - \mu_{end})\, \tfrac12 (1 + \cos \pi p)
        \;\text{(cosine)}

    Args:
        start_value (float): :math:`\mu_0 \in [0, 1]` (default: 0.5).
        end_value (float): :math:`\mu_{end} \in [0, 1]` (default: 0.99).
        anneal_steps (float): :math:`T > 0` (default: 500).
        shape (str): ``"linear"`` or ``"cosine"`` (default: ``"linear"``).

    References:
        Hinton et al. Improving neural networks by preventing co-adaptation of
        feature detectors. 2012.
    """

    quantity = "momentum"

    def __init__(
        self,
        start_value: float = 0.5,
        end_value: float = 0.99,
        anneal_steps: float = 500.0,
        shape: str = "linear",
    ) -> None:
        self.start_value = _check_momentum("start_value", start_value)
        self.end_value = _check_momentum("end_value", end_value)
        self.anneal_steps = check_positive("anneal_steps", anneal_steps)
        self.shape = check_choice("shape", shape, ("linear", "cosine"))

    @property
    def horizon(self) -> float:
        return self.anneal_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        p = np.minimum(t / self.anneal_steps, 1.0)
        if self.shape == "linear":
            return self.start_value + (self.end_value - self.start_value) * p
        return self.end_value + (self.start_value - self.end_value) * cos_anneal(p)


class SutskeverMomentum(Schedule):
    r"""The momentum schedule of Sutskever et al. (2013).

    .. math::
        \mu_t = \min\!\left(1 - 2^{-1 - \log_2(\lfloor t / P \rfloor + 1)},\;
        \mu_{max}\right)
        = \min\!\left(1 - \frac{1}{2(\lfloor t / P \rfloor + 1)},\; \mu_{max}\right)

    so 0.5, 0.75, 0.833, ... every :math:`P` steps, capped at
    :math:`\mu_{max}`.

    Args:
        max_value (float): :math:`\mu_{max} \in [0, 1]` (default: 0.99).
        period (float): :math:`P > 0` (default: 250).

    References:
        Sutskever, Martens, Dahl, Hinton. On the importance of initialization
        and momentum in deep learning. ICML 2013, section 2.
    """

    quantity = "momentum"

    def __init__(self, max_value: float = 0.99, period: float = 250.0) -> None:
        self.max_value = _check_momentum("max_value", max_value)
        self.period = check_positive("period", period)

    def _value(self, t: np.ndarray) -> np.ndarray:
        k = np.floor(t / self.period) + 1.0
        return np.minimum(1.0 - 1.0 / (2.0 * k), self.max_value)


class InverseMomentum(Schedule):
    r"""A momentum that moves inversely to a learning-rate schedule (Smith,
    2018): the highest momentum at the lowest learning rate.

    .. math::
        \mu_t = \mu_{max} - (\mu_{max} - \mu_{base})\,
        \frac{\eta_t - \eta_{lo}}{\eta_{hi} - \eta_{lo}}

    For a :class:`~fastopt.schedules.Cyclic` learning rate with bounds
    ``(lr_min, lr_max)`` this equals the momentum cycling of
    :class:`torch.optim.lr_scheduler.CyclicLR`.

    Args:
        lr_schedule (Schedule): the learning-rate schedule :math:`\eta_t`.
        lr_min (float): :math:`\eta_{lo}`, the learning rate mapped to
            ``max_momentum``.
        lr_max (float): :math:`\eta_{hi} > \eta_{lo}`, the learning rate
            mapped to ``base_momentum``.
        base_momentum (float): :math:`\mu_{base} \in [0, 1]` (default: 0.85).
        max_momentum (float): :math:`\mu_{max} \in [0, 1]` (default: 0.95).

    References:
        Smith. A disciplined approach to neural network hyper-parameters:
        Part 1. 2018.
    """

    quantity = "momentum"

    def __init__(
        self,
        lr_schedule: Schedule,
        lr_min: float,
        lr_max: float,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
    ) -> None:
        self.lr_schedule = as_schedule(lr_schedule, "lr_schedule")
        self.lr_min = check_real("lr_min", lr_min)
        self.lr_max = check_real("lr_max", lr_max)
        if not self.lr_max > self.lr_min:
            raise ValueError(f"lr_max ({lr_max!r}) must be greater than lr_min ({lr_min!r})")
        self.base_momentum = _check_momentum("base_momentum", base_momentum)
        self.max_momentum = _check_momentum("max_momentum", max_momentum)

    @property
    def horizon(self) -> float | None:
        return self.lr_schedule.horizon

    def _value(self, t: np.ndarray) -> np.ndarray:
        frac = (self.lr_schedule._value(t) - self.lr_min) / (self.lr_max - self.lr_min)
        return self.max_momentum - (self.max_momentum - self.base_momentum) * frac


class OneCycleMomentum(Schedule):
    r"""The momentum half of the 1cycle policy (Smith, 2018), with the phases
    of :class:`~fastopt.schedules.OneCycle` (and of PyTorch's OneCycleLR):
    from :math:`\mu_{max}` down to :math:`\mu_{base}` while the learning rate
    rises, back up to :math:`\mu_{max}` while it falls (and held at
    :math:`\mu_{max}` in the third phase of ``three_phase``), annealed by
    half cosine or linearly as in :class:`~fastopt.schedules.OneCycle`.

    Args:
        total_steps (int): :math:`T \ge 1`.
        pct_start (float): fraction of steps in the first phase (default: 0.3).
        anneal_strategy (str): ``"cos"`` or ``"linear"`` (default: ``"cos"``).
        base_momentum (float): :math:`\mu_{base} \in [0, 1]` (default: 0.85).
        max_momentum (float): :math:`\mu_{max} \in [0, 1]` (default: 0.95).
        three_phase (bool): the three-phase variant (default: False).

    References:
        Smith. A disciplined approach to neural network hyper-parameters:
        Part 1. 2018.
    """

    quantity = "momentum"

    def __init__(
        self,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        three_phase: bool = False,
    ) -> None:
        self.total_steps, self.pct_start, self._ends = check_one_cycle(
            total_steps, pct_start, anneal_strategy, three_phase
        )
        self.anneal_strategy = anneal_strategy
        self.base_momentum = _check_momentum("base_momentum", base_momentum)
        self.max_momentum = _check_momentum("max_momentum", max_momentum)
        self.three_phase = three_phase
        hi, lo = self.max_momentum, self.base_momentum
        if three_phase:
            self._starts, self._targets = [hi, lo, hi], [lo, hi, hi]
        else:
            self._starts, self._targets = [hi, lo], [lo, hi]

    @property
    def horizon(self) -> float:
        return float(self.total_steps - 1)

    def _value(self, t: np.ndarray) -> np.ndarray:
        t = np.minimum(t, self._ends[-1])
        return phase_anneal(t, self._ends, self._starts, self._targets, self.anneal_strategy)
