"""Tests of the functional schedules (fastopt.schedules).

Expectations are written from the formulas, one step at a time with the
``math`` module, independently of the vectorized implementation.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import fastopt.schedules as S
from fastopt.schedules import (
    SGDR,
    AnnealMomentum,
    Constant,
    CosineDecay,
    Cyclic,
    ExponentialDecay,
    FunctionSchedule,
    InverseMomentum,
    InverseTimeDecay,
    Join,
    Linear,
    LinearCosineDecay,
    MomentumSchedule,
    MultiStepDecay,
    NaturalExpDecay,
    Noam,
    NoisyLinearCosineDecay,
    OneCycle,
    OneCycleMomentum,
    PiecewiseConstant,
    PolynomialDecay,
    Product,
    Shift,
    SlantedTriangular,
    StepDecay,
    Sum,
    SutskeverMomentum,
    Warmup,
    WarmupCosineDecay,
    WarmupMultiStep,
    WarmupStableDecay,
    as_momentum,
    join,
)
from fastopt.schedules._kernels import cos_anneal
from fastopt.schedules.cosine import step_normal

INT_STEPS = np.arange(400, dtype=np.float64)
FRAC_STEPS = np.arange(0.0, 400.0, 0.37)
RTOL = 1e-12
ATOL = 1e-14

# ---------------------------------------------------------------------------
# Scalar reference formulas
# ---------------------------------------------------------------------------


def ref_cyclic(t, base, top, up, down=None, mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle"):
    down = up if down is None else down
    total = up + down
    ratio = up / total
    cycle = math.floor(1 + t / total)
    x = 1 + t / total - cycle
    f = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    if scale_fn is not None:
        g = scale_fn(cycle if scale_mode == "cycle" else t)
    elif mode == "triangular":
        g = 1.0
    elif mode == "triangular2":
        g = 1 / 2 ** (cycle - 1)
    else:
        g = gamma**t
    return base + (top - base) * f * g


def ref_phases(t, ends, starts, targets, strategy):
    begin = 0.0
    for i, end in enumerate(ends):
        if t <= end or i == len(ends) - 1:
            p = (t - begin) / (end - begin)
            a, b = starts[i], targets[i]
            if strategy == "cos":
                return b + (a - b) / 2 * (math.cos(math.pi * p) + 1)
            return a + (b - a) * p
        begin = end
    raise AssertionError


def ref_one_cycle(t, top, total, pct=0.3, strategy="cos", div=25.0, final_div=1e4, three=False):
    t = min(t, total - 1)
    init = top / div
    low = init / final_div
    if three:
        ends = [pct * total - 1, 2 * pct * total - 2, total - 1]
        return ref_phases(t, ends, [init, top, init], [top, init, low], strategy)
    return ref_phases(t, [pct * total - 1, total - 1], [init, top], [top, low], strategy)


def ref_one_cycle_momentum(t, total, pct=0.3, strategy="cos", lo=0.85, hi=0.95, three=False):
    t = min(t, total - 1)
    if three:
        ends = [pct * total - 1, 2 * pct * total - 2, total - 1]
        return ref_phases(t, ends, [hi, lo, hi], [lo, hi, hi], strategy)
    return ref_phases(t, [pct * total - 1, total - 1], [hi, lo], [lo, hi], strategy)


def ref_sgdr(t, init, t0, mult=1.0, eta_min=0.0, decay=1.0):
    start, length, i = 0.0, t0, 0
    while t >= start + length:
        start += length
        length *= mult
        i += 1
    peak = init * decay**i
    return eta_min + (peak - eta_min) * (1 + math.cos(math.pi * (t - start) / length)) / 2


def ref_slanted(t, top, total, cut_frac=0.1, ratio=32.0):
    t = min(t, total)
    cut = math.floor(total * cut_frac)
    p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return top * (1 + p * (ratio - 1)) / ratio


def ref_wsd(t, peak, total, warm, decay, init=0.0, end=0.0, shape="linear"):
    if t < warm:
        return init + (peak - init) * t / warm
    s = min(max((t - (total - decay)) / decay, 0.0), 1.0)
    if shape == "linear":
        return peak + (end - peak) * s
    if shape == "cosine":
        return end + (peak - end) * (1 + math.cos(math.pi * s)) / 2
    return end + (peak - end) * (1 - math.sqrt(s))


def ref_warmup_cosine(t, peak, warm, total, init=0.0, end=0.0):
    if t < warm:
        return init + (peak - init) * t / warm
    p = (min(t, total) - warm) / (total - warm)
    return end + (peak - end) * (1 + math.cos(math.pi * p)) / 2


def ref_linear_cosine(t, init, decay_steps, periods=0.5, alpha=0.0, beta=0.001, eps=0.0):
    g = min(t, decay_steps)
    linear = (decay_steps - g) / decay_steps
    cosine = 0.5 * (1 + math.cos(math.pi * 2 * periods * g / decay_steps))
    return init * ((alpha + linear + eps) * cosine + beta)


def ref_noam(t, d, warm, scale=1.0):
    if t == 0:
        return 0.0
    return scale * d**-0.5 * min(t**-0.5, t * warm**-1.5)


# (id, schedule, reference(t), supports fractional steps)
CLOSED_FORM = [
    ("constant", lambda: Constant(0.3), lambda t: 0.3),
    ("linear", lambda: Linear(1.0, 0.1, 250), lambda t: 1.0 + (0.1 - 1.0) * min(t / 250, 1.0)),
    (
        "linear-begin",
        lambda: Linear(0.0, 2.0, 100, transition_begin=50),
        lambda t: 2.0 * min(max((t - 50) / 100, 0.0), 1.0),
    ),
    ("step", lambda: StepDecay(0.5, 30, 0.5), lambda t: 0.5 * 0.5 ** math.floor(t / 30)),
    (
        "multistep",
        lambda: MultiStepDecay(1.0, [50, 120, 300], 0.2),
        lambda t: 1.0 * 0.2 ** sum(m <= t for m in (50, 120, 300)),
    ),
    ("exponential", lambda: ExponentialDecay(0.1, 40, 0.5), lambda t: 0.1 * 0.5 ** (t / 40)),
    (
        "exponential-staircase",
        lambda: ExponentialDecay(0.1, 40, 0.5, staircase=True),
        lambda t: 0.1 * 0.5 ** math.floor(t / 40),
    ),
    ("natural-exp", lambda: NaturalExpDecay(0.2, 1, 0.01), lambda t: 0.2 * math.exp(-0.01 * t)),
    (
        "natural-exp-staircase",
        lambda: NaturalExpDecay(0.2, 25, 0.3, staircase=True),
        lambda t: 0.2 * math.exp(-0.3 * math.floor(t / 25)),
    ),
    ("inverse-time", lambda: InverseTimeDecay(1.0, 1, 0.05), lambda t: 1.0 / (1 + 0.05 * t)),
    (
        "inverse-time-staircase",
        lambda: InverseTimeDecay(1.0, 20, 0.5, staircase=True),
        lambda t: 1.0 / (1 + 0.5 * math.floor(t / 20)),
    ),
    (
        "polynomial",
        lambda: PolynomialDecay(1.0, 300, end_value=0.01, power=2.0),
        lambda t: (1.0 - 0.01) * (1 - min(t, 300) / 300) ** 2 + 0.01,
    ),
    (
        "piecewise",
        lambda: PiecewiseConstant([100, 200, 250], [1.0, 0.5, 0.25, 0.05]),
        lambda t: 1.0 if t <= 100 else 0.5 if t <= 200 else 0.25 if t <= 250 else 0.05,
    ),
    ("cosine", lambda: CosineDecay(1.0, 300), lambda t: (1 + math.cos(math.pi * min(t, 300) / 300)) / 2),
    (
        "cosine-end",
        lambda: CosineDecay(0.5, 200, end_value=0.05),
        lambda t: 0.05 + 0.45 * (1 + math.cos(math.pi * min(t, 200) / 200)) / 2,
    ),
    ("linear-cosine", lambda: LinearCosineDecay(1.0, 350), lambda t: ref_linear_cosine(t, 1.0, 350)),
    (
        "linear-cosine-periods",
        lambda: LinearCosineDecay(0.3, 300, num_periods=3.0, alpha=0.1, beta=0.01),
        lambda t: ref_linear_cosine(t, 0.3, 300, 3.0, 0.1, 0.01),
    ),
    ("sgdr", lambda: SGDR(1.0, 50), lambda t: ref_sgdr(t, 1.0, 50)),
    ("sgdr-mult2", lambda: SGDR(1.0, 10, T_mult=2), lambda t: ref_sgdr(t, 1.0, 10, 2.0)),
    (
        "sgdr-mult-decay",
        lambda: SGDR(0.5, 20, T_mult=1.5, eta_min=0.01, decay=0.6),
        lambda t: ref_sgdr(t, 0.5, 20, 1.5, 0.01, 0.6),
    ),
    ("cyclic-triangular", lambda: Cyclic(0.1, 1.0, 40), lambda t: ref_cyclic(t, 0.1, 1.0, 40)),
    (
        "cyclic-triangular2",
        lambda: Cyclic(0.1, 1.0, 30, 50, mode="triangular2"),
        lambda t: ref_cyclic(t, 0.1, 1.0, 30, 50, "triangular2"),
    ),
    (
        "cyclic-exp-range",
        lambda: Cyclic(0.0, 1.0, 25, mode="exp_range", gamma=0.99),
        lambda t: ref_cyclic(t, 0.0, 1.0, 25, mode="exp_range", gamma=0.99),
    ),
    (
        "cyclic-scale-fn",
        lambda: Cyclic(0.2, 0.8, 20, scale_fn=lambda x: 1 / (1 + 0.01 * x), scale_mode="iterations"),
        lambda t: ref_cyclic(t, 0.2, 0.8, 20, scale_fn=lambda x: 1 / (1 + 0.01 * x), scale_mode="iterations"),
    ),
    (
        "cyclic-inverted-momentum",
        lambda: Cyclic(0.95, 0.85, 40),
        lambda t: ref_cyclic(t, 0.95, 0.85, 40),
    ),
    ("one-cycle", lambda: OneCycle(1.0, 350), lambda t: ref_one_cycle(t, 1.0, 350)),
    (
        "one-cycle-linear",
        lambda: OneCycle(0.5, 300, pct_start=0.4, anneal_strategy="linear", div_factor=10, final_div_factor=100),
        lambda t: ref_one_cycle(t, 0.5, 300, 0.4, "linear", 10, 100),
    ),
    (
        "one-cycle-three-phase",
        lambda: OneCycle(1.0, 320, pct_start=0.25, three_phase=True),
        lambda t: ref_one_cycle(t, 1.0, 320, 0.25, three=True),
    ),
    ("slanted-triangular", lambda: SlantedTriangular(0.01, 350), lambda t: ref_slanted(t, 0.01, 350)),
    (
        "slanted-triangular-args",
        lambda: SlantedTriangular(1.0, 333, cut_frac=0.2, ratio=10),
        lambda t: ref_slanted(t, 1.0, 333, 0.2, 10),
    ),
    (
        "warmup-linear-shift",
        lambda: Warmup(CosineDecay(1.0, 300), 50),
        lambda t: t / 50 if t < 50 else (1 + math.cos(math.pi * min(t - 50, 300) / 300)) / 2,
    ),
    (
        "warmup-constant-shift",
        lambda: Warmup(ExponentialDecay(1.0, 10, 0.9), 20, start_factor=0.1, mode="constant"),
        lambda t: 0.1 if t < 20 else 0.9 ** ((t - 20) / 10),
    ),
    (
        "warmup-linear-noshift",
        lambda: Warmup(StepDecay(1.0, 100, 0.1), 30, start_factor=0.2, shift=False),
        lambda t: 0.1 ** math.floor(t / 100) * ((0.2 + 0.8 * t / 30) if t < 30 else 1.0),
    ),
    (
        "warmup-cosine",
        lambda: WarmupCosineDecay(1.0, 40, 350),
        lambda t: ref_warmup_cosine(t, 1.0, 40, 350),
    ),
    (
        "warmup-cosine-init-end",
        lambda: WarmupCosineDecay(0.4, 25, 300, init_value=0.01, end_value=0.02),
        lambda t: ref_warmup_cosine(t, 0.4, 25, 300, 0.01, 0.02),
    ),
    (
        "warmup-multistep",
        lambda: WarmupMultiStep(0.8, [100, 250], 0.1, warmup_steps=20, start_factor=1 / 3),
        lambda t: 0.8
        * 0.1 ** sum(m <= t for m in (100, 250))
        * ((1 / 3 + (1 - 1 / 3) * t / 20) if t < 20 else 1.0),
    ),
    (
        "warmup-multistep-constant",
        lambda: WarmupMultiStep(0.8, [100, 250], 0.5, warmup_steps=10, start_factor=0.1, mode="constant"),
        lambda t: 0.8 * 0.5 ** sum(m <= t for m in (100, 250)) * (0.1 if t < 10 else 1.0),
    ),
    (
        "wsd-linear",
        lambda: WarmupStableDecay(1.0, 350, 30, 100),
        lambda t: ref_wsd(t, 1.0, 350, 30, 100),
    ),
    (
        "wsd-cosine",
        lambda: WarmupStableDecay(1.0, 300, 20, 120, init_value=0.1, end_value=0.01, decay_shape="cosine"),
        lambda t: ref_wsd(t, 1.0, 300, 20, 120, 0.1, 0.01, "cosine"),
    ),
    (
        "wsd-1-sqrt",
        lambda: WarmupStableDecay(2.0, 320, 0, 64, decay_shape="1-sqrt"),
        lambda t: ref_wsd(t, 2.0, 320, 0, 64, shape="1-sqrt"),
    ),
    ("noam", lambda: Noam(512, 100), lambda t: ref_noam(t, 512, 100)),
    ("noam-shifted", lambda: Shift(Noam(256, 50, scale=2.0), 1), lambda t: ref_noam(t + 1, 256, 50, 2.0)),
    (
        "anneal-momentum",
        lambda: AnnealMomentum(0.5, 0.99, 300),
        lambda t: 0.5 + (0.99 - 0.5) * min(t / 300, 1.0),
    ),
    (
        "anneal-momentum-cosine",
        lambda: AnnealMomentum(0.85, 0.95, 200, shape="cosine"),
        lambda t: 0.95 + (0.85 - 0.95) * (1 + math.cos(math.pi * min(t / 200, 1.0))) / 2,
    ),
    (
        "sutskever-momentum",
        lambda: SutskeverMomentum(0.99, 25),
        lambda t: min(1 - 2 ** (-1 - math.log2(math.floor(t / 25) + 1)), 0.99),
    ),
    (
        "inverse-momentum",
        lambda: InverseMomentum(Cyclic(0.01, 0.1, 30), 0.01, 0.1),
        lambda t: 0.95 - 0.1 * (ref_cyclic(t, 0.01, 0.1, 30) - 0.01) / (0.1 - 0.01),
    ),
    ("one-cycle-momentum", lambda: OneCycleMomentum(350), lambda t: ref_one_cycle_momentum(t, 350)),
    (
        "one-cycle-momentum-three-linear",
        lambda: OneCycleMomentum(300, 0.3, "linear", 0.8, 0.9, three_phase=True),
        lambda t: ref_one_cycle_momentum(t, 300, 0.3, "linear", 0.8, 0.9, True),
    ),
    (
        "join-relative",
        lambda: Join([Linear(0.0, 1.0, 50), CosineDecay(1.0, 200), 0.05], [50, 250]),
        lambda t: t / 50 if t < 50 else (1 + math.cos(math.pi * (t - 50) / 200)) / 2 if t < 250 else 0.05,
    ),
    (
        "join-absolute",
        lambda: join([Constant(1.0), StepDecay(1.0, 100, 0.5)], [150], relative=False),
        lambda t: 1.0 if t < 150 else 0.5 ** math.floor(t / 100),
    ),
    (
        "product",
        lambda: CosineDecay(1.0, 300) * Linear(0.5, 1.0, 100) * 0.1,
        lambda t: (1 + math.cos(math.pi * min(t, 300) / 300)) / 2 * (0.5 + 0.5 * min(t / 100, 1)) * 0.1,
    ),
    (
        "sum",
        lambda: 0.01 + ExponentialDecay(1.0, 50, 0.1),
        lambda t: 0.01 + 0.1 ** (t / 50),
    ),
    (
        "function",
        lambda: FunctionSchedule(lambda t: 1.0 / np.sqrt(1.0 + t)),
        lambda t: 1 / math.sqrt(1 + t),
    ),
    (
        "momentum-wrapper",
        lambda: as_momentum(Linear(0.5, 0.9, 100)),
        lambda t: 0.5 + 0.4 * min(t / 100, 1),
    ),
]


@pytest.mark.parametrize("steps", [INT_STEPS, FRAC_STEPS], ids=["integer-steps", "fractional-steps"])
@pytest.mark.parametrize("make,ref", [c[1:] for c in CLOSED_FORM], ids=[c[0] for c in CLOSED_FORM])
def test_closed_form(make, ref, steps):
    sched = make()
    got = sched(steps)
    expected = np.array([ref(float(t)) for t in steps])
    assert got.dtype == np.float64 and got.shape == steps.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_noisy_linear_cosine_closed_form_and_noise():
    s = NoisyLinearCosineDecay(0.5, 300, initial_variance=0.3, variance_decay=0.6, num_periods=1.0, seed=7)
    t = INT_STEPS
    eps = s.noise(t)
    expected = np.array([ref_linear_cosine(x, 0.5, 300, 1.0, 0.0, 0.001, e) for x, e in zip(t, eps)])
    np.testing.assert_allclose(s(t), expected, rtol=RTOL, atol=ATOL)
    # noise: mean 0, std sqrt(v0 / (1 + t)^d)
    z = eps / np.sqrt(0.3 / (1.0 + np.minimum(t, 300)) ** 0.6)
    big = NoisyLinearCosineDecay(1.0, 10, seed=7).noise(np.arange(20000.0))
    zb = big / np.sqrt(1.0 / 11**0.55)
    assert abs(zb[20:].mean()) < 0.05 and abs(zb[20:].std() - 1) < 0.05
    assert np.all(np.isfinite(z))


def test_noisy_linear_cosine_is_seeded_and_order_independent():
    a = NoisyLinearCosineDecay(1.0, 100, seed=3)
    b = NoisyLinearCosineDecay(1.0, 100, seed=3)
    c = NoisyLinearCosineDecay(1.0, 100, seed=4)
    t = np.arange(200.0)
    assert np.array_equal(a(t), b(t))
    assert not np.array_equal(a(t), c(t))
    perm = np.random.default_rng(0).permutation(200).astype(float)
    assert np.array_equal(a(perm), a(t)[perm.astype(int)])
    assert a(150) == a(t)[150]
    # the same standard-normal draw for fractional steps within one integer step
    z = step_normal(np.array([5.0, 5.75, 6.0]), 3)
    assert z[0] == z[1] != z[2]


# ---------------------------------------------------------------------------
# Keras / TF formulas, written out here (no keras install)
# ---------------------------------------------------------------------------


def keras_exponential_decay(step, initial, decay_steps, decay_rate, staircase):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return initial * decay_rate**p


def keras_inverse_time_decay(step, initial, decay_steps, decay_rate, staircase):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return initial / (1 + decay_rate * p)


def keras_polynomial_decay(step, initial, decay_steps, end, power, cycle):
    if cycle:
        multiplier = 1.0 if step == 0 else math.ceil(step / decay_steps)
        decay_steps = decay_steps * multiplier
    else:
        step = min(step, decay_steps)
    return (initial - end) * (1 - step / decay_steps) ** power + end


def keras_piecewise_constant(step, boundaries, values):
    for b, v in zip(boundaries, values):
        if step <= b:
            return v
    return values[-1]


def keras_cosine_decay(step, initial, decay_steps, alpha):
    step = min(step, decay_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * step / decay_steps))
    return initial * ((1 - alpha) * cosine + alpha)


def keras_cosine_decay_restarts(step, initial, first_decay_steps, t_mul, m_mul, alpha):
    frac = step / first_decay_steps
    if t_mul == 1.0:
        i = math.floor(frac)
        frac -= i
    else:
        i = math.floor(math.log(1 - frac * (1 - t_mul)) / math.log(t_mul))
        sum_r = (1 - t_mul**i) / (1 - t_mul)
        frac = (frac - sum_r) / t_mul**i
    cosine = 0.5 * m_mul**i * (1 + math.cos(math.pi * frac))
    return initial * ((1 - alpha) * cosine + alpha)


def tf_linear_cosine_decay(step, lr, decay_steps, num_periods, alpha, beta):
    step = min(step, decay_steps)
    linear = (decay_steps - step) / decay_steps
    cosine = 0.5 * (1 + math.cos(math.pi * 2 * num_periods * step / decay_steps))
    return lr * ((alpha + linear) * cosine + beta)


KERAS = [
    (
        "exponential",
        lambda st: ExponentialDecay(0.1, 37, 0.8, staircase=st),
        lambda t, st: keras_exponential_decay(t, 0.1, 37, 0.8, st),
    ),
    (
        "inverse-time",
        lambda st: InverseTimeDecay(0.1, 15, 0.7, staircase=st),
        lambda t, st: keras_inverse_time_decay(t, 0.1, 15, 0.7, st),
    ),
    (
        "polynomial-cycle",
        lambda st: PolynomialDecay(0.1, 70, 0.001, power=1.5, cycle=st),
        lambda t, st: keras_polynomial_decay(t, 0.1, 70, 0.001, 1.5, st),
    ),
    (
        "polynomial-default-end",
        lambda st: PolynomialDecay(0.1, 120, cycle=st),
        lambda t, st: keras_polynomial_decay(t, 0.1, 120, 0.0001, 1.0, st),
    ),
    (
        "piecewise",
        lambda st: PiecewiseConstant([20, 60.5, 200], [0.1, 0.05, 0.01, 0.001]),
        lambda t, st: keras_piecewise_constant(t, [20, 60.5, 200], [0.1, 0.05, 0.01, 0.001]),
    ),
    (
        "cosine-alpha",
        lambda st: CosineDecay(0.1, 250, end_value=0.1 * 0.05),
        lambda t, st: keras_cosine_decay(t, 0.1, 250, 0.05),
    ),
    (
        "cosine-restarts",
        lambda st: SGDR(0.1, 10, T_mult=2.0, decay=0.8),
        lambda t, st: keras_cosine_decay_restarts(t, 0.1, 10, 2.0, 0.8, 0.0),
    ),
    (
        "cosine-restarts-mult1",
        lambda st: SGDR(0.1, 45, decay=0.5),
        lambda t, st: keras_cosine_decay_restarts(t, 0.1, 45, 1.0, 0.5, 0.0),
    ),
    (
        "linear-cosine",
        lambda st: LinearCosineDecay(0.1, 300, num_periods=2.5, alpha=0.2, beta=0.003),
        lambda t, st: tf_linear_cosine_decay(t, 0.1, 300, 2.5, 0.2, 0.003),
    ),
]


@pytest.mark.parametrize("staircase", [False, True], ids=["smooth", "staircase-or-cycle"])
@pytest.mark.parametrize("make,ref", [c[1:] for c in KERAS], ids=[c[0] for c in KERAS])
def test_keras_formulas(make, ref, staircase):
    sched = make(staircase)
    t = np.concatenate([INT_STEPS, FRAC_STEPS])
    expected = np.array([ref(float(x), staircase) for x in t])
    np.testing.assert_allclose(sched(t), expected, rtol=RTOL, atol=ATOL)


def test_piecewise_boundary_belongs_to_left_interval():
    s = PiecewiseConstant([10, 20], [3.0, 2.0, 1.0])
    assert s(10) == 3.0 and s(10.5) == 2.0 and s(20) == 2.0 and s(21) == 1.0


def test_polynomial_cycle_restarts_with_longer_period():
    s = PolynomialDecay(1.0, 10, end_value=0.0, cycle=True)
    assert s(0) == 1.0
    assert s(10) == 0.0  # end of first period
    assert s(11) == pytest.approx(1 - 11 / 20)  # second period is 20 long


# ---------------------------------------------------------------------------
# Vectorized vs step-by-step, shapes, input checks
# ---------------------------------------------------------------------------


def _all_schedules():
    scheds = [(c[0], c[1]()) for c in CLOSED_FORM]
    scheds += [(f"registry-{n}", S.make_schedule(n, 500)) for n in S.list_schedules()]
    scheds.append(("noisy", NoisyLinearCosineDecay(1.0, 300, seed=11)))
    return scheds


@pytest.mark.parametrize("name,sched", _all_schedules(), ids=[n for n, _ in _all_schedules()])
def test_vectorized_and_scalar_paths_agree_bitwise(name, sched):
    steps = np.concatenate([np.arange(500), [0.5, 17.25, 333.3, 1e6]])
    vec = sched(steps)
    one_by_one = np.array([sched(float(t)) for t in steps])
    ints = np.array([sched(int(t)) for t in steps[:500]])
    assert np.array_equal(vec, one_by_one), np.flatnonzero(vec != one_by_one)[:5]
    assert np.array_equal(vec[:500], ints)
    assert np.array_equal(sched(np.arange(500)), vec[:500])  # int array input
    assert all(type(sched(t)) is float for t in (0, 3, 2.5, np.int64(4), np.float32(1.5), np.array(7)))


@pytest.mark.parametrize("name,sched", _all_schedules(), ids=[n for n, _ in _all_schedules()])
def test_blockwise_evaluation_of_long_arrays_is_bitwise(name, sched):
    """Arrays longer than BLOCK are evaluated block by block; values must
    not depend on the block a step falls in."""
    steps = np.arange(3 * S.base.BLOCK + 123) * 0.37
    vec = sched(steps)
    idx = np.r_[0, S.base.BLOCK - 1, S.base.BLOCK, 2 * S.base.BLOCK + 5, len(steps) - 1,
                np.random.default_rng(0).integers(0, len(steps), 40)]
    assert np.array_equal(vec[idx], np.array([sched(float(steps[i])) for i in idx]))
    rev = sched(steps[::-1].copy())
    assert np.array_equal(rev[::-1], vec)


def test_cos_anneal_accuracy():
    """(1 + cos(pi p)) / 2 by polynomial: a few ulp everywhere, including the
    tail p -> 1 where the textbook form cancels."""
    p = np.concatenate([np.linspace(0.0, 1.0, 20001), 1.0 - np.logspace(-15, -1, 300), np.logspace(-15, -1, 300)])
    got = cos_anneal(p)
    ref = np.array([math.sin(math.pi / 2 * (1.0 - x)) ** 2 for x in p])
    np.testing.assert_allclose(got, ref, rtol=2e-15, atol=0)
    assert got[0] == 1.0 and cos_anneal(np.array([1.0]))[0] == 0.0
    assert np.all(np.diff(cos_anneal(np.linspace(0, 1, 10001))) <= 0)  # monotone


def test_shapes_and_input_types():
    s = WarmupCosineDecay(1.0, 10, 100)
    grid = np.arange(60, dtype=np.int32).reshape(3, 4, 5)
    out = s(grid)
    assert out.shape == (3, 4, 5) and out.dtype == np.float64
    assert np.array_equal(out.ravel(), s(np.arange(60)))
    assert np.array_equal(s([1, 2, 3]), s(np.array([1.0, 2.0, 3.0])))
    assert s(np.array([], dtype=float)).shape == (0,)
    src = np.arange(20.0)
    before = src.copy()
    s(src)
    assert np.array_equal(src, before)  # input unmodified
    assert s(src[::2]).shape == (10,)  # non-contiguous input
    c = Constant(2.0)
    res = c(src)
    res[0] = 5.0
    assert c(0) == 2.0


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf"), [0, 1, -2], [0.0, np.nan]])
def test_bad_steps_are_rejected(bad):
    with pytest.raises(ValueError, match="step"):
        CosineDecay(1.0, 10)(bad)


def test_vectorized_path_is_fast():
    """1M-step cosine with warm-up: the benchmark target is < 50 ms; assert
    loosely (< 200 ms median of 5) to stay robust on noisy machines."""
    s = WarmupCosineDecay(1.0, 10_000, 1_000_000)
    steps = np.arange(1_000_000)
    s(steps)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        s(steps)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.2, times


# ---------------------------------------------------------------------------
# Composition semantics
# ---------------------------------------------------------------------------


def test_warmup_in_front_of_any_schedule():
    inner = SGDR(1.0, 30, T_mult=2, decay=0.5)
    w = Warmup(inner, 10, start_factor=0.1)
    t = np.arange(300.0)
    got = w(t)
    assert got[0] == pytest.approx(0.1) and got[5] == pytest.approx(0.1 + 0.9 * 0.5)
    assert np.array_equal(got[10:], inner(t[10:] - 10))
    assert w.horizon is None
    assert Warmup(CosineDecay(1.0, 50), 10).horizon == 60


def test_warmup_momentum_and_quantity_propagate():
    m = as_momentum(Constant(0.9))
    assert m.quantity == "momentum" and isinstance(m, MomentumSchedule)
    assert as_momentum(m) is m
    assert Warmup(AnnealMomentum(), 5, 0.5).quantity == "momentum"
    assert (CosineDecay(1, 10) * 2).quantity == "lr"
    assert OneCycleMomentum(10).quantity == "momentum"


def test_one_cycle_momentum_is_inverse_of_lr_in_each_phase():
    lr = OneCycle(1.0, 400, anneal_strategy="linear")
    mom = OneCycleMomentum(400, anneal_strategy="linear")
    t = np.arange(400.0)
    a, m = lr(t), mom(t)
    up = t <= 0.3 * 400 - 1
    assert np.all(np.diff(a[up]) > 0) and np.all(np.diff(m[up]) < 0)
    assert np.all(np.diff(a[~up]) < 0) and np.all(np.diff(m[~up]) > 0)
    assert m[0] == 0.95 and m[-1] == pytest.approx(0.95) and m.min() == pytest.approx(0.85)


def test_inverse_momentum_matches_cyclic_momentum_form():
    lr = Cyclic(0.001, 0.01, 17, 23, mode="triangular2")
    inv = InverseMomentum(lr, 0.001, 0.01, base_momentum=0.8, max_momentum=0.9)
    direct = Cyclic(0.9, 0.8, 17, 23, mode="triangular2")
    np.testing.assert_allclose(inv(INT_STEPS), direct(INT_STEPS), rtol=0, atol=1e-14)


def test_sgdr_restart_boundaries_exact():
    s = SGDR(1.0, 1, T_mult=3)
    starts = [0, 1, 4, 13, 40, 121, 364]
    assert np.array_equal(s.cycle(np.array(starts, dtype=float)), np.arange(7.0))
    assert np.all(s(np.array(starts, dtype=float)) == 1.0)
    assert np.all(s.cycle(np.array(starts[1:]) - 1e-9) == np.arange(6.0))


def test_join_product_sum_repr_and_horizon():
    j = Join([Linear(0, 1, 10), CosineDecay(1, 90)], [10])
    assert j.horizon == 100
    assert "Join" not in repr(CosineDecay(1, 90)) and repr(CosineDecay(1, 90)).startswith("CosineDecay(")
    p = Product(CosineDecay(1, 10), 2.0)
    assert p(0) == 2.0 and repr(p).startswith("Product(")
    s = Sum(1.0, 2.0)
    assert s(5) == 3.0


def test_registry_and_make_schedule():
    names = S.list_schedules()
    assert len(names) == len(set(names)) >= 20
    for n in names:
        entry = S.SCHEDULES[n]
        assert entry.summary
        sched = S.make_schedule(n, 200)
        assert isinstance(sched, S.Schedule)
        assert np.all(np.isfinite(sched(np.arange(200))))
    s = S.make_schedule("cosine_decay", 100, init_value=0.5)
    assert s(0) == 0.5
    with pytest.raises(ValueError, match="name"):
        S.make_schedule("nope", 10)
    with pytest.raises(ValueError, match="unknown parameter.*bogus"):
        S.make_schedule("cosine_decay", 10, bogus=1)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

BAD_INPUT = [
    (lambda: StepDecay(-0.1, 10), ValueError, "init_value"),
    (lambda: StepDecay(0.1, 0), ValueError, "step_size"),
    (lambda: StepDecay(0.1, 10, gamma=float("nan")), ValueError, "gamma"),
    (lambda: StepDecay(0.1, 10, gamma=-0.5), ValueError, "gamma"),
    (lambda: MultiStepDecay(0.1, [10, 5]), ValueError, "milestones.*increasing"),
    (lambda: MultiStepDecay(0.1, [10, 10]), ValueError, "milestones.*increasing"),
    (lambda: MultiStepDecay(0.1, [-1, 5]), ValueError, "milestones"),
    (lambda: ExponentialDecay(0.1, 0, 0.5), ValueError, "decay_steps"),
    (lambda: ExponentialDecay(0.1, 10, -0.5), ValueError, "decay_rate"),
    (lambda: ExponentialDecay(float("inf"), 10, 0.5), ValueError, "init_value"),
    (lambda: ExponentialDecay(0.1, 10, 0.5, staircase="yes"), TypeError, "staircase"),
    (lambda: NaturalExpDecay(0.1, 1, float("-inf")), ValueError, "decay_rate"),
    (lambda: InverseTimeDecay(0.1, -1, 0.5), ValueError, "decay_steps"),
    (lambda: PolynomialDecay(0.1, 100, power=-1), ValueError, "power"),
    (lambda: PolynomialDecay(0.1, 100, end_value=-1e-3), ValueError, "end_value"),
    (lambda: PiecewiseConstant([10, 5], [1, 2, 3]), ValueError, "boundaries.*increasing"),
    (lambda: PiecewiseConstant([10, 20], [1, 2]), ValueError, "values"),
    (lambda: PiecewiseConstant([10], [1, -2]), ValueError, r"values\[1\]"),
    (lambda: Linear(0, 1, 0), ValueError, "transition_steps"),
    (lambda: CosineDecay(0.1, 0), ValueError, "decay_steps"),
    (lambda: CosineDecay(0.1, float("nan")), ValueError, "decay_steps"),
    (lambda: LinearCosineDecay(0.1, 100, beta=-1), ValueError, "beta"),
    (lambda: NoisyLinearCosineDecay(0.1, 100, seed=-1), ValueError, "seed"),
    (lambda: NoisyLinearCosineDecay(0.1, 100, seed=1.5), ValueError, "seed"),
    (lambda: NoisyLinearCosineDecay(0.1, 100, initial_variance=-1), ValueError, "initial_variance"),
    (lambda: SGDR(0.1, 0), ValueError, "T_0"),
    (lambda: SGDR(0.1, 10, T_mult=0.5), ValueError, "T_mult"),
    (lambda: SGDR(0.1, 10, decay=0.0), ValueError, "decay"),
    (lambda: SGDR(0.1, 10, eta_min=-1), ValueError, "eta_min"),
    (lambda: Cyclic(0.1, 1.0, 0), ValueError, "step_size_up"),
    (lambda: Cyclic(0.1, 1.0, 10, step_size_down=-3), ValueError, "step_size_down"),
    (lambda: Cyclic(0.1, 1.0, 10, mode="sawtooth"), ValueError, "mode"),
    (lambda: Cyclic(0.1, 1.0, 10, scale_mode="epochs"), ValueError, "scale_mode"),
    (lambda: Cyclic(-0.1, 1.0, 10), ValueError, "base_value"),
    (lambda: OneCycle(1.0, 0), ValueError, "total_steps"),
    (lambda: OneCycle(1.0, 100, pct_start=1.5), ValueError, "pct_start"),
    (lambda: OneCycle(1.0, 10, pct_start=0.1), ValueError, "pct_start"),
    (lambda: OneCycle(1.0, 100, anneal_strategy="cosine"), ValueError, "anneal_strategy"),
    (lambda: OneCycle(1.0, 100, div_factor=0), ValueError, "div_factor"),
    (lambda: OneCycle(1.0, 100, three_phase=True, pct_start=0.6), ValueError, "pct_start"),
    (lambda: SlantedTriangular(1.0, 100, cut_frac=1.0), ValueError, "cut_frac"),
    (lambda: SlantedTriangular(1.0, 100, ratio=0.5), ValueError, "ratio"),
    (lambda: SlantedTriangular(1.0, 5, cut_frac=0.1), ValueError, "cut_frac"),
    (lambda: Warmup(CosineDecay(1, 100), -5), ValueError, "warmup_steps"),
    (lambda: Warmup(CosineDecay(1, 100), 5, mode="cubic"), ValueError, "mode"),
    (lambda: Warmup(CosineDecay(1, 100), 5, start_factor=2), ValueError, "start_factor"),
    (lambda: Warmup(CosineDecay(1, 100), 5, mode="constant"), ValueError, "start_factor"),
    (lambda: Warmup(CosineDecay(1, 100), 150, shift=False), ValueError, "warmup_steps.*longer"),
    (lambda: WarmupCosineDecay(1.0, 200, 100), ValueError, "warmup_steps.*total_steps"),
    (lambda: WarmupCosineDecay(1.0, 10, 0), ValueError, "total_steps"),
    (lambda: WarmupMultiStep(1.0, [10, 5]), ValueError, "milestones"),
    (lambda: WarmupMultiStep(1.0, [10, 20], warmup_steps=50), ValueError, "warmup_steps"),
    (lambda: WarmupStableDecay(1.0, 100, 60, 50), ValueError, "warmup_steps.*total_steps"),
    (lambda: WarmupStableDecay(1.0, 100, 10, 50, decay_shape="sqrt"), ValueError, "decay_shape"),
    (lambda: WarmupStableDecay(1.0, 100, 10, 0), ValueError, "decay_steps"),
    (lambda: Noam(0), ValueError, "d_model"),
    (lambda: Noam(512, warmup_steps=-1), ValueError, "warmup_steps"),
    (lambda: AnnealMomentum(1.5), ValueError, "start_value"),
    (lambda: AnnealMomentum(0.5, 0.9, 0), ValueError, "anneal_steps"),
    (lambda: AnnealMomentum(shape="exp"), ValueError, "shape"),
    (lambda: SutskeverMomentum(period=0), ValueError, "period"),
    (lambda: InverseMomentum(Constant(1), 0.1, 0.1), ValueError, "lr_max"),
    (lambda: OneCycleMomentum(100, base_momentum=-0.1), ValueError, "base_momentum"),
    (lambda: Join([Constant(1), Constant(2)], [10, 20]), ValueError, "boundaries"),
    (lambda: Join([Constant(1), Constant(2)], [0]), ValueError, "boundaries"),
    (lambda: Join([Constant(1), Constant(2), Constant(3)], [20, 10]), ValueError, "boundaries.*increasing"),
    (lambda: Shift(Constant(1), -1), ValueError, "offset"),
    (lambda: Constant(float("nan")), ValueError, "value"),
    (lambda: Constant("a"), TypeError, "value"),
    (lambda: Product(Constant(1), "x"), TypeError, "factors"),
]


BAD_IDS = [f"{i}-{p.split('.')[0]}" for i, (_, _, p) in enumerate(BAD_INPUT)]


@pytest.mark.parametrize("make,exc,pattern", BAD_INPUT, ids=BAD_IDS)
def test_bad_input(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()
