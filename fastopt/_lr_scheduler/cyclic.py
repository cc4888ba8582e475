r"""Cyclical schedulers: :class:`CyclicLR`, :class:`OneCycleLR` (both can
cycle SGD's ``momentum`` or Adam's ``betas[0]`` inversely to the learning
rate) and :class:`CosineAnnealingWarmRestarts`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..schedules._validation import (
    check_bool,
    check_choice,
    check_int,
    check_nonneg,
    check_positive,
    check_range,
)
from ..schedules.cyclic import CYCLIC_MODES, check_one_cycle
from .base import (
    LRScheduler,
    callable_state,
    get_momentum,
    momentum_key,
    param_groups,
    per_group,
    set_momentum,
)

__all__ = ["CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts"]


def _momentum_key_or_raise(optimizer: Any) -> str:
    key = momentum_key(optimizer)
    if key is None:
        raise ValueError(
            "cycle_momentum=True needs an optimizer with 'momentum' or 'betas' in its"
            " defaults or param groups; pass cycle_momentum=False"
        )
    return key


class _MomentumStateMixin:
    """Write cycled momenta back into the groups on load_state_dict."""

    cycle_momentum: bool
    optimizer: Any

    def _restore_groups(self) -> None:
        LRScheduler._restore_groups(self)  # type: ignore[arg-type]
        last = getattr(self, "_last_momentum", None)
        if self.cycle_momentum and last is not None:
            for group, m in zip(param_groups(self.optimizer), last):
                set_momentum(group, self._momentum_key, m)

    def _record_momentum(self) -> None:
        self._last_momentum = [
            get_momentum(g, self._momentum_key) for g in param_groups(self.optimizer)
        ]


class CyclicLR(_MomentumStateMixin, LRScheduler):
    r"""Cyclical learning rate (Smith, 2017), stepped every batch; optionally
    cycles the momentum inversely.

    With cycle length :math:`L = s_{up} + s_{down}`, :math:`r = s_{up}/L`,
    :math:`c = \lfloor 1 + t/L \rfloor`, :math:`x = 1 + t/L - c` and
    :math:`f = x/r` if :math:`x \le r` else :math:`(x - 1)/(r - 1)`:

    .. math::
        \eta_t = \eta_{base} + (\eta_{max} - \eta_{base})\, f\, g, \qquad
        \mu_t = \mu_{max} - (\mu_{max} - \mu_{base})\, f\, g

    where :math:`g` is 1 (``triangular``), :math:`2^{1-c}` (``triangular2``),
    :math:`\gamma^t` (``exp_range``) or ``scale_fn`` of :math:`c` or
    :math:`t`. The functional form is :class:`fastopt.schedules.Cyclic`.

    Args:
        optimizer: the optimizer.
        base_lr (float | list): :math:`\eta_{base}`, per group or one.
        max_lr (float | list): :math:`\eta_{max}`, per group or one.
        step_size_up (int): :math:`s_{up} > 0` (default: 2000).
        step_size_down (int | None): :math:`s_{down} > 0`, or None for
            ``step_size_up`` (default: None).
        mode (str): ``"triangular"``, ``"triangular2"`` or ``"exp_range"``
            (default: ``"triangular"``).
        gamma (float): :math:`\gamma` for ``exp_range`` (default: 1.0).
        scale_fn (callable | None): custom :math:`g`, called with a Python
            number (default: None).
        scale_mode (str): ``"cycle"`` or ``"iterations"`` (default:
            ``"cycle"``).
        cycle_momentum (bool): also cycle ``momentum`` / ``betas[0]``
            (default: True).
        base_momentum (float | list): :math:`\mu_{base}` (default: 0.8).
        max_momentum (float | list): :math:`\mu_{max}` (default: 0.9).
        last_epoch (int): the last step taken (default: -1).

    References:
        Smith. Cyclical Learning Rates for Training Neural Networks. WACV 2017.
    """

    _not_state = ("optimizer", "_scale_fn_custom")

    def __init__(
        self,
        optimizer: Any,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        groups = param_groups(optimizer)
        self.optimizer = optimizer
        base_lrs = [check_nonneg("base_lr", v) for v in per_group("base_lr", optimizer, base_lr)]
        if last_epoch == -1:
            for lr, group in zip(base_lrs, groups):
                group["lr"] = lr
        self.max_lrs = [check_nonneg("max_lr", v) for v in per_group("max_lr", optimizer, max_lr)]
        up = check_positive("step_size_up", step_size_up)
        down = up if step_size_down is None else check_positive("step_size_down", step_size_down)
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None:
            check_choice("mode", mode, CYCLIC_MODES)
        elif not callable(scale_fn):
            raise TypeError(f"scale_fn must be callable, got {scale_fn!r}")
        self.mode = mode
        self.gamma = check_positive("gamma", gamma)
        self._scale_fn_custom = scale_fn
        self.scale_mode = check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
        if scale_fn is None:
            self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            self._momentum_key = _momentum_key_or_raise(optimizer)
            self.base_momentums = [
                check_range("base_momentum", v, 0.0, 1.0)
                for v in per_group("base_momentum", optimizer, base_momentum)
            ]
            self.max_momentums = [
                check_range("max_momentum", v, 0.0, 1.0)
                for v in per_group("max_momentum", optimizer, max_momentum)
            ]
            if last_epoch == -1:
                for hi, lo, group in zip(self.max_momentums, self.base_momentums, groups):
                    set_momentum(group, self._momentum_key, hi)
                    group["max_momentum"] = hi
                    group["base_momentum"] = lo
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude scale :math:`g` at ``x`` (a cycle number or a step)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            f = x / self.step_ratio
        else:
            f = (x - 1) / (self.step_ratio - 1)
        g = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * f * g for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, lo, hi in zip(param_groups(self.optimizer), self.base_momentums, self.max_momentums):
                set_momentum(group, self._momentum_key, hi - (hi - lo) * f * g)
            self._record_momentum()
        return lrs

    def state_dict(self) -> dict[str, Any]:
        state = LRScheduler.state_dict(self)
        fn = self._scale_fn_custom
        state["_scale_fn_custom"] = None if fn is None else callable_state(fn)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        LRScheduler.load_state_dict(self, state_dict)
        saved = state_dict.get("_scale_fn_custom")
        if saved is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(saved)


class OneCycleLR(_MomentumStateMixin, LRScheduler):
    r"""The 1cycle policy (Smith & Topin, 2017), stepped every batch, with
    PyTorch's phases; optionally cycles the momentum inversely.

    Each group gets ``initial_lr`` :math:`= \eta_{max}/d`, ``max_lr``
    :math:`= \eta_{max}` and ``min_lr`` :math:`= \eta_{max}/(d\, d_{final})`.
    Phase :math:`i` runs from step :math:`e_{i-1}` to :math:`e_i`
    (:math:`e_{-1} = 0`), with :math:`e_0 = p T - 1`, then
    :math:`e_1 = T - 1`, or :math:`e_1 = 2 p T - 2`, :math:`e_2 = T - 1` for
    ``three_phase``; with :math:`\rho = (t - e_{i-1}) / (e_i - e_{i-1})` the
    value goes from :math:`a` to :math:`b` as

    .. math::
        \text{cos: } b + \frac{a - b}{2}(\cos \pi \rho + 1), \qquad
        \text{linear: } (b - a)\rho + a

    through :math:`\eta_{init} \to \eta_{max} \to \eta_{min}` (or
    :math:`\eta_{init} \to \eta_{max} \to \eta_{init} \to \eta_{min}`), and
    the momentum through :math:`\mu_{max} \to \mu_{base} \to \mu_{max}`. The
    functional forms are :class:`fastopt.schedules.OneCycle` and
    :class:`fastopt.schedules.OneCycleMomentum`.

    Args:
        optimizer: the optimizer.
        max_lr (float | list): :math:`\eta_{max}`, per group or one.
        total_steps (int | None): :math:`T`; or give ``epochs`` and
            ``steps_per_epoch`` (default: None).
        epochs (int | None): epochs (default: None).
        steps_per_epoch (int | None): steps per epoch (default: None).
        pct_start (float): :math:`p`, fraction of steps increasing
            (default: 0.3).
        anneal_strategy (str): ``"cos"`` or ``"linear"`` (default: ``"cos"``).
        cycle_momentum (bool): also cycle ``momentum`` / ``betas[0]``
            (default: True).
        base_momentum (float | list): :math:`\mu_{base}` (default: 0.85).
        max_momentum (float | list): :math:`\mu_{max}` (default: 0.95).
        div_factor (float): :math:`d > 0` (default: 25.0).
        final_div_factor (float): :math:`d_{final} > 0` (default: 1e4).
        three_phase (bool): the three-phase variant (default: False).
        last_epoch (int): the last step taken (default: -1).

    Raises:
        ValueError: when stepped more than ``total_steps`` times.

    References:
        Smith & Topin. Super-Convergence. 2017.
    """

    def __init__(
        self,
        optimizer: Any,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        groups = param_groups(optimizer)
        self.optimizer = optimizer
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("total_steps, or both epochs and steps_per_epoch, must be given")
            epochs = check_int("epochs", epochs, minimum=1)
            steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, minimum=1)
            total_steps = epochs * steps_per_epoch
        self.total_steps, pct_start, ends = check_one_cycle(
            total_steps, pct_start, anneal_strategy, three_phase
        )
        self.anneal_strategy = anneal_strategy
        self._phase_ends = ends
        if three_phase:
            self._phase_keys = [
                ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
                ("initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phase_keys = [
                ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                ("max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        div_factor = check_positive("div_factor", div_factor)
        final_div_factor = check_positive("final_div_factor", final_div_factor)
        max_lrs = [check_nonneg("max_lr", v) for v in per_group("max_lr", optimizer, max_lr)]
        if last_epoch == -1:
            for top, group in zip(max_lrs, groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            self._momentum_key = _momentum_key_or_raise(optimizer)
            his = [
                check_range("max_momentum", v, 0.0, 1.0)
                for v in per_group("max_momentum", optimizer, max_momentum)
            ]
            los = [
                check_range("base_momentum", v, 0.0, 1.0)
                for v in per_group("base_momentum", optimizer, base_momentum)
            ]
            if last_epoch == -1:
                for hi, lo, group in zip(his, los, groups):
                    set_momentum(group, self._momentum_key, hi)
                    group["max_momentum"] = hi
                    group["base_momentum"] = lo
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR was stepped {t} times but total_steps is {self.total_steps}"
            )
        begin = 0.0
        last = len(self._phase_ends) - 1
        for i, end in enumerate(self._phase_ends):
            if t <= end or i == last:
                pct = (t - begin) / (end - begin)
                keys = self._phase_keys[i]
                break
            begin = end
        lrs = []
        for group in param_groups(self.optimizer):
            lrs.append(self._anneal(group[keys[0]], group[keys[1]], pct))
            if self.cycle_momentum:
                m = self._anneal(group[keys[2]], group[keys[3]], pct)
                set_momentum(group, self._momentum_key, m)
        if self.cycle_momentum:
            self._record_momentum()
        return lrs


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter, 2017).

    .. math::
        \eta_t = \eta_{min} + (\eta_0 - \eta_{min})
                 \frac{1 + \cos(\pi T_{cur} / T_i)}{2}

    where :math:`T_{cur}` counts steps (or fractional epochs) since the last
    restart and :math:`T_i = T_0 T_{mult}^i`. :meth:`step` accepts a
    fractional ``epoch`` (e.g. ``epoch + i / iters``) as PyTorch does. The
    functional form, which adds a peak decay per restart, is
    :class:`fastopt.schedules.SGDR`.

    Args:
        optimizer: the optimizer.
        T_0 (int): :math:`T_0 \ge 1`, steps until the first restart.
        T_mult (int): :math:`T_{mult} \ge 1`, period growth (default: 1).
        eta_min (float): :math:`\eta_{min} \ge 0` (default: 0.0).
        last_epoch (int): the last step taken (default: -1).

    References:
        Loshchilov & Hutter. SGDR: Stochastic Gradient Descent with Warm
        Restarts. ICLR 2017.
    """

    def __init__(
        self, optimizer: Any, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_0 = check_int("T_0", T_0, minimum=1)
        self.T_i = self.T_0
        self.T_mult = check_int("T_mult", T_mult, minimum=1)
        self.eta_min = check_nonneg("eta_min", eta_min)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        c = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * c / 2 for base in self.base_lrs]

    def _restart_index(self, epoch: float) -> int:
        """Index :math:`n` of the period containing ``epoch >= T_0``."""
        q = self.T_mult - 1
        n = int(math.log(epoch / self.T_0 * q + 1, self.T_mult))
        # math.log can land one off at exact restart epochs: correct it.
        while n > 0 and self.T_0 * (self.T_mult**n - 1) / q > epoch:
            n -= 1
        while self.T_0 * (self.T_mult ** (n + 1) - 1) / q <= epoch:
            n += 1
        return n

    def step(self, epoch: float | None = None) -> None:
        """Advance one step, or jump to ``epoch`` (may be fractional).

        Args:
            epoch (float | None): the epoch to set, ``>= 0`` (default: None).
        """
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if isinstance(epoch, bool) or not math.isfinite(epoch) or epoch < 0:
                raise ValueError(f"epoch must be a non-negative finite number, got {epoch!r}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = self._restart_index(epoch)
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        groups = param_groups(self.optimizer)
        for group, lr in zip(groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in groups]
