r"""Schedulers that drive an optimizer with any functional schedule of
:mod:`fastopt.schedules`: :class:`ScheduleLR` and :class:`ScheduleMomentum`,
and named shortcuts for the literature's commonly stepped schedules.

At step :math:`t` (``last_epoch``) they write :math:`s(t)`, or
:math:`\eta_0\, s(t)` with ``relative=True`` (:math:`\eta_0` = the group's
``initial_lr``). The value written at step ``t`` is bitwise equal to the
schedule evaluated on an array of steps.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ..schedules import (
    Noam,
    Schedule,
    Shift,
    SlantedTriangular,
    WarmupCosineDecay,
    WarmupMultiStep,
    WarmupStableDecay,
    as_schedule,
)
from ..schedules._validation import check_bool, check_choice, check_int
from .base import LRScheduler, get_momentum, momentum_key, param_groups, per_group, set_momentum

__all__ = [
    "ScheduleLR",
    "ScheduleMomentum",
    "WarmupCosineLR",
    "WarmupMultiStepLR",
    "WarmupStableDecayLR",
    "SlantedTriangularLR",
    "NoamLR",
]


def _schedules(optimizer: Any, schedule: Any) -> list[Schedule]:
    return [
        as_schedule(s, "schedule") for s in per_group("schedule", optimizer, schedule)
    ]


class ScheduleLR(LRScheduler):
    r"""Drive the learning rate with a functional schedule.

    .. math:: \eta_t = s(t) \quad\text{or, with ``relative``,}\quad \eta_t = \eta_0\, s(t)

    Args:
        optimizer: the optimizer.
        schedule (Schedule | list): a schedule (or a number, or a vectorized
            callable), or one per param group.
        relative (bool): treat the schedule as a multiplier of each group's
            initial learning rate (default: False).
        last_epoch (int): the last step taken (default: -1).

    Example:
        >>> from fastopt.schedules import CosineDecay
        >>> opt = type("Opt", (), {"param_groups": [{"lr": 0.1}]})()
        >>> sched = ScheduleLR(opt, CosineDecay(0.1, decay_steps=10))
        >>> for _ in range(5):
        ...     sched.step()
        >>> round(opt.param_groups[0]["lr"], 6)
        0.05
    """

    _not_state = ("optimizer", "_schedules")

    def __init__(self, optimizer: Any, schedule: Any, relative: bool = False, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self._schedules = _schedules(optimizer, schedule)
        self.relative = check_bool("relative", relative)
        super().__init__(optimizer, last_epoch)

    @property
    def schedules(self) -> list[Schedule]:
        """The schedule of each param group."""
        return list(self._schedules)

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        if self.relative:
            return [base * s(t) for base, s in zip(self.base_lrs, self._schedules)]
        return [s(t) for s in self._schedules]

    _get_closed_form_lr = get_lr


class ScheduleMomentum:
    r"""Drive the momentum (SGD's ``momentum`` or Adam's ``betas[0]``) with a
    functional schedule.

    .. math:: \mu_t = s(t)

    Same step semantics as the learning-rate schedulers: construction writes
    :math:`s(0)`, each :meth:`step` advances one step. Use it next to a
    learning-rate scheduler, e.g. ``ScheduleMomentum(opt, OneCycleMomentum(T))``
    with ``ScheduleLR(opt, OneCycle(0.1, T))``.

    Args:
        optimizer: the optimizer.
        schedule (Schedule | list): a schedule, or one per param group.
        key (str | None): ``"momentum"`` or ``"betas"``; by default
            ``"betas"`` if the optimizer has betas, else ``"momentum"``
            (default: None).
        last_epoch (int): the last step taken (default: -1).
    """

    _not_state = ("optimizer", "_schedules")

    def __init__(self, optimizer: Any, schedule: Any, key: str | None = None, last_epoch: int = -1) -> None:
        groups = param_groups(optimizer)
        self.optimizer = optimizer
        self._schedules = _schedules(optimizer, schedule)
        if key is None:
            key = momentum_key(optimizer)
            if key is None:
                raise ValueError(
                    "key: the optimizer has neither 'momentum' nor 'betas'; pass key='momentum'"
                    " or key='betas'"
                )
        self.key = check_choice("key", key, ("momentum", "betas"))
        for i, group in enumerate(groups):
            if self.key not in group:
                raise ValueError(f"key: param_groups[{i}] has no {self.key!r} entry")
        self.last_epoch = check_int("last_epoch", last_epoch, minimum=-1)
        self._step_count = 0
        self.step()

    def step(self) -> None:
        """Advance one step and write the new momenta."""
        self._step_count += 1
        self.last_epoch += 1
        t = self.last_epoch
        for group, s in zip(param_groups(self.optimizer), self._schedules):
            set_momentum(group, self.key, s(t))
        self._last_momentum = [get_momentum(g, self.key) for g in param_groups(self.optimizer)]

    def get_last_momentum(self) -> list[float]:
        """The momenta written last, one per param group."""
        return list(self._last_momentum)

    def state_dict(self) -> dict[str, Any]:
        """The state (step counters and last momenta), deep-copied."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in self._not_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state and write the last momenta back into the groups."""
        self.__dict__.update({k: copy.deepcopy(v) for k, v in state_dict.items() if k not in self._not_state})
        groups = param_groups(self.optimizer)
        if len(self._last_momentum) != len(groups):
            raise ValueError(
                f"state_dict holds {len(self._last_momentum)} momenta but the optimizer has"
                f" {len(groups)} param groups"
            )
        for group, m in zip(groups, self._last_momentum):
            set_momentum(group, self.key, m)


class WarmupCosineLR(ScheduleLR):
    r"""Linear warm-up then cosine decay, relative to each group's initial
    learning rate :math:`\eta_0` (see
    :class:`fastopt.schedules.WarmupCosineDecay`).

    .. math::
        \eta_t = \eta_0 \begin{cases}
          f_0 + (1 - f_0)\, t / W & t < W \\
          f_e + (1 - f_e)\, \frac{1 + \cos(\pi (\min(t, T) - W) / (T - W))}{2} & t \ge W
        \end{cases}

    Args:
        optimizer: the optimizer.
        warmup_steps (int): :math:`W \in [0, T]`.
        total_steps (int): :math:`T > 0`.
        warmup_start_factor (float): :math:`f_0 \ge 0` (default: 0.0).
        end_factor (float): :math:`f_e \ge 0` (default: 0.0).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self,
        optimizer: Any,
        warmup_steps: int,
        total_steps: int,
        warmup_start_factor: float = 0.0,
        end_factor: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        schedule = WarmupCosineDecay(
            1.0, warmup_steps, total_steps, init_value=warmup_start_factor, end_value=end_factor
        )
        super().__init__(optimizer, schedule, relative=True, last_epoch=last_epoch)


class WarmupMultiStepLR(ScheduleLR):
    r"""Warm-up followed by multi-step decay (Goyal et al., 2017), relative
    to each group's initial learning rate (see
    :class:`fastopt.schedules.WarmupMultiStep`).

    .. math::
        \eta_t = \eta_0\, \gamma^{\#\{i \,:\, m_i \le t\}}\, w_t, \qquad
        w_t = f_0 + (1 - f_0)\, t / W \text{ (linear) or } f_0 \text{ (constant) for } t < W

    Args:
        optimizer: the optimizer.
        milestones (sequence of int): strictly increasing steps.
        gamma (float): :math:`\gamma \ge 0` (default: 0.1).
        warmup_steps (int): :math:`W \ge 0` (default: 5).
        warmup_factor (float): :math:`f_0 \in [0, 1]` (default: 0.1).
        warmup_mode (str): ``"linear"`` or ``"constant"`` (default:
            ``"linear"``).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self,
        optimizer: Any,
        milestones: Sequence[int],
        gamma: float = 0.1,
        warmup_steps: int = 5,
        warmup_factor: float = 0.1,
        warmup_mode: str = "linear",
        last_epoch: int = -1,
    ) -> None:
        schedule = WarmupMultiStep(1.0, milestones, gamma, warmup_steps, warmup_factor, warmup_mode)
        super().__init__(optimizer, schedule, relative=True, last_epoch=last_epoch)


class WarmupStableDecayLR(ScheduleLR):
    r"""Warm-up / stable / decay (trapezoid), relative to each group's
    initial learning rate (see :class:`fastopt.schedules.WarmupStableDecay`).

    Args:
        optimizer: the optimizer.
        total_steps (int): :math:`T > 0`.
        warmup_steps (int): :math:`W \ge 0`.
        decay_steps (int): :math:`D > 0`, with :math:`W + D \le T`.
        decay_shape (str): ``"linear"``, ``"cosine"`` or ``"1-sqrt"``
            (default: ``"linear"``).
        warmup_start_factor (float): start of the warm-up, relative
            (default: 0.0).
        end_factor (float): end of the decay, relative (default: 0.0).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self,
        optimizer: Any,
        total_steps: int,
        warmup_steps: int,
        decay_steps: int,
        decay_shape: str = "linear",
        warmup_start_factor: float = 0.0,
        end_factor: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        schedule = WarmupStableDecay(
            1.0,
            total_steps,
            warmup_steps,
            decay_steps,
            init_value=warmup_start_factor,
            end_value=end_factor,
            decay_shape=decay_shape,
        )
        super().__init__(optimizer, schedule, relative=True, last_epoch=last_epoch)


class SlantedTriangularLR(ScheduleLR):
    r"""Slanted triangular learning rates (Howard & Ruder, 2018); each
    group's initial learning rate is :math:`\eta_{max}` (see
    :class:`fastopt.schedules.SlantedTriangular`).

    Args:
        optimizer: the optimizer.
        total_steps (int): :math:`T > 0`.
        cut_frac (float): fraction of steps increasing (default: 0.1).
        ratio (float): highest / lowest value (default: 32).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self,
        optimizer: Any,
        total_steps: int,
        cut_frac: float = 0.1,
        ratio: float = 32.0,
        last_epoch: int = -1,
    ) -> None:
        schedule = SlantedTriangular(1.0, total_steps, cut_frac, ratio)
        super().__init__(optimizer, schedule, relative=True, last_epoch=last_epoch)


class NoamLR(ScheduleLR):
    r"""The Transformer schedule (Vaswani et al., 2017), counting steps from
    1 as the paper does; each group's initial learning rate is the scale
    (1.0 reproduces the paper).

    .. math::
        \eta_t = \eta_0\, d_{model}^{-1/2}
                 \min\!\left((t+1)^{-1/2},\; (t+1)\, W^{-3/2}\right)

    Args:
        optimizer: the optimizer.
        d_model (int): the model width.
        warmup_steps (int): :math:`W > 0` (default: 4000).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(self, optimizer: Any, d_model: int, warmup_steps: int = 4000, last_epoch: int = -1) -> None:
        schedule = Shift(Noam(d_model, warmup_steps), 1)
        super().__init__(optimizer, schedule, relative=True, last_epoch=last_epoch)
