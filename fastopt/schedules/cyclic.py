r"""Cyclical schedules: cyclical learning rates, the 1cycle policy and slanted
triangular learning rates.

References:
    * L. N. Smith. Cyclical Learning Rates for Training Neural Networks. WACV
      2017. https://arxiv.org/abs/1506.01186
    * L. N. Smith, N. Topin. Super-Convergence: Very Fast Training of Neural
      Networks Using Large Learning Rates. 2017.
      https://arxiv.org/abs/1708.07120
    * L. N. Smith. A disciplined approach to neural network hyper-parameters:
      Part 1. 2018. https://arxiv.org/abs/1803.09820
    * J. Howard, S. Ruder. Universal Language Model Fine-tuning for Text
      Classification. ACL 2018. https://arxiv.org/abs/1801.06146
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ._kernels import cos_anneal
from ._validation import (
    check_at_least,
    check_bool,
    check_choice,
    check_int,
    check_nonneg,
    check_positive,
    check_range,
)
from .base import Schedule

__all__ = ["Cyclic", "OneCycle", "SlantedTriangular", "one_cycle_phase_ends"]

CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
ANNEAL_STRATEGIES = ("cos", "linear")


class Cyclic(Schedule):
    r"""Cyclical values between two bounds (Smith, 2017).

    With cycle length :math:`L = s_{up} + s_{down}`, ratio
    :math:`r = s_{up} / L`, cycle number :math:`c = \lfloor 1 + t / L \rfloor`
    and position :math:`x = 1 + t / L - c \in [0, 1)`:

    .. math::
        f = \begin{cases} x / r & x \le r \\ (x - 1) / (r - 1) & x > r \end{cases},
        \qquad
        \eta_t = \eta_{base} + (\eta_{max} - \eta_{base})\, f\, g

    where the amplitude scale :math:`g` is :math:`1` (``triangular``),
    :math:`2^{-(c-1)}` (``triangular2``), :math:`\gamma^t` (``exp_range``) or
    ``scale_fn`` applied to :math:`c` or :math:`t` (``scale_mode``).

    ``base_value`` may exceed ``max_value``: a momentum that cycles inversely
    to the learning rate is ``Cyclic(max_momentum, base_momentum, ...)``.

    Args:
        base_value (float): :math:`\eta_{base} \ge 0`, the value at the start
            of each cycle.
        max_value (float): :math:`\eta_{max} \ge 0`, the value at the turn.
        step_size_up (float): :math:`s_{up} > 0` (default: 2000).
        step_size_down (float | None): :math:`s_{down} > 0`; ``None`` means
            ``step_size_up`` (default: None).
        mode (str): ``"triangular"``, ``"triangular2"`` or ``"exp_range"``
            (default: ``"triangular"``); ignored when ``scale_fn`` is given.
        gamma (float): :math:`\gamma > 0` for ``exp_range`` (default: 1.0).
        scale_fn (callable | None): custom amplitude scale; must accept a
            float64 array (default: None).
        scale_mode (str): ``"cycle"`` or ``"iterations"``, the argument of
            ``scale_fn`` (default: ``"cycle"``).

    References:
        Smith. Cyclical Learning Rates for Training Neural Networks. WACV 2017.
    """

    def __init__(
        self,
        base_value: float,
        max_value: float,
        step_size_up: float = 2000.0,
        step_size_down: float | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[np.ndarray], np.ndarray] | None = None,
        scale_mode: str = "cycle",
    ) -> None:
        self.base_value = check_nonneg("base_value", base_value)
        self.max_value = check_nonneg("max_value", max_value)
        self.step_size_up = check_positive("step_size_up", step_size_up)
        self.step_size_down = (
            None if step_size_down is None else check_positive("step_size_down", step_size_down)
        )
        if scale_fn is None:
            check_choice("mode", mode, CYCLIC_MODES)
        elif not callable(scale_fn):
            raise TypeError(f"scale_fn must be callable, got {scale_fn!r}")
        self.mode = mode
        self.gamma = check_positive("gamma", gamma)
        self.scale_fn = scale_fn
        self.scale_mode = check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
        down = self.step_size_up if self.step_size_down is None else self.step_size_down
        self._total = self.step_size_up + down
        self._ratio = self.step_size_up / self._total

    def _scale(self, cycle: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self.scale_fn is not None:
            arg = cycle if self.scale_mode == "cycle" else t
            return np.asarray(self.scale_fn(arg), dtype=np.float64)
        if self.mode == "triangular":
            return np.ones_like(t)
        if self.mode == "triangular2":
            return np.power(0.5, cycle - 1.0)  # = 1 / 2**(c-1), exactly
        return np.power(self.gamma, t)

    def _value(self, t: np.ndarray) -> np.ndarray:
        cycle = np.floor(1.0 + t / self._total)
        x = 1.0 + t / self._total - cycle
        r = self._ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(x <= r, x / r, (x - 1.0) / (r - 1.0))
        height = (self.max_value - self.base_value) * f
        return self.base_value + height * self._scale(cycle, t)


def one_cycle_phase_ends(total_steps: int, pct_start: float, three_phase: bool) -> list[float]:
    """The last step of each phase of the 1cycle policy (as in PyTorch)."""
    if three_phase:
        return [
            float(pct_start * total_steps) - 1.0,
            float(2 * pct_start * total_steps) - 2.0,
            float(total_steps - 1),
        ]
    return [float(pct_start * total_steps) - 1.0, float(total_steps - 1)]


def check_one_cycle(
    total_steps: int, pct_start: float, anneal_strategy: str, three_phase: bool
) -> tuple[int, float, list[float]]:
    """Validate the 1cycle arguments shared by :class:`OneCycle`,
    :class:`~fastopt.schedules.momentum.OneCycleMomentum` and
    :class:`fastopt.lr_scheduler.OneCycleLR`; return the phase ends."""
    total_steps = check_int("total_steps", total_steps, minimum=1)
    pct_start = check_range("pct_start", pct_start, 0.0, 1.0)
    check_choice("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
    check_bool("three_phase", three_phase)
    ends = one_cycle_phase_ends(total_steps, pct_start, three_phase)
    begin = 0.0
    for end in ends:
        if not end > begin:
            raise ValueError(
                f"pct_start={pct_start!r} with total_steps={total_steps} gives a phase"
                f" from step {begin} to step {end}; every phase must be longer than 0 steps"
            )
        begin = end
    return total_steps, pct_start, ends


def phase_anneal(
    t: np.ndarray,
    ends: Sequence[float],
    starts: Sequence[float],
    targets: Sequence[float],
    strategy: str,
) -> np.ndarray:
    r"""Anneal phase by phase: in phase :math:`i` (steps after
    :math:`e_{i-1}` up to :math:`e_i`, :math:`e_{-1} = 0`), with
    :math:`p = (t - e_{i-1}) / (e_i - e_{i-1})`, go from ``starts[i]`` to
    ``targets[i]`` by a half cosine or a straight line. Steps past the last
    end continue the last phase."""
    ends_a = np.asarray(ends, dtype=np.float64)
    idx = np.minimum(np.searchsorted(ends_a, t, side="left"), len(ends_a) - 1)
    begin = np.concatenate(([0.0], ends_a[:-1]))[idx]
    pct = (t - begin) / (ends_a[idx] - begin)
    a = np.asarray(starts, dtype=np.float64)[idx]
    b = np.asarray(targets, dtype=np.float64)[idx]
    if strategy == "cos":
        return b + (a - b) * cos_anneal(pct)
    return (b - a) * pct + a


class OneCycle(Schedule):
    r"""The 1cycle learning-rate policy (Smith & Topin, 2017), with PyTorch's
    phase boundaries.

    With :math:`\eta_{init} = \eta_{max} / d` and
    :math:`\eta_{min} = \eta_{init} / d_{final}`, the value anneals from
    :math:`\eta_{init}` to :math:`\eta_{max}` until step
    :math:`e_0 = p_{start} T - 1`, then down to :math:`\eta_{min}` at step
    :math:`T - 1` (two phases); with ``three_phase`` it goes back to
    :math:`\eta_{init}` at :math:`e_1 = 2 p_{start} T - 2` and then to
    :math:`\eta_{min}`. Within a phase from :math:`a` to :math:`b` with
    progress :math:`p \in [0, 1]`:

    .. math::
        \text{cos: } b + \frac{a - b}{2}\,(1 + \cos \pi p), \qquad
        \text{linear: } a + (b - a)\, p

    Steps after :math:`T - 1` hold :math:`\eta_{min}`.

    Args:
        max_value (float): :math:`\eta_{max} \ge 0`.
        total_steps (int): :math:`T \ge 1`.
        pct_start (float): :math:`p_{start} \in [0, 1]`, the fraction of
            steps spent increasing (default: 0.3).
        anneal_strategy (str): ``"cos"`` or ``"linear"`` (default: ``"cos"``).
        div_factor (float): :math:`d > 0` (default: 25.0).
        final_div_factor (float): :math:`d_{final} > 0` (default: 1e4).
        three_phase (bool): use the three-phase variant (default: False).

    References:
        Smith & Topin. Super-Convergence. 2017; Smith. A disciplined approach
        to neural network hyper-parameters: Part 1. 2018.
    """

    def __init__(
        self,
        max_value: float,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        self.max_value = check_nonneg("max_value", max_value)
        self.total_steps, self.pct_start, self._ends = check_one_cycle(
            total_steps, pct_start, anneal_strategy, three_phase
        )
        self.anneal_strategy = anneal_strategy
        self.div_factor = check_positive("div_factor", div_factor)
        self.final_div_factor = check_positive("final_div_factor", final_div_factor)
        self.three_phase = three_phase
        init = self.max_value / self.div_factor
        low = init / self.final_div_factor
        if three_phase:
            self._starts = [init, self.max_value, init]
            self._targets = [self.max_value, init, low]
        else:
            self._starts = [init, self.max_value]
            self._targets = [self.max_value, low]

    @property
    def horizon(self) -> float:
        return float(self.total_steps - 1)

    def _value(self, t: np.ndarray) -> np.ndarray:
        t = np.minimum(t, self._ends[-1])
        return phase_anneal(t, self._ends, self._starts, self._targets, self.anneal_strategy)


class SlantedTriangular(Schedule):
    r"""Slanted triangular learning rates (Howard & Ruder, 2018): a short
    linear increase followed by a long linear decay.

    With :math:`c = \lfloor T \cdot \text{cut\_frac} \rfloor` and
    :math:`\tau = \min(t, T)`:

    .. math::
        p = \begin{cases}
            \tau / c & \tau < c \\
            1 - \dfrac{\tau - c}{c\,(1/\text{cut\_frac} - 1)} & \tau \ge c
        \end{cases},
        \qquad
        \eta_t = \eta_{max}\, \frac{1 + p\,(\text{ratio} - 1)}{\text{ratio}}

    Args:
        max_value (float): :math:`\eta_{max} \ge 0`.
        total_steps (float): :math:`T > 0`, the number of training steps.
        cut_frac (float): fraction of steps spent increasing, in (0, 1)
            (default: 0.1).
        ratio (float): how much smaller the lowest value is than the
            highest, ``>= 1`` (default: 32).

    References:
        Howard & Ruder. Universal Language Model Fine-tuning for Text
        Classification. ACL 2018.
    """

    def __init__(
        self,
        max_value: float,
        total_steps: float,
        cut_frac: float = 0.1,
        ratio: float = 32.0,
    ) -> None:
        self.max_value = check_nonneg("max_value", max_value)
        self.total_steps = check_positive("total_steps", total_steps)
        self.cut_frac = check_range("cut_frac", cut_frac, 0.0, 1.0, low_open=True, high_open=True)
        self.ratio = check_at_least("ratio", ratio, 1.0)
        self._cut = math.floor(self.total_steps * self.cut_frac)
        if self._cut < 1:
            raise ValueError(
                f"cut_frac * total_steps must be at least 1, got"
                f" cut_frac={cut_frac!r}, total_steps={total_steps!r}"
            )

    @property
    def horizon(self) -> float:
        return self.total_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        tau = np.minimum(t, self.total_steps)
        c = float(self._cut)
        down = 1.0 - (tau - c) / (c * (1.0 / self.cut_frac - 1.0))
        p = np.where(tau < c, tau / c, down)
        return self.max_value * (1.0 + p * (self.ratio - 1.0)) / self.ratio
