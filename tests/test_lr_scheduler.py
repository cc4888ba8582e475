"""Tests of fastopt.lr_scheduler that need no torch (parity with torch is in
test_lr_scheduler_torch.py)."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

import fastopt.lr_scheduler as L
from fastopt import schedules as S

N = 320
RTOL = 1e-10
ATOL = 1e-13


class FakeOptimizer:
    """An object with ``param_groups`` (and ``defaults``), like torch.optim."""

    def __init__(self, lrs=(0.1, 0.05), **extra):
        self.defaults = {"lr": lrs[0], **extra}
        self.param_groups = [{"params": [np.zeros(2)], "lr": lr, **copy.deepcopy(extra)} for lr in lrs]


def sgd(lrs=(0.1, 0.05)):
    return FakeOptimizer(lrs, momentum=0.9)


def adam(lrs=(0.1, 0.05)):
    return FakeOptimizer(lrs, betas=(0.9, 0.999))


def lrs_of(opt):
    return [g["lr"] for g in opt.param_groups]


def momenta_of(opt):
    groups = [g for g in opt.param_groups if "betas" in g or "momentum" in g]
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in groups]


def drive(sched, opt, n=N, step=None):
    """lr (and momentum) of every group after construction and each step."""
    lrs, moms = [lrs_of(opt)], [momenta_of(opt)]
    for i in range(n):
        if step is None:
            sched.step()
        else:
            step(sched, i)
        lrs.append(lrs_of(opt))
        moms.append(momenta_of(opt))
    return np.array(lrs), np.array(moms)


# ---------------------------------------------------------------------------
# Closed forms of the torch-like schedulers (written from the formulas)
# ---------------------------------------------------------------------------

t = np.arange(N + 1, dtype=np.float64)
BASES = np.array([0.1, 0.05])


def _per_group(f):
    return np.stack([b * f(t) for b in BASES], axis=1)


CLOSED = [
    ("lambda", lambda o: L.LambdaLR(o, lambda e: 1 / (1 + 0.02 * e)), lambda t: 1 / (1 + 0.02 * t)),
    ("multiplicative", lambda o: L.MultiplicativeLR(o, lambda e: 0.99), lambda t: 0.99**t),
    ("step", lambda o: L.StepLR(o, 25, 0.5), lambda t: 0.5 ** np.floor(t / 25)),
    (
        "multistep",
        lambda o: L.MultiStepLR(o, [30, 100, 250], 0.3),
        lambda t: 0.3 ** ((t >= 30).astype(float) + (t >= 100) + (t >= 250)),
    ),
    ("constant", lambda o: L.ConstantLR(o, 0.25, 40), lambda t: np.where(t < 40, 0.25, 1.0)),
    (
        "linear",
        lambda o: L.LinearLR(o, 0.2, 0.9, 150),
        lambda t: 0.2 + (0.9 - 0.2) * np.minimum(t, 150) / 150,
    ),
    ("exponential", lambda o: L.ExponentialLR(o, 0.985), lambda t: 0.985**t),
    (
        "polynomial",
        lambda o: L.PolynomialLR(o, 200, 2.0),
        lambda t: (1 - np.minimum(t, 200) / 200) ** 2,
    ),
    (
        "cosine-periodic",
        lambda o: L.CosineAnnealingLR(o, 60),
        lambda t: (1 + np.cos(np.pi * t / 60)) / 2,
    ),
    (
        "warm-restarts",
        lambda o: L.CosineAnnealingWarmRestarts(o, 10, 3),
        lambda t: np.array([_sgdr_factor(x, 10, 3) for x in t]),
    ),
    (
        "schedule-lr-relative",
        lambda o: L.ScheduleLR(o, S.SGDR(1.0, 40, decay=0.5), relative=True),
        lambda t: np.array([_sgdr_factor(x, 40, 1) * 0.5 ** (x // 40) for x in t]),
    ),
    (
        "warmup-cosine-lr",
        lambda o: L.WarmupCosineLR(o, 30, 300, warmup_start_factor=0.1, end_factor=0.01),
        lambda t: np.where(
            t < 30,
            0.1 + 0.9 * t / 30,
            0.01 + 0.99 * (1 + np.cos(np.pi * (np.minimum(t, 300) - 30) / 270)) / 2,
        ),
    ),
    (
        "warmup-multistep-lr",
        lambda o: L.WarmupMultiStepLR(o, [100, 200], 0.1, warmup_steps=20, warmup_factor=0.25),
        lambda t: 0.1 ** ((t >= 100).astype(float) + (t >= 200)) * np.where(t < 20, 0.25 + 0.75 * t / 20, 1.0),
    ),
    (
        "wsd-lr",
        lambda o: L.WarmupStableDecayLR(o, 300, 20, 60, decay_shape="1-sqrt"),
        lambda t: np.where(t < 20, t / 20, 1 - np.sqrt(np.clip((t - 240) / 60, 0, 1))),
    ),
    (
        "slanted-triangular-lr",
        lambda o: L.SlantedTriangularLR(o, 300, cut_frac=0.1, ratio=32),
        lambda t: np.where(
            np.minimum(t, 300) < 30,
            (1 + np.minimum(t, 300) / 30 * 31) / 32,
            (1 + (1 - (np.minimum(t, 300) - 30) / (30 * 9)) * 31) / 32,
        ),
    ),
    (
        "noam-lr",
        lambda o: L.NoamLR(o, 512, 50),
        lambda t: 512**-0.5 * np.minimum((t + 1) ** -0.5, (t + 1) * 50**-1.5),
    ),
]


def _sgdr_factor(x, t0, mult):
    start, length = 0, t0
    while x >= start + length:
        start += length
        length *= mult
    return (1 + math.cos(math.pi * (x - start) / length)) / 2


@pytest.mark.parametrize("make,factor", [c[1:] for c in CLOSED], ids=[c[0] for c in CLOSED])
def test_closed_form(make, factor):
    opt = sgd()
    lrs, _ = drive(make(opt), opt)
    np.testing.assert_allclose(lrs, _per_group(factor), rtol=RTOL, atol=ATOL)


def test_cyclic_lr_matches_functional_cyclic_and_inverse_momentum():
    opt = sgd()
    sched = L.CyclicLR(opt, [0.01, 0.02], [0.1, 0.2], step_size_up=13, step_size_down=29, mode="triangular2")
    lrs, moms = drive(sched, opt)
    for i, (lo, hi) in enumerate([(0.01, 0.1), (0.02, 0.2)]):
        f = S.Cyclic(lo, hi, 13, 29, mode="triangular2")
        np.testing.assert_allclose(lrs[:, i], f(t), rtol=1e-13, atol=1e-16)
        m = S.InverseMomentum(f, lo, hi, base_momentum=0.8, max_momentum=0.9)
        np.testing.assert_allclose(moms[:, i], m(t), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_lr_matches_functional_one_cycle(three_phase, strategy):
    opt = adam()
    sched = L.OneCycleLR(opt, [1.0, 0.5], total_steps=N, anneal_strategy=strategy, three_phase=three_phase)
    lrs, moms = drive(sched, opt, n=N - 1)
    tt = t[:N]
    for i, top in enumerate([1.0, 0.5]):
        f = S.OneCycle(top, N, anneal_strategy=strategy, three_phase=three_phase)
        np.testing.assert_allclose(lrs[:, i], f(tt), rtol=1e-12, atol=1e-16)
        m = S.OneCycleMomentum(N, anneal_strategy=strategy, three_phase=three_phase)
        np.testing.assert_allclose(moms[:, i], m(tt), rtol=1e-12, atol=1e-16)
    assert all(g["betas"][1] == 0.999 for g in opt.param_groups)


def test_one_cycle_lr_refuses_to_step_past_total_steps():
    opt = sgd()
    sched = L.OneCycleLR(opt, 0.1, total_steps=10)
    for _ in range(10):
        sched.step()
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()


def test_warm_restarts_fractional_epochs_match_sgdr():
    opt = sgd()
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2, eta_min=0.001)
    f = S.SGDR(0.1, 5, T_mult=2, eta_min=0.001)
    epochs = np.arange(0, 60, 0.125)
    got = []
    for e in epochs:
        sched.step(e)
        got.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(got, f(epochs), rtol=1e-12, atol=1e-16)
    with pytest.raises(ValueError, match="epoch"):
        sched.step(-1)


# ---------------------------------------------------------------------------
# ScheduleLR / ScheduleMomentum: thin, bitwise wrappers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", S.list_schedules())
def test_schedule_lr_is_bitwise_the_functional_schedule(name):
    sched_fn = S.make_schedule(name, N)
    opt = sgd()
    lrs, _ = drive(L.ScheduleLR(opt, sched_fn), opt)
    assert np.array_equal(lrs[:, 0], sched_fn(t)) and np.array_equal(lrs[:, 1], sched_fn(t))
    opt = sgd()
    lrs, _ = drive(L.ScheduleLR(opt, sched_fn, relative=True), opt)
    assert np.array_equal(lrs[:, 1], 0.05 * sched_fn(t))


def test_schedule_lr_per_group_schedules_and_numbers():
    opt = sgd()
    a, b = S.CosineDecay(0.1, 100), S.StepDecay(0.05, 10, 0.5)
    lrs, _ = drive(L.ScheduleLR(opt, [a, b]), opt, n=150)
    assert np.array_equal(lrs[:, 0], a(t[:151])) and np.array_equal(lrs[:, 1], b(t[:151]))
    opt = sgd()
    lrs, _ = drive(L.ScheduleLR(opt, 0.3), opt, n=3)
    assert np.all(lrs == 0.3)
    with pytest.raises(ValueError, match="schedule"):
        L.ScheduleLR(sgd(), [a])


@pytest.mark.parametrize("make_opt,key", [(sgd, "momentum"), (adam, "betas")])
def test_schedule_momentum_writes_momentum_or_beta1(make_opt, key):
    opt = make_opt()
    mom = S.OneCycleMomentum(N, three_phase=True)
    sm = L.ScheduleMomentum(opt, mom)
    assert sm.key == key
    lr = L.ScheduleLR(opt, S.OneCycle(0.1, N, three_phase=True))
    rows = [momenta_of(opt)]
    for _ in range(N - 1):
        lr.step()
        sm.step()
        rows.append(momenta_of(opt))
    rows = np.array(rows)
    assert np.array_equal(rows[:, 0], mom(t[:N])) and np.array_equal(rows[:, 1], mom(t[:N]))
    assert sm.get_last_momentum() == list(rows[-1])
    if key == "betas":
        assert all(g["betas"][1] == 0.999 for g in opt.param_groups)


def test_schedule_momentum_anneal_and_key_errors():
    opt = sgd()
    sm = L.ScheduleMomentum(opt, S.AnnealMomentum(0.5, 0.99, 100))
    for _ in range(100):
        sm.step()
    assert opt.param_groups[0]["momentum"] == 0.99
    with pytest.raises(ValueError, match="key"):
        L.ScheduleMomentum(FakeOptimizer(), S.Constant(0.9))
    with pytest.raises(ValueError, match="key"):
        L.ScheduleMomentum(sgd(), S.Constant(0.9), key="betas")
    with pytest.raises(ValueError, match="key"):
        L.ScheduleMomentum(sgd(), S.Constant(0.9), key="nesterov")


# ---------------------------------------------------------------------------
# Base-class semantics
# ---------------------------------------------------------------------------


def test_initial_lr_and_last_epoch_semantics():
    opt = sgd()
    s = L.StepLR(opt, 3, 0.5)
    assert s.last_epoch == 0 and s._step_count == 1
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    assert s.base_lrs == [0.1, 0.05]
    # a second scheduler keeps the existing initial_lr
    opt.param_groups[0]["lr"] = 7.0
    s2 = L.ExponentialLR(opt, 0.5)
    assert s2.base_lrs == [0.1, 0.05]
    # resuming with last_epoch >= 0 needs initial_lr
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(sgd(), 3, last_epoch=5)
    opt = sgd()
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    s = L.LambdaLR(opt, lambda e: 0.5**e, last_epoch=4)
    assert s.last_epoch == 5 and lrs_of(opt) == [0.1 * 0.5**5, 0.05 * 0.5**5]


def test_get_last_lr_is_a_copy():
    opt = sgd()
    s = L.ExponentialLR(opt, 0.9)
    s.step()
    last = s.get_last_lr()
    last[0] = 123.0
    assert s.get_last_lr()[0] == pytest.approx(0.09)


def test_state_dict_is_a_deep_copy_and_picklable():
    opt = sgd()
    s = L.MultiStepLR(opt, [5, 10])
    for _ in range(3):
        s.step()
    saved = s.state_dict()
    for _ in range(10):
        s.step()
    assert saved["last_epoch"] == 3 and saved["_last_lr"] == [0.1, 0.05]
    assert "optimizer" not in saved
    pickle.dumps(saved)


def test_load_state_dict_restores_lr_and_checks_group_count():
    opt = sgd()
    s = L.CosineAnnealingLR(opt, 50)
    for _ in range(20):
        s.step()
    saved = s.state_dict()
    opt2 = sgd()
    s2 = L.CosineAnnealingLR(opt2, 50)
    s2.load_state_dict(saved)
    assert lrs_of(opt2) == lrs_of(opt)
    for _ in range(20):
        s.step()
        s2.step()
    assert lrs_of(opt2) == lrs_of(opt)
    with pytest.raises(ValueError, match="param groups"):
        L.CosineAnnealingLR(sgd((0.1,)), 50).load_state_dict(saved)


class Halving:
    """A callable object: its attributes are saved in state_dict."""

    def __init__(self):
        self.factor = 0.5

    def __call__(self, epoch):
        return self.factor ** (epoch // 10)


def test_lambda_state_saves_callable_objects_not_functions():
    opt = sgd()
    fn = Halving()
    s = L.LambdaLR(opt, [fn, lambda e: 1.0])
    fn.factor = 0.25
    saved = s.state_dict()
    assert saved["lr_lambdas"] == [{"factor": 0.25}, None]
    fresh = Halving()
    s2 = L.LambdaLR(sgd(), [fresh, lambda e: 1.0])
    s2.load_state_dict(saved)
    assert fresh.factor == 0.25


RESUMABLE = [
    ("schedule-lr", lambda o: L.ScheduleLR(o, S.WarmupCosineDecay(0.1, 20, 200))),
    ("schedule-lr-noisy", lambda o: L.ScheduleLR(o, S.NoisyLinearCosineDecay(0.1, 200, seed=5))),
    ("wsd", lambda o: L.WarmupStableDecayLR(o, 200, 10, 50, decay_shape="cosine")),
    (
        "sequential-of-schedule-lr",
        lambda o: L.SequentialLR(
            o, [L.ScheduleLR(o, S.Linear(0.0, 0.1, 30)), L.ExponentialLR(o, 0.98)], milestones=[30]
        ),
    ),
    (
        "chained",
        lambda o: L.ChainedScheduler([L.StepLR(o, 17, 0.5), L.LinearLR(o, 0.1, 1.0, 40)]),
    ),
    ("cyclic", lambda o: L.CyclicLR(o, 0.01, 0.1, 11)),
    ("one-cycle", lambda o: L.OneCycleLR(o, 0.1, total_steps=200)),
    ("warm-restarts", lambda o: L.CosineAnnealingWarmRestarts(o, 7, 2)),
]


@pytest.mark.parametrize("make", [c[1] for c in RESUMABLE], ids=[c[0] for c in RESUMABLE])
def test_resume_continues_exact_sequence(make):
    opt = sgd()
    ref_lrs, ref_moms = drive(make(opt), opt, n=199)
    for k in (1, 29, 30, 31, 120):
        opt = sgd()
        s = make(opt)
        for _ in range(k):
            s.step()
        saved = pickle.loads(pickle.dumps(s.state_dict()))
        opt2 = sgd()
        s2 = make(opt2)
        s2.load_state_dict(saved)
        lrs, moms = drive(s2, opt2, n=199 - k)
        assert np.array_equal(lrs, ref_lrs[k:]), k
        assert np.array_equal(moms, ref_moms[k:]), k


def test_schedule_momentum_resume():
    def make(o):
        return L.ScheduleMomentum(o, S.SutskeverMomentum(period=7))

    opt = sgd()
    ref = drive(make(opt), opt, n=100)[1]
    opt = sgd()
    s = make(opt)
    for _ in range(33):
        s.step()
    saved = pickle.loads(pickle.dumps(s.state_dict()))
    opt2 = sgd()
    s2 = make(opt2)
    s2.load_state_dict(saved)
    assert momenta_of(opt2) == list(ref[33])
    for k in range(34, 101):
        s2.step()
        assert momenta_of(opt2) == list(ref[k])


def test_sequential_restarts_next_scheduler_at_milestone():
    opt = sgd((1.0,))
    s = L.SequentialLR(opt, [L.ConstantLR(opt, 0.1, 100), L.ExponentialLR(opt, 0.5)], milestones=[3])
    seq = [lrs_of(opt)[0]]
    for _ in range(5):
        s.step()
        seq.append(lrs_of(opt)[0])
    np.testing.assert_allclose(seq, [0.1, 0.1, 0.1, 1.0, 0.5, 0.25])


def test_reduce_on_plateau_scenario():
    opt = sgd((1.0, 0.5))
    s = L.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=[0.2, 0.0], threshold=0.0)
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.9, 0.9, 0.9]
    seen = []
    for m in metrics:
        s.step(m)
        seen.append(lrs_of(opt))
    expected = [
        [1.0, 0.5],  # best 1.0
        [1.0, 0.5],  # best 0.9
        [1.0, 0.5],  # bad 1
        [1.0, 0.5],  # bad 2
        [0.5, 0.25],  # bad 3 > patience: cut, cooldown 1
        [0.5, 0.25],  # cooldown: not counted
        [0.5, 0.25],  # bad 1
        [0.5, 0.25],  # bad 2
        [0.5, 0.25],  # improvement
        [0.5, 0.25],
        [0.5, 0.25],
        [0.25, 0.125],  # cut again
    ]
    assert seen == expected
    for m in [0.9] * 8:
        s.step(m)
    assert lrs_of(opt)[0] == 0.2  # min_lr per group
    assert s.get_last_lr() == lrs_of(opt)
    saved = pickle.loads(pickle.dumps(s.state_dict()))
    assert saved["best"] == 0.8 and saved["mode_worse"] == math.inf


def test_reduce_on_plateau_eps_skips_tiny_changes():
    opt = sgd((1e-8,))
    s = L.ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=1e-8)
    s.step(1.0)
    s.step(1.0)
    assert lrs_of(opt) == [1e-8]


def test_composite_validation():
    opt, other = sgd(), sgd()
    a = L.StepLR(opt, 5)
    with pytest.raises(ValueError, match="different optimizer"):
        L.SequentialLR(opt, [a, L.StepLR(other, 5)], milestones=[3])
    with pytest.raises(ValueError, match="milestones"):
        L.SequentialLR(opt, [a, L.ExponentialLR(opt, 0.9)], milestones=[3, 6])
    with pytest.raises(ValueError, match="milestones.*increasing"):
        L.SequentialLR(opt, [a, L.ExponentialLR(opt, 0.9), L.StepLR(opt, 3)], milestones=[6, 3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        L.ChainedScheduler([a, L.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="ChainedScheduler"):
        L.SequentialLR(opt, [a, L.ChainedScheduler([L.ExponentialLR(opt, 0.9)])], milestones=[3])
    with pytest.raises(ValueError, match="schedulers"):
        L.ChainedScheduler([])


BAD = [
    (lambda o: L.StepLR(o, 0), ValueError, "step_size"),
    (lambda o: L.StepLR(o, 2.5), ValueError, "step_size"),
    (lambda o: L.StepLR(o, 5, gamma=-0.1), ValueError, "gamma"),
    (lambda o: L.StepLR(o, 5, gamma=float("nan")), ValueError, "gamma"),
    (lambda o: L.MultiStepLR(o, [30, 10]), ValueError, "milestones.*increasing"),
    (lambda o: L.MultiStepLR(o, [10, 10]), ValueError, "milestones.*increasing"),
    (lambda o: L.MultiStepLR(o, [-5, 10]), ValueError, "milestones"),
    (lambda o: L.ConstantLR(o, factor=1.5), ValueError, "factor"),
    (lambda o: L.ConstantLR(o, total_iters=-1), ValueError, "total_iters"),
    (lambda o: L.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: L.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
    (lambda o: L.ExponentialLR(o, gamma=float("inf")), ValueError, "gamma"),
    (lambda o: L.PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: L.PolynomialLR(o, power=-2), ValueError, "power"),
    (lambda o: L.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: L.CosineAnnealingLR(o, T_max=-10), ValueError, "T_max"),
    (lambda o: L.CosineAnnealingLR(o, T_max=10, eta_min=-1), ValueError, "eta_min"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=0), ValueError, "T_mult"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=1.5), ValueError, "T_mult"),
    (lambda o: L.CyclicLR(o, 0.1, 1.0, mode="sawtooth"), ValueError, "mode"),
    (lambda o: L.CyclicLR(o, 0.1, 1.0, scale_mode="epochs"), ValueError, "scale_mode"),
    (lambda o: L.CyclicLR(o, 0.1, 1.0, step_size_up=0), ValueError, "step_size_up"),
    (lambda o: L.CyclicLR(o, -0.1, 1.0), ValueError, "base_lr"),
    (lambda o: L.CyclicLR(o, [0.1], 1.0), ValueError, "base_lr"),
    (lambda o: L.CyclicLR(o, 0.1, 1.0, max_momentum=1.5), ValueError, "max_momentum"),
    (lambda o: L.CyclicLR(FakeOptimizer(), 0.1, 1.0), ValueError, "cycle_momentum"),
    (lambda o: L.OneCycleLR(o, 0.1), ValueError, "total_steps"),
    (lambda o: L.OneCycleLR(o, 0.1, total_steps=-5), ValueError, "total_steps"),
    (lambda o: L.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=10), ValueError, "epochs"),
    (lambda o: L.OneCycleLR(o, 0.1, total_steps=100, pct_start=-0.1), ValueError, "pct_start"),
    (lambda o: L.OneCycleLR(o, 0.1, total_steps=100, anneal_strategy="cosine"), ValueError, "anneal_strategy"),
    (lambda o: L.OneCycleLR(o, float("nan"), total_steps=100), ValueError, "max_lr"),
    (lambda o: L.OneCycleLR(o, 0.1, total_steps=100, div_factor=0), ValueError, "div_factor"),
    (lambda o: L.ReduceLROnPlateau(o, mode="minimum"), ValueError, "mode"),
    (lambda o: L.ReduceLROnPlateau(o, threshold_mode="relative"), ValueError, "threshold_mode"),
    (lambda o: L.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: L.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: L.ReduceLROnPlateau(o, cooldown=-1), ValueError, "cooldown"),
    (lambda o: L.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lr"),
    (lambda o: L.ReduceLROnPlateau(o, min_lr=-1), ValueError, "min_lr"),
    (lambda o: L.ReduceLROnPlateau(o, eps=float("nan")), ValueError, "eps"),
    (lambda o: L.ReduceLROnPlateau(o, threshold=-1e-4), ValueError, "threshold"),
    (lambda o: L.LambdaLR(o, [lambda e: 1.0]), ValueError, "lr_lambda"),
    (lambda o: L.LambdaLR(o, 3.0), TypeError, "lr_lambda"),
    (lambda o: L.WarmupCosineLR(o, 200, 100), ValueError, "warmup_steps.*total_steps"),
    (lambda o: L.WarmupStableDecayLR(o, 100, 50, 60), ValueError, "total_steps"),
    (lambda o: L.WarmupMultiStepLR(o, [10, 5]), ValueError, "milestones"),
    (lambda o: L.ScheduleLR(o, "cosine"), TypeError, "schedule"),
    (lambda o: L.StepLR(o, 5, last_epoch=-2), ValueError, "last_epoch"),
    (lambda o: L.StepLR(object(), 5), TypeError, "not an optimizer"),
]


@pytest.mark.parametrize("make,exc,pattern", BAD, ids=[f"{i}-{p.split('.')[0]}" for i, (_, _, p) in enumerate(BAD)])
def test_bad_input(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make(sgd())
