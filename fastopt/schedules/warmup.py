r"""Warm-up: in front of any schedule, and the warm-up schedules of the
literature (cosine with warm-up, warm-up + multi-step, Noam, warm-up /
stable / decay).

References:
    * P. Goyal et al. Accurate, Large Minibatch SGD: Training ImageNet in 1
      Hour. 2017. https://arxiv.org/abs/1706.02677
    * A. Vaswani et al. Attention Is All You Need. NeurIPS 2017.
      https://arxiv.org/abs/1706.03762
    * C. Xing, D. Arpit, C. Tsirigotis, Y. Bengio. A Walk with SGD. 2018.
      https://arxiv.org/abs/1802.08770
    * A. Hägele et al. Scaling Laws and Compute-Optimal Training Beyond Fixed
      Training Durations. NeurIPS 2024. https://arxiv.org/abs/2405.18392
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._kernels import cos_anneal
from ._validation import (
    check_bool,
    check_choice,
    check_nonneg,
    check_positive,
    check_range,
)
from .base import Schedule, as_schedule
from .decay import MultiStepDecay

__all__ = ["Warmup", "WarmupCosineDecay", "WarmupMultiStep", "WarmupStableDecay", "Noam"]

WARMUP_MODES = ("linear", "constant")
DECAY_SHAPES = ("linear", "cosine", "1-sqrt")


class Warmup(Schedule):
    r"""Put a warm-up of ``warmup_steps`` steps in front of any schedule
    (Goyal et al., 2017).

    The warm-up factor is :math:`w_t = f_0 + (1 - f_0)\, t / W` (``linear``,
    gradual warm-up) or :math:`w_t = f_0` (``constant``). With ``shift=True``
    the schedule :math:`s` starts after the warm-up, which ramps towards its
    first value:

    .. math:: \eta_t = \begin{cases} w_t\, s(0) & t < W \\ s(t - W) & t \ge W \end{cases}

    With ``shift=False`` the warm-up multiplies the schedule's own first
    steps (the Goyal et al. / Detectron form, e.g. milestones counted from
    step 0):

    .. math:: \eta_t = \begin{cases} w_t\, s(t) & t < W \\ s(t) & t \ge W \end{cases}

    Args:
        schedule (Schedule | float): the schedule to warm up.
        warmup_steps (float): :math:`W \ge 0`.
        start_factor (float): :math:`f_0 \in [0, 1]`, the fraction of the
            target value at step 0; must be positive for ``constant``
            (default: 0.0).
        mode (str): ``"linear"`` or ``"constant"`` (default: ``"linear"``).
        shift (bool): start the schedule after the warm-up (default: True).

    Raises:
        ValueError: with ``shift=False``, if ``warmup_steps`` exceeds the
            schedule's length (its ``horizon``).

    References:
        Goyal et al. Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour.
        2017.
    """

    def __init__(
        self,
        schedule: Schedule | float,
        warmup_steps: float,
        start_factor: float = 0.0,
        mode: str = "linear",
        shift: bool = True,
    ) -> None:
        self.schedule = as_schedule(schedule)
        self.warmup_steps = check_nonneg("warmup_steps", warmup_steps)
        self.start_factor = check_range("start_factor", start_factor, 0.0, 1.0)
        self.mode = check_choice("mode", mode, WARMUP_MODES)
        self.shift = check_bool("shift", shift)
        if mode == "constant" and self.start_factor == 0.0:
            raise ValueError("start_factor must be > 0 with mode='constant' (0 would freeze training)")
        horizon = self.schedule.horizon
        if not shift and horizon is not None and horizon > 0 and self.warmup_steps > horizon:
            raise ValueError(
                f"warmup_steps ({warmup_steps!r}) is longer than the schedule it warms up"
                f" (which ends at step {horizon!r})"
            )
        self.quantity = self.schedule.quantity

    @property
    def horizon(self) -> float | None:
        h = self.schedule.horizon
        if h is None:
            return None
        return h + self.warmup_steps if self.shift else max(h, self.warmup_steps)

    def _factor(self, t: np.ndarray) -> np.ndarray:
        if self.mode == "constant":
            return np.full(t.shape, self.start_factor)
        return self.start_factor + (1.0 - self.start_factor) * (t / self.warmup_steps)

    def _value(self, t: np.ndarray) -> np.ndarray:
        w = self.warmup_steps
        warm = t < w
        if not warm.any():
            return self.schedule._value(t - w if self.shift else t)
        out = np.empty_like(t)
        tw = t[warm]
        if self.shift:
            target = self.schedule._value(np.zeros(1))[0]
        else:
            target = self.schedule._value(tw)
        out[warm] = self._factor(tw) * target
        rest = ~warm
        if rest.any():
            tr = t[rest]
            out[rest] = self.schedule._value(tr - w if self.shift else tr)
        return out


class WarmupCosineDecay(Schedule):
    r"""Linear warm-up to a peak, then half-cosine decay to an end value.

    .. math::
        \eta_t = \begin{cases}
          \eta_0 + (\eta_{peak} - \eta_0)\, t / W & t < W \\
          \eta_{end} + (\eta_{peak} - \eta_{end})\,
            \frac{1 + \cos(\pi (\min(t, T) - W) / (T - W))}{2} & t \ge W
        \end{cases}

    Args:
        peak_value (float): :math:`\eta_{peak} \ge 0`.
        warmup_steps (float): :math:`W \in [0, T]`.
        total_steps (float): :math:`T > 0`, where the decay ends.
        init_value (float): :math:`\eta_0 \ge 0` (default: 0.0).
        end_value (float): :math:`\eta_{end} \ge 0` (default: 0.0).

    References:
        Goyal et al. 2017 (warm-up); Loshchilov & Hutter, SGDR, ICLR 2017
        (cosine).
    """

    def __init__(
        self,
        peak_value: float,
        warmup_steps: float,
        total_steps: float,
        init_value: float = 0.0,
        end_value: float = 0.0,
    ) -> None:
        self.peak_value = check_nonneg("peak_value", peak_value)
        self.warmup_steps = check_nonneg("warmup_steps", warmup_steps)
        self.total_steps = check_positive("total_steps", total_steps)
        if self.warmup_steps > self.total_steps:
            raise ValueError(
                f"warmup_steps ({warmup_steps!r}) must not exceed total_steps ({total_steps!r})"
            )
        self.init_value = check_nonneg("init_value", init_value)
        self.end_value = check_nonneg("end_value", end_value)

    @property
    def horizon(self) -> float:
        return self.total_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        w, total = self.warmup_steps, self.total_steps
        span = total - w
        if span > 0.0:
            # In-place arithmetic: this is the hot path of the 1M-step benchmark.
            p = np.subtract(t, w)
            np.clip(p, 0.0, span, out=p)
            p /= span
            out = cos_anneal(p)
            out *= self.peak_value - self.end_value
            out += self.end_value
        else:
            out = np.full(t.shape, self.end_value)
        if w > 0.0:
            warm = t < w
            if warm.any():
                tw = t[warm]
                out[warm] = self.init_value + (self.peak_value - self.init_value) * (tw / w)
        return out


class WarmupMultiStep(Warmup):
    r"""Warm-up followed by multi-step decay, milestones counted from step 0
    (Goyal et al., 2017).

    .. math::
        \eta_t = \eta_0\, \gamma^{\#\{i \,:\, m_i \le t\}}\, w_t, \qquad
        w_t = \begin{cases} f_0 + (1 - f_0)\, t / W \text{ (linear) or } f_0
              \text{ (constant)} & t < W \\ 1 & t \ge W \end{cases}

    Args:
        init_value (float): :math:`\eta_0 \ge 0`, the value after warm-up.
        milestones (sequence of float): strictly increasing steps.
        gamma (float): :math:`\gamma \ge 0` (default: 0.1).
        warmup_steps (float): :math:`W \ge 0`, at most the last milestone
            (default: 5).
        start_factor (float): :math:`f_0 \in [0, 1]` (default: 0.1).
        mode (str): ``"linear"`` or ``"constant"`` (default: ``"linear"``).

    References:
        Goyal et al. Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour.
        2017.
    """

    def __init__(
        self,
        init_value: float,
        milestones: Sequence[float],
        gamma: float = 0.1,
        warmup_steps: float = 5.0,
        start_factor: float = 0.1,
        mode: str = "linear",
    ) -> None:
        inner = MultiStepDecay(init_value, milestones, gamma)
        super().__init__(inner, warmup_steps, start_factor, mode, shift=False)
        self.init_value = inner.init_value
        self.milestones = inner.milestones
        self.gamma = inner.gamma


class WarmupStableDecay(Schedule):
    r"""Warm-up / stable / decay ("trapezoid") schedule (Xing et al., 2018;
    Hägele et al., 2024): a linear warm-up over :math:`W` steps, a long
    plateau at the peak, and a cool-down over the last :math:`D` steps.

    With :math:`s = \mathrm{clip}((t - (T - D)) / D, 0, 1)` and the shape
    :math:`h(s) = s` (``linear``), :math:`\tfrac12(1 - \cos \pi s)`
    (``cosine``) or :math:`\sqrt{s}` (``1-sqrt``):

    .. math::
        \eta_t = \begin{cases}
          \eta_0 + (\eta_{peak} - \eta_0)\, t / W & t < W \\
          \eta_{peak} + (\eta_{end} - \eta_{peak})\, h(s) & t \ge W
        \end{cases}

    Args:
        peak_value (float): :math:`\eta_{peak} \ge 0`.
        total_steps (float): :math:`T > 0`.
        warmup_steps (float): :math:`W \ge 0`.
        decay_steps (float): :math:`D > 0`, with :math:`W + D \le T`.
        init_value (float): :math:`\eta_0 \ge 0` (default: 0.0).
        end_value (float): :math:`\eta_{end} \ge 0` (default: 0.0).
        decay_shape (str): ``"linear"``, ``"cosine"`` or ``"1-sqrt"``
            (default: ``"linear"``).

    References:
        Xing, Arpit, Tsirigotis, Bengio. A Walk with SGD. 2018; Hägele et al.
        Scaling Laws and Compute-Optimal Training Beyond Fixed Training
        Durations. NeurIPS 2024 (the 1-sqrt cool-down).
    """

    def __init__(
        self,
        peak_value: float,
        total_steps: float,
        warmup_steps: float,
        decay_steps: float,
        init_value: float = 0.0,
        end_value: float = 0.0,
        decay_shape: str = "linear",
    ) -> None:
        self.peak_value = check_nonneg("peak_value", peak_value)
        self.total_steps = check_positive("total_steps", total_steps)
        self.warmup_steps = check_nonneg("warmup_steps", warmup_steps)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise ValueError(
                f"warmup_steps + decay_steps ({warmup_steps!r} + {decay_steps!r}) must not"
                f" exceed total_steps ({total_steps!r})"
            )
        self.init_value = check_nonneg("init_value", init_value)
        self.end_value = check_nonneg("end_value", end_value)
        self.decay_shape = check_choice("decay_shape", decay_shape, DECAY_SHAPES)

    @property
    def horizon(self) -> float:
        return self.total_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        start = self.total_steps - self.decay_steps
        s = np.clip((t - start) / self.decay_steps, 0.0, 1.0)
        if self.decay_shape == "cosine":
            out = self.end_value + (self.peak_value - self.end_value) * cos_anneal(s)
        else:
            h = s if self.decay_shape == "linear" else np.sqrt(s)
            out = self.peak_value + (self.end_value - self.peak_value) * h
        w = self.warmup_steps
        if w > 0.0:
            warm = t < w
            if warm.any():
                tw = t[warm]
                out[warm] = self.init_value + (self.peak_value - self.init_value) * (tw / w)
        return out


class Noam(Schedule):
    r"""The Transformer's warm-up + inverse-square-root schedule (Vaswani et
    al., 2017), often called "Noam".

    .. math::
        \eta_t = \text{scale} \cdot d_{model}^{-1/2}
                 \min\!\left(t^{-1/2},\; t \cdot W^{-3/2}\right)

    The paper counts steps from 1; step 0 gives 0. Use ``Shift(Noam(...), 1)``
    to start at the paper's step 1.

    Args:
        d_model (float): :math:`d_{model} > 0`, the model width.
        warmup_steps (float): :math:`W > 0` (default: 4000).
        scale (float): a factor :math:`\ge 0` (default: 1.0).

    References:
        Vaswani et al. Attention Is All You Need. NeurIPS 2017, eq. (3).
    """

    def __init__(self, d_model: float, warmup_steps: float = 4000.0, scale: float = 1.0) -> None:
        self.d_model = check_positive("d_model", d_model)
        self.warmup_steps = check_positive("warmup_steps", warmup_steps)
        self.scale = check_nonneg("scale", scale)

    def _value(self, t: np.ndarray) -> np.ndarray:
        factor = self.scale * self.d_model**-0.5
        with np.errstate(divide="ignore"):
            decay = 1.0 / np.sqrt(t)
        return factor * np.minimum(decay, t * self.warmup_steps**-1.5)
