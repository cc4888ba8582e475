r""":class:`ReduceLROnPlateau`: cut the learning rate when a metric stops
improving."""

from __future__ import annotations

import math
from typing import Any

from ..schedules._validation import check_choice, check_int, check_nonneg, check_range
from .base import LRScheduler, param_groups, per_group

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply the learning rate by ``factor`` once the metric passed to
    :meth:`step` has not improved for more than ``patience`` steps.

    A value :math:`a` improves on the best so far :math:`b` when

    ========  =========================  =========================
    mode      ``threshold_mode="rel"``   ``threshold_mode="abs"``
    ========  =========================  =========================
    ``min``   :math:`a < b\,(1 - \theta)`  :math:`a < b - \theta`
    ``max``   :math:`a > b\,(1 + \theta)`  :math:`a > b + \theta`
    ========  =========================  =========================

    After more than ``patience`` non-improving steps each group's rate
    becomes :math:`\max(\eta f, \eta_{min})`, unless that changes it by at
    most ``eps``; then ``cooldown`` steps pass during which bad steps are not
    counted.

    Args:
        optimizer: the optimizer.
        mode (str): ``"min"`` or ``"max"`` (default: ``"min"``).
        factor (float): :math:`f \in [0, 1)` (default: 0.1).
        patience (int): bad steps tolerated, ``>= 0`` (default: 10).
        threshold (float): :math:`\theta \ge 0` (default: 1e-4).
        threshold_mode (str): ``"rel"`` or ``"abs"`` (default: ``"rel"``).
        cooldown (int): steps to wait after a cut, ``>= 0`` (default: 0).
        min_lr (float | list): :math:`\eta_{min} \ge 0`, or one per group
            (default: 0).
        eps (float): smallest change applied, ``>= 0`` (default: 1e-8).
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        groups = param_groups(optimizer)
        self.factor = check_range("factor", factor, 0.0, 1.0, high_open=True)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            values = per_group("min_lr", optimizer, min_lr)
            self.min_lrs = [check_nonneg(f"min_lr[{i}]", v) for i, v in enumerate(values)]
            self.default_min_lr = None
        else:
            self.default_min_lr = check_nonneg("min_lr", min_lr)
            self.min_lrs = [self.default_min_lr] * len(groups)
        self.patience = check_int("patience", patience, minimum=0)
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.eps = check_nonneg("eps", eps)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.threshold = check_nonneg("threshold", threshold)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in groups]
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value ``a`` improves on ``best``."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: float, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record a metric value and cut the learning rate if it has stalled.

        Args:
            metrics (float): the monitored value (e.g. validation loss).
            epoch (int | None): deprecated; sets ``last_epoch`` (default: None).
        """
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in param_groups(self.optimizer)]

    def _reduce_lr(self) -> None:
        groups = param_groups(self.optimizer)
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"the optimizer has {len(groups)} param groups but min_lr has"
                    f" {len(self.min_lrs)} entries (a group was added?); update `min_lrs`"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, low in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, low)
            if old - new > self.eps:
                group["lr"] = new

    def get_lr(self) -> list[float]:
        return self.get_last_lr()
