r"""The single-rule schedulers of ``torch.optim.lr_scheduler``.

They reproduce PyTorch's arithmetic step for step, including its recursive
("chainable") forms, which compute the next learning rate from the group's
current one so that several schedulers can be stacked with
:class:`~fastopt.lr_scheduler.ChainedScheduler`. Each has a closed form
(``_get_closed_form_lr``, the matching functional schedule in
:mod:`fastopt.schedules`), used for ``step(epoch)`` and by
:class:`~fastopt.lr_scheduler.SequentialLR` at its milestones.

Notation: :math:`\eta_0` is a group's ``initial_lr`` (``base_lrs``),
:math:`t` is ``last_epoch``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from ..schedules._validation import check_int, check_nonneg, check_positive, check_range
from .base import LRScheduler, callable_state, check_milestones, per_group

__all__ = [
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
]


def _lambdas(optimizer: Any, lr_lambda: Any) -> list[Callable[[int], float]]:
    fns = per_group("lr_lambda", optimizer, lr_lambda)
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"lr_lambda must be callable, got {type(fn).__name__}")
    return fns


class _LambdaStateMixin:
    """State handling of the schedulers that hold user functions: a function
    is not saved; a callable object's ``__dict__`` is, as in PyTorch."""

    _not_state = ("optimizer", "lr_lambdas")
    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        state = LRScheduler.state_dict(self)  # type: ignore[arg-type]
        state["lr_lambdas"] = [callable_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        LRScheduler.load_state_dict(self, state_dict)  # type: ignore[arg-type]
        for fn, saved in zip(self.lr_lambdas, state_dict.get("lr_lambdas", ())):
            if saved is not None:
                fn.__dict__.update(saved)


class LambdaLR(_LambdaStateMixin, LRScheduler):
    r"""Scale each group's initial learning rate by a function of the step.

    .. math:: \eta_t = \eta_0 \, \lambda(t)

    Args:
        optimizer: the optimizer.
        lr_lambda (callable | list): :math:`\lambda`, or one per param group.
        last_epoch (int): the last step taken (default: -1).

    Example:
        >>> opt = type("Opt", (), {"param_groups": [{"lr": 0.1}]})()
        >>> sched = LambdaLR(opt, lambda t: 0.5 ** t)
        >>> sched.step(); opt.param_groups[0]["lr"]
        0.05
    """

    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaStateMixin, LRScheduler):
    r"""Multiply each group's learning rate by a function of the step, at
    every step after the first.

    .. math:: \eta_t = \eta_{t-1}\, \lambda(t) \quad (t \ge 1)

    Args:
        optimizer: the optimizer.
        lr_lambda (callable | list): :math:`\lambda`, or one per param group.
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [g["lr"] for g in groups]
        return [g["lr"] * fn(self.last_epoch) for fn, g in zip(self.lr_lambdas, groups)]


class StepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every ``step_size`` steps.

    .. math:: \eta_t = \eta_0 \, \gamma^{\lfloor t / s \rfloor}

    Args:
        optimizer: the optimizer.
        step_size (int): :math:`s \ge 1`.
        gamma (float): :math:`\gamma \ge 0` (default: 0.1).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = check_int("step_size", step_size, minimum=1)
        self.gamma = check_nonneg("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` at each milestone.

    .. math:: \eta_t = \eta_0 \, \gamma^{\#\{i \,:\, m_i \le t\}}

    Args:
        optimizer: the optimizer.
        milestones (sequence of int): strictly increasing steps
            :math:`m_i \ge 0`.
        gamma (float): :math:`\gamma \ge 0` (default: 0.1).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self, optimizer: Any, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.milestones = check_milestones("milestones", milestones)
        self.gamma = check_nonneg("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch not in self.milestones:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        k = bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**k for base in self.base_lrs]


class ConstantLR(LRScheduler):
    r"""Scale the learning rate by a constant factor for the first
    ``total_iters`` steps.

    .. math:: \eta_t = \eta_0 \cdot \begin{cases} f & t < T \\ 1 & t \ge T \end{cases}

    Args:
        optimizer: the optimizer.
        factor (float): :math:`f \in (0, 1]` (default: 1/3).
        total_iters (int): :math:`T \ge 1` (default: 5).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self, optimizer: Any, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1
    ) -> None:
        self.factor = check_range("factor", factor, 0.0, 1.0, low_open=True)
        self.total_iters = check_int("total_iters", total_iters, minimum=1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] * self.factor for g in groups]
        if self.last_epoch != self.total_iters:
            return [g["lr"] for g in groups]
        return [g["lr"] * (1.0 / self.factor) for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        f = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [base * f for base in self.base_lrs]


class LinearLR(LRScheduler):
    r"""Change the learning rate linearly by a factor going from
    ``start_factor`` to ``end_factor`` over ``total_iters`` steps.

    .. math:: \eta_t = \eta_0 \left(f_s + (f_e - f_s) \frac{\min(t, T)}{T}\right)

    Args:
        optimizer: the optimizer.
        start_factor (float): :math:`f_s \in (0, 1]` (default: 1/3).
        end_factor (float): :math:`f_e \in [0, 1]` (default: 1.0).
        total_iters (int): :math:`T \ge 1` (default: 5).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self,
        optimizer: Any,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self.start_factor = check_range("start_factor", start_factor, 0.0, 1.0, low_open=True)
        self.end_factor = check_range("end_factor", end_factor, 0.0, 1.0)
        self.total_iters = check_int("total_iters", total_iters, minimum=1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] * self.start_factor for g in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [g["lr"] for g in groups]
        diff = self.end_factor - self.start_factor
        ratio = 1.0 + diff / (self.total_iters * self.start_factor + (self.last_epoch - 1) * diff)
        return [g["lr"] * ratio for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        f = self.start_factor + (self.end_factor - self.start_factor) * frac
        return [base * f for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every step.

    .. math:: \eta_t = \eta_0 \, \gamma^t

    Args:
        optimizer: the optimizer.
        gamma (float): :math:`\gamma \ge 0`.
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check_nonneg("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    r"""Polynomial decay to 0 over ``total_iters`` steps.

    .. math:: \eta_t = \eta_0 \left(1 - \frac{\min(t, T)}{T}\right)^{p}

    Args:
        optimizer: the optimizer.
        total_iters (int): :math:`T \ge 1` (default: 5).
        power (float): :math:`p \ge 0` (default: 1.0).
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(self, optimizer: Any, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        self.total_iters = check_int("total_iters", total_iters, minimum=1)
        self.power = check_nonneg("power", power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial or self.last_epoch > self.total_iters:
            return [g["lr"] for g in groups]
        t, n = self.last_epoch, self.total_iters
        factor = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [g["lr"] * factor for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (1.0 - frac) ** self.power for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the initial learning rate to ``eta_min`` over
    ``T_max`` steps (Loshchilov & Hutter, 2017), without restarts.

    Closed form (continued periodically past :math:`T_{max}`, as PyTorch):

    .. math:: \eta_t = \eta_{min} + (\eta_0 - \eta_{min})
              \frac{1 + \cos(\pi t / T_{max})}{2}

    Like PyTorch, :meth:`step` uses the recursive form

    .. math:: \eta_t = \eta_{min} + (\eta_{t-1} - \eta_{min})
              \frac{1 + \cos(\pi t / T_{max})}{1 + \cos(\pi (t - 1) / T_{max})}

    (with an additive form at the bottom of each period), so that it can be
    chained with other schedulers; the two agree to rounding when nothing
    else changes the learning rate.

    Args:
        optimizer: the optimizer.
        T_max (float): :math:`T_{max} > 0`, steps of a half period.
        eta_min (float): :math:`\eta_{min} \ge 0` (default: 0.0).
        last_epoch (int): the last step taken (default: -1).

    References:
        Loshchilov & Hutter. SGDR: Stochastic Gradient Descent with Warm
        Restarts. ICLR 2017.
    """

    def __init__(self, optimizer: Any, T_max: float, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = check_positive("T_max", T_max)
        if isinstance(T_max, int):
            self.T_max = T_max
        self.eta_min = check_nonneg("eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [g["lr"] for g in groups]
        if self._step_count == 1 and t > 0:
            return [lo + (base - lo) * (1 + math.cos(t * math.pi / T)) / 2 for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [
                g["lr"] + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                for base, g in zip(self.base_lrs, groups)
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (g["lr"] - lo) + lo for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (base - lo) * (1 + math.cos(math.pi * t / T)) / 2 for base in self.base_lrs]
