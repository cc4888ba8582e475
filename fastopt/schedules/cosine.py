r"""Cosine-shaped schedules: cosine decay, linear-cosine decay (with a noisy
variant) and SGDR warm restarts.

References:
    * I. Loshchilov, F. Hutter. SGDR: Stochastic Gradient Descent with Warm
      Restarts. ICLR 2017. https://arxiv.org/abs/1608.03983
    * I. Bello, B. Zoph, V. Vasudevan, Q. V. Le. Neural Optimizer Search with
      Reinforcement Learning. ICML 2017. https://arxiv.org/abs/1709.07417
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import cos_anneal
from ._validation import check_at_least, check_int, check_nonneg, check_positive, check_range
from .base import Schedule

__all__ = ["CosineDecay", "LinearCosineDecay", "NoisyLinearCosineDecay", "SGDR"]


class CosineDecay(Schedule):
    r"""Half-cosine decay from ``init_value`` to ``end_value`` over
    ``decay_steps`` steps, then constant (the closed form of
    :class:`torch.optim.lr_scheduler.CosineAnnealingLR` over its first half
    period).

    .. math:: \eta_t = \eta_{end} + (\eta_0 - \eta_{end})\,
              \frac{1 + \cos(\pi \min(t, T) / T)}{2}

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        decay_steps (float): :math:`T > 0`.
        end_value (float): :math:`\eta_{end} \ge 0` (default: 0.0).

    References:
        Loshchilov & Hutter, SGDR, ICLR 2017.
    """

    def __init__(self, init_value: float, decay_steps: float, end_value: float = 0.0) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.end_value = check_nonneg("end_value", end_value)

    @property
    def horizon(self) -> float:
        return self.decay_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        a = cos_anneal(np.minimum(t, self.decay_steps) / self.decay_steps)
        return self.end_value + (self.init_value - self.end_value) * a


def _linear_cosine_parts(
    t: np.ndarray, decay_steps: float, num_periods: float
) -> tuple[np.ndarray, np.ndarray]:
    g = np.minimum(t, decay_steps)
    linear = (decay_steps - g) / decay_steps
    cosine = 0.5 * (1.0 + np.cos(math.pi * 2.0 * num_periods * g / decay_steps))
    return linear, cosine


class LinearCosineDecay(Schedule):
    r"""Linear-cosine decay (Bello et al., 2017).

    With :math:`\tau = \min(t, T)`:

    .. math::
        \ell_t = \frac{T - \tau}{T}, \qquad
        c_t = \tfrac12\left(1 + \cos\!\left(2\pi n \frac{\tau}{T}\right)\right), \qquad
        \eta_t = \eta_0 \left((\alpha + \ell_t)\, c_t + \beta\right)

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        decay_steps (float): :math:`T > 0`.
        num_periods (float): :math:`n \ge 0`, cosine periods in the decay
            (default: 0.5).
        alpha (float): :math:`\alpha \ge 0` (default: 0.0).
        beta (float): :math:`\beta \ge 0`, the floor (default: 0.001).

    References:
        Bello, Zoph, Vasudevan, Le. Neural Optimizer Search with Reinforcement
        Learning. ICML 2017.
    """

    def __init__(
        self,
        init_value: float,
        decay_steps: float,
        num_periods: float = 0.5,
        alpha: float = 0.0,
        beta: float = 0.001,
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.num_periods = check_nonneg("num_periods", num_periods)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)

    @property
    def horizon(self) -> float:
        return self.decay_steps

    def _value(self, t: np.ndarray) -> np.ndarray:
        linear, cosine = _linear_cosine_parts(t, self.decay_steps, self.num_periods)
        return self.init_value * ((self.alpha + linear) * cosine + self.beta)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 output function, on uint64 arrays (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def step_normal(steps: np.ndarray, seed: int) -> np.ndarray:
    """Standard normal draws that are a pure function of ``(seed, floor(step))``.

    A counter-based generator (SplitMix64 hashing + Box-Muller), so that a
    value does not depend on which other steps are evaluated with it, or in
    which order: the scalar and the vectorized paths agree, and a resumed run
    sees the same noise.
    """
    with np.errstate(over="ignore"):
        key = np.floor(steps).astype(np.uint64) * np.uint64(2)
        salt = _splitmix64(np.array([seed], dtype=np.uint64))
        h1 = _splitmix64(key ^ salt)
        h2 = _splitmix64((key + np.uint64(1)) ^ salt)
    scale = 2.0**-53
    u1 = 1.0 - (h1 >> np.uint64(11)).astype(np.float64) * scale  # (0, 1]
    u2 = (h2 >> np.uint64(11)).astype(np.float64) * scale  # [0, 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


class NoisyLinearCosineDecay(Schedule):
    r"""Linear-cosine decay with decaying Gaussian noise on the linear term
    (Bello et al., 2017).

    With :math:`\ell_t, c_t` as in :class:`LinearCosineDecay` and
    :math:`\varepsilon_t \sim \mathcal N(0, \sigma_t^2)`:

    .. math::
        \sigma_t^2 = \frac{v_0}{(1 + \tau)^{d}}, \qquad
        \eta_t = \eta_0 \left((\alpha + \ell_t + \varepsilon_t)\, c_t + \beta\right)

    The noise is a deterministic function of ``(seed, floor(t))``: the same
    step always gets the same noise, in any order and in the scalar and
    vectorized paths alike.

    Args:
        init_value (float): :math:`\eta_0 \ge 0`.
        decay_steps (float): :math:`T > 0`.
        initial_variance (float): :math:`v_0 \ge 0` (default: 1.0).
        variance_decay (float): :math:`d \ge 0` (default: 0.55).
        num_periods (float): :math:`n \ge 0` (default: 0.5).
        alpha (float): :math:`\alpha \ge 0` (default: 0.0).
        beta (float): :math:`\beta \ge 0` (default: 0.001).
        seed (int): seed of the noise, ``>= 0`` (default: 0).

    References:
        Bello, Zoph, Vasudevan, Le. Neural Optimizer Search with Reinforcement
        Learning. ICML 2017.
    """

    def __init__(
        self,
        init_value: float,
        decay_steps: float,
        initial_variance: float = 1.0,
        variance_decay: float = 0.55,
        num_periods: float = 0.5,
        alpha: float = 0.0,
        beta: float = 0.001,
        seed: int = 0,
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.initial_variance = check_nonneg("initial_variance", initial_variance)
        self.variance_decay = check_nonneg("variance_decay", variance_decay)
        self.num_periods = check_nonneg("num_periods", num_periods)
        self.alpha = check_nonneg("alpha", alpha)
        self.beta = check_nonneg("beta", beta)
        self.seed = check_int("seed", seed, minimum=0)
        if self.seed >= 2**64:
            raise ValueError(f"seed must be < 2**64, got {seed!r}")

    def noise(self, t: np.ndarray) -> np.ndarray:
        """The noise :math:`\\varepsilon_t` added at steps ``t`` (an array)."""
        t = np.asarray(t, dtype=np.float64)
        g = np.minimum(t, self.decay_steps)
        std = np.sqrt(self.initial_variance / np.power(1.0 + g, self.variance_decay))
        return std * step_normal(t, self.seed)

    def _value(self, t: np.ndarray) -> np.ndarray:
        linear, cosine = _linear_cosine_parts(t, self.decay_steps, self.num_periods)
        return self.init_value * ((self.alpha + linear + self.noise(t)) * cosine + self.beta)


class SGDR(Schedule):
    r"""Cosine annealing with warm restarts (SGDR), with a period multiplier
    and a peak decay per restart (Loshchilov & Hutter, 2017).

    Restart :math:`i = 0, 1, \dots` starts at step :math:`s_i` and lasts
    :math:`T_i = T_0 T_{mult}^i` steps, so :math:`s_i = i T_0` when
    :math:`T_{mult} = 1` and :math:`s_i = T_0 (T_{mult}^i - 1) / (T_{mult} - 1)`
    otherwise. Within restart :math:`i`, with :math:`T_{cur} = t - s_i`:

    .. math::
        \eta_t = \eta_{min} + (\eta_0 \delta^i - \eta_{min})\,
                 \frac{1 + \cos(\pi T_{cur} / T_i)}{2}

    With ``decay=1`` and an integer ``T_mult`` this is the closed form of
    :class:`torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`.

    Args:
        init_value (float): :math:`\eta_0 \ge 0`, the first peak.
        T_0 (float): :math:`T_0 > 0`, the length of the first period.
        T_mult (float): :math:`T_{mult} \ge 1`, the period multiplier
            (default: 1).
        eta_min (float): :math:`\eta_{min} \ge 0`, the floor (default: 0.0).
        decay (float): :math:`\delta \in (0, 1]`, the factor applied to the
            peak at each restart (default: 1.0).

    References:
        Loshchilov & Hutter. SGDR: Stochastic Gradient Descent with Warm
        Restarts. ICLR 2017.
    """

    def __init__(
        self,
        init_value: float,
        T_0: float,
        T_mult: float = 1.0,
        eta_min: float = 0.0,
        decay: float = 1.0,
    ) -> None:
        self.init_value = check_nonneg("init_value", init_value)
        self.T_0 = check_positive("T_0", T_0)
        self.T_mult = check_at_least("T_mult", T_mult, 1.0)
        self.eta_min = check_nonneg("eta_min", eta_min)
        self.decay = check_range("decay", decay, 0.0, 1.0, low_open=True)

    def _start(self, i: np.ndarray) -> np.ndarray:
        if self.T_mult == 1.0:
            return i * self.T_0
        return self.T_0 * (np.power(self.T_mult, i) - 1.0) / (self.T_mult - 1.0)

    def cycle(self, t: np.ndarray) -> np.ndarray:
        """Index :math:`i` of the restart that step(s) ``t`` fall in (float array)."""
        t = np.asarray(t, dtype=np.float64)
        if self.T_mult == 1.0:
            return np.floor(t / self.T_0)
        q = self.T_mult - 1.0
        i = np.floor(np.log1p(t * q / self.T_0) / math.log(self.T_mult))
        # The logarithm may land one off at exact restart steps: correct it.
        i = np.where(t < self._start(i), i - 1.0, i)
        i = np.where(t >= self._start(i + 1.0), i + 1.0, i)
        return i

    def _value(self, t: np.ndarray) -> np.ndarray:
        i = self.cycle(t)
        t_cur = t - self._start(i)
        t_i = self.T_0 * np.power(self.T_mult, i)
        peak = self.init_value * np.power(self.decay, i)
        a = cos_anneal(np.clip(t_cur / t_i, 0.0, 1.0))
        return self.eta_min + (peak - self.eta_min) * a
