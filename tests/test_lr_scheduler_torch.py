"""Parity of fastopt.lr_scheduler with torch.optim.lr_scheduler.

Each case builds the same scheduler (same arguments) from both modules: the
torch one drives a real ``torch.optim`` optimizer, ours a fake optimizer with
the same param groups and defaults. The learning rates and momenta (SGD's
``momentum`` or Adam's ``betas[0]``) of every group are recorded after
construction and after each step, and compared elementwise.
"""

from __future__ import annotations

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastopt.lr_scheduler as F  # noqa: E402

T = torch.optim.lr_scheduler
N_STEPS = 300
RTOL = 1e-12
ATOL = 1e-15


class FakeOptimizer:
    """Just enough of an optimizer: ``param_groups`` and ``defaults``."""

    def __init__(self, defaults, groups):
        self.defaults = copy.deepcopy(defaults)
        self.param_groups = [dict(copy.deepcopy(g), params=[np.zeros(3)]) for g in groups]

    def step(self):
        pass


def _torch_optimizer(kind, groups):
    params = [dict(g, params=[torch.nn.Parameter(torch.zeros(3))]) for g in groups]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)
    if kind == "adam":
        return torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999))
    raise AssertionError(kind)


def _fake_like(topt):
    groups = [{k: v for k, v in g.items() if k != "params"} for g in topt.param_groups]
    return FakeOptimizer(topt.defaults, groups)


TWO_GROUPS = [{"lr": 0.1}, {"lr": 0.05}]
ONE_GROUP = [{"lr": 0.1}]


def _metrics(n, seed=0):
    """A loss curve that improves, then plateaus with noise, then improves."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + 1)
    trend = np.where(t < 60, 1.0 - t / 100, np.where(t < 180, 0.4, 0.4 - (t - 180) / 1000))
    return (trend + 0.01 * rng.standard_normal(n + 1)).tolist()


# (id, optimizer kind, groups, factory(module, optimizer), stepper or None)
# A stepper is called as stepper(scheduler, i) for step i = 0 .. N-1.
CASES = [
    ("lambda", "sgd", TWO_GROUPS, lambda M, o: M.LambdaLR(o, lambda t: 0.99**t), None),
    (
        "lambda-per-group",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.LambdaLR(o, [lambda t: 1.0 / (1 + 0.1 * t), lambda t: 0.5 ** (t // 40)]),
        None,
    ),
    ("multiplicative", "sgd", TWO_GROUPS, lambda M, o: M.MultiplicativeLR(o, lambda t: 0.993), None),
    (
        "multiplicative-per-group",
        "adam",
        TWO_GROUPS,
        lambda M, o: M.MultiplicativeLR(o, [lambda t: 0.99, lambda t: 1.0 if t % 50 else 0.5]),
        None,
    ),
    ("step", "sgd", TWO_GROUPS, lambda M, o: M.StepLR(o, step_size=30), None),
    ("step-7-0.7", "sgd", ONE_GROUP, lambda M, o: M.StepLR(o, step_size=7, gamma=0.7), None),
    ("multistep", "sgd", TWO_GROUPS, lambda M, o: M.MultiStepLR(o, milestones=[10, 50, 120], gamma=0.3), None),
    ("constant", "sgd", TWO_GROUPS, lambda M, o: M.ConstantLR(o), None),
    ("constant-0.5-40", "sgd", ONE_GROUP, lambda M, o: M.ConstantLR(o, factor=0.5, total_iters=40), None),
    ("linear", "sgd", TWO_GROUPS, lambda M, o: M.LinearLR(o), None),
    (
        "linear-0.1-0.9-100",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=100),
        None,
    ),
    (
        "linear-decay-to-0",
        "adam",
        ONE_GROUP,
        lambda M, o: M.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=250),
        None,
    ),
    ("exponential", "sgd", TWO_GROUPS, lambda M, o: M.ExponentialLR(o, gamma=0.99), None),
    ("polynomial", "sgd", TWO_GROUPS, lambda M, o: M.PolynomialLR(o), None),
    ("polynomial-200-2", "sgd", TWO_GROUPS, lambda M, o: M.PolynomialLR(o, total_iters=200, power=2.0), None),
    ("polynomial-250-0.5", "sgd", ONE_GROUP, lambda M, o: M.PolynomialLR(o, total_iters=250, power=0.5), None),
    ("cosine-50", "sgd", TWO_GROUPS, lambda M, o: M.CosineAnnealingLR(o, T_max=50), None),
    ("cosine-100-min", "sgd", TWO_GROUPS, lambda M, o: M.CosineAnnealingLR(o, T_max=100, eta_min=0.001), None),
    ("cosine-300", "adam", ONE_GROUP, lambda M, o: M.CosineAnnealingLR(o, T_max=N_STEPS), None),
    ("warm-restarts-10", "sgd", TWO_GROUPS, lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=10), None),
    (
        "warm-restarts-7-x2",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2, eta_min=1e-4),
        None,
    ),
    (
        "warm-restarts-fractional",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3),
        lambda s, i: s.step(i / 8),
    ),
    (
        "warm-restarts-fractional-mult1",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=4),
        lambda s, i: s.step(0.25 * i + 0.1),
    ),
    (
        "cyclic-triangular-sgd",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=20),
        None,
    ),
    (
        "cyclic-triangular2-asym",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.CyclicLR(
            o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=15, step_size_down=25, mode="triangular2"
        ),
        None,
    ),
    (
        "cyclic-exp-range",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.CyclicLR(o, 0.001, 0.01, step_size_up=10, mode="exp_range", gamma=0.995),
        None,
    ),
    (
        "cyclic-scale-fn-iterations",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.CyclicLR(
            o, 0.001, 0.01, step_size_up=12, scale_fn=lambda x: 1.0 / (1.0 + 0.01 * x), scale_mode="iterations"
        ),
        None,
    ),
    (
        "cyclic-scale-fn-cycle-momentum",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.CyclicLR(
            o,
            0.001,
            0.01,
            step_size_up=9,
            scale_fn=lambda c: 0.8**c,
            base_momentum=[0.7, 0.75],
            max_momentum=[0.95, 0.9],
        ),
        None,
    ),
    (
        "cyclic-adam-betas",
        "adam",
        TWO_GROUPS,
        lambda M, o: M.CyclicLR(o, 1e-4, 1e-3, step_size_up=25, mode="triangular2"),
        None,
    ),
    (
        "cyclic-adam-no-momentum",
        "adam",
        ONE_GROUP,
        lambda M, o: M.CyclicLR(o, 1e-4, 1e-3, step_size_up=25, cycle_momentum=False),
        None,
    ),
    ("onecycle-cos-sgd", "sgd", TWO_GROUPS, lambda M, o: M.OneCycleLR(o, max_lr=0.1, total_steps=N_STEPS), None),
    (
        "onecycle-linear",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=N_STEPS, anneal_strategy="linear"),
        None,
    ),
    (
        "onecycle-three-phase",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.OneCycleLR(o, max_lr=0.3, total_steps=N_STEPS, three_phase=True, pct_start=0.25),
        None,
    ),
    (
        "onecycle-div-factors",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.OneCycleLR(
            o, max_lr=1.0, total_steps=N_STEPS, div_factor=10.0, final_div_factor=100.0, pct_start=0.4
        ),
        None,
    ),
    (
        "onecycle-epochs-adam",
        "adam",
        TWO_GROUPS,
        lambda M, o: M.OneCycleLR(o, max_lr=1e-3, epochs=10, steps_per_epoch=30, base_momentum=0.8),
        None,
    ),
    (
        "onecycle-three-phase-linear-adam",
        "adam",
        ONE_GROUP,
        lambda M, o: M.OneCycleLR(o, max_lr=1e-3, total_steps=N_STEPS, three_phase=True, anneal_strategy="linear"),
        None,
    ),
    (
        "onecycle-no-momentum",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.OneCycleLR(o, max_lr=0.1, total_steps=N_STEPS, cycle_momentum=False),
        None,
    ),
    (
        "sequential-linear-exp",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.SequentialLR(
            o, [M.LinearLR(o, start_factor=0.1, total_iters=10), M.ExponentialLR(o, gamma=0.98)], milestones=[10]
        ),
        None,
    ),
    (
        "sequential-three",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.SequentialLR(
            o,
            [M.ConstantLR(o, factor=0.5, total_iters=5), M.CosineAnnealingLR(o, T_max=100), M.StepLR(o, 30, 0.5)],
            milestones=[20, 120],
        ),
        None,
    ),
    (
        "sequential-lambda-multistep",
        "adam",
        ONE_GROUP,
        lambda M, o: M.SequentialLR(
            o, [M.LambdaLR(o, lambda t: (t + 1) / 15), M.MultiStepLR(o, [40, 100], 0.2)], milestones=[15]
        ),
        None,
    ),
    (
        "sequential-multiplicative-polynomial",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.SequentialLR(
            o, [M.MultiplicativeLR(o, lambda t: 1.02), M.PolynomialLR(o, total_iters=150, power=2.0)], milestones=[30]
        ),
        None,
    ),
    (
        "sequential-chained-first",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.SequentialLR(
            o,
            [
                M.ChainedScheduler([M.LinearLR(o, start_factor=0.25, total_iters=8), M.ExponentialLR(o, 0.995)]),
                M.CosineAnnealingLR(o, T_max=100, eta_min=0.001),
            ],
            milestones=[30],
        ),
        None,
    ),
    (
        "chained-constant-exp",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.ChainedScheduler([M.ConstantLR(o, factor=0.2, total_iters=20), M.ExponentialLR(o, 0.99)]),
        None,
    ),
    (
        "chained-linear-step-cosine",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.ChainedScheduler(
            [M.LinearLR(o, 0.5, 1.0, 25), M.StepLR(o, 60, 0.5), M.CosineAnnealingLR(o, T_max=80)]
        ),
        None,
    ),
    (
        "chained-warmup-cyclic",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.ChainedScheduler(
            [M.CyclicLR(o, 0.01, 0.1, step_size_up=20), M.LinearLR(o, 0.5, 1.0, 30)], optimizer=o
        ),
        None,
    ),
    ("plateau-default", "sgd", TWO_GROUPS, lambda M, o: M.ReduceLROnPlateau(o), lambda s, i: s.step(_METRICS[i])),
    (
        "plateau-max-abs-cooldown",
        "sgd",
        TWO_GROUPS,
        lambda M, o: M.ReduceLROnPlateau(
            o, mode="max", factor=0.5, patience=2, threshold=0.01, threshold_mode="abs", cooldown=3
        ),
        lambda s, i: s.step(-_METRICS[i]),
    ),
    (
        "plateau-min-lr-per-group",
        "adam",
        TWO_GROUPS,
        lambda M, o: M.ReduceLROnPlateau(o, factor=0.3, patience=1, min_lr=[0.02, 0.001], threshold=0.05),
        lambda s, i: s.step(_METRICS[i]),
    ),
    (
        "plateau-eps",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.ReduceLROnPlateau(o, factor=0.9, patience=0, eps=0.005, min_lr=0.05),
        lambda s, i: s.step(_METRICS[i]),
    ),
    (
        "plateau-max-rel",
        "sgd",
        ONE_GROUP,
        lambda M, o: M.ReduceLROnPlateau(o, mode="max", patience=4, threshold=0.02, cooldown=1),
        lambda s, i: s.step(1.0 - _METRICS[i]),
    ),
]

_METRICS = _metrics(N_STEPS)
CASE_IDS = [c[0] for c in CASES]


def _snapshot(opt):
    row = []
    for g in opt.param_groups:
        row.append(float(g["lr"]))
        if "betas" in g:
            row.append(float(g["betas"][0]))
        elif "momentum" in g:
            row.append(float(g["momentum"]))
    return row


def _step(sched, stepper, i):
    if stepper is None:
        sched.step()
    else:
        stepper(sched, i)


def _run(module, opt, factory, stepper, start=0, stop=N_STEPS, sched=None):
    """Record groups after construction (if ``sched`` is None) and after each
    of steps ``start .. stop-1``; also check get_last_lr() each time."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if sched is None:
            sched = factory(module, opt)
            rows.append(_snapshot(opt))
        for i in range(start, stop):
            opt.step()
            _step(sched, stepper, i)
            rows.append(_snapshot(opt))
            assert [float(x) for x in sched.get_last_lr()] == [float(g["lr"]) for g in opt.param_groups]
    return sched, np.array(rows)


def _reference(kind, groups, factory, stepper):
    topt = _torch_optimizer(kind, groups)
    return _run(T, topt, factory, stepper)[1]


@pytest.fixture(scope="module")
def references():
    return {}


def _get_reference(references, case):
    name, kind, groups, factory, stepper = case
    if name not in references:
        references[name] = _reference(kind, groups, factory, stepper)
    return references[name]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_sequence_matches_torch(case, references):
    name, kind, groups, factory, stepper = case
    expected = _get_reference(references, case)
    fake = _fake_like(_torch_optimizer(kind, groups))
    _, got = _run(F, fake, factory, stepper)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("restore_optimizer_first", [False, True], ids=["fresh-optimizer", "restored-optimizer"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_resume_from_state_dict_continues_torch_sequence(case, restore_optimizer_first, references):
    """Save at step k, build a new optimizer + scheduler, load, continue: the
    whole sequence equals torch's uninterrupted one. With
    ``restore_optimizer_first`` the new optimizer's param groups are restored
    *before* the scheduler is built (the order that breaks torch)."""
    name, kind, groups, factory, stepper = case
    expected = _get_reference(references, case)
    for k in (1, 11, N_STEPS // 3 + 7):
        fake = _fake_like(_torch_optimizer(kind, groups))
        sched, head = _run(F, fake, factory, stepper, stop=k)
        saved = pickle.loads(pickle.dumps(sched.state_dict()))
        saved_groups = copy.deepcopy([{k2: v for k2, v in g.items() if k2 != "params"} for g in fake.param_groups])
        # keep stepping the old one a bit: the saved state must not alias it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _step(sched, stepper, k)

        fresh = _fake_like(_torch_optimizer(kind, groups))
        if restore_optimizer_first:
            for g, s in zip(fresh.param_groups, saved_groups):
                g.update(copy.deepcopy(s))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resumed = factory(F, fresh)
        resumed.load_state_dict(saved)
        assert _snapshot(fresh) == list(head[-1])
        _, tail = _run(F, fresh, factory, stepper, start=k, sched=resumed)
        got = np.concatenate([head, tail[0:]])
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=f"resumed at k={k}")


@pytest.mark.parametrize(
    "factory",
    [
        lambda M, o: M.StepLR(o, step_size=9, gamma=0.5),
        lambda M, o: M.MultiStepLR(o, [5, 17], gamma=0.5),
        lambda M, o: M.ExponentialLR(o, gamma=0.97),
        lambda M, o: M.CosineAnnealingLR(o, T_max=40, eta_min=0.01),
        lambda M, o: M.LinearLR(o, 0.2, 0.8, 30),
        lambda M, o: M.ConstantLR(o, 0.3, 12),
        lambda M, o: M.PolynomialLR(o, 45, 1.5),
    ],
    ids=["step", "multistep", "exponential", "cosine", "linear", "constant", "polynomial"],
)
def test_step_with_epoch_uses_closed_form_like_torch(factory):
    epochs = [3, 10, 11, 25, 40, 41, 80, 7, 0]
    rows = {}
    for M, opt in ((T, _torch_optimizer("sgd", TWO_GROUPS)), (F, None)):
        if opt is None:
            opt = _fake_like(_torch_optimizer("sgd", TWO_GROUPS))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = factory(M, opt)
            seq = []
            for e in epochs:
                s.step(e)
                seq.append(_snapshot(opt))
                s.step()
                seq.append(_snapshot(opt))
        rows[M] = np.array(seq)
    np.testing.assert_allclose(rows[F], rows[T], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "factory",
    [
        lambda M, o: M.LambdaLR(o, lambda t: 0.9**t, last_epoch=12),
        lambda M, o: M.StepLR(o, step_size=5, last_epoch=9),
        lambda M, o: M.ExponentialLR(o, gamma=0.9, last_epoch=3),
        lambda M, o: M.CosineAnnealingLR(o, T_max=30, last_epoch=4),
        lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=5, last_epoch=7),
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=6, T_mult=2, last_epoch=20),
    ],
    ids=["lambda", "step", "exponential", "cosine", "cyclic", "warm-restarts"],
)
def test_explicit_last_epoch_like_torch(factory):
    rows = {}
    for M in (T, F):
        topt = _torch_optimizer("sgd", TWO_GROUPS)
        for g in topt.param_groups:
            g["initial_lr"] = g["lr"]
        opt = topt if M is T else _fake_like(topt)
        rows[M] = _run(M, opt, factory, None, stop=60)[1]
    np.testing.assert_allclose(rows[F], rows[T], rtol=RTOL, atol=ATOL)


def test_warm_restarts_exact_restart_epochs():
    """At exact restart epochs torch's log-based period index can be one
    off (e.g. T_0=1, T_mult=3, epoch 121): ours restarts there, and agrees
    with torch wherever torch's logarithm is right."""
    fake = FakeOptimizer({"lr": 1.0}, [{"lr": 1.0}])
    s = F.CosineAnnealingWarmRestarts(fake, T_0=1, T_mult=3)
    s.step(121)  # restarts at 1, 4, 13, 40, 121
    assert s.T_cur == 0 and s.T_i == 243
    assert fake.param_groups[0]["lr"] == 1.0
    for epoch in (1, 4, 13, 40, 5.5, 100.25, 200):
        topt = _torch_optimizer("sgd", ONE_GROUP)
        ts = T.CosineAnnealingWarmRestarts(topt, T_0=1, T_mult=3)
        fk = _fake_like(_torch_optimizer("sgd", ONE_GROUP))
        fs = F.CosineAnnealingWarmRestarts(fk, T_0=1, T_mult=3)
        ts.step(epoch)
        fs.step(epoch)
        assert math.isclose(fk.param_groups[0]["lr"], topt.param_groups[0]["lr"], rel_tol=1e-12)


def test_schedulers_drive_a_real_torch_optimizer():
    """Our schedulers only touch param_groups, so they can drive torch's
    optimizers as well; the sequence matches torch's scheduler."""
    topt = _torch_optimizer("sgd", TWO_GROUPS)
    ours = _torch_optimizer("sgd", TWO_GROUPS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = T.OneCycleLR(topt, max_lr=0.5, total_steps=50)
        fs = F.OneCycleLR(ours, max_lr=0.5, total_steps=50)
        for _ in range(50):
            topt.step()
            ts.step()
            fs.step()
            np.testing.assert_allclose(_snapshot(ours), _snapshot(topt), rtol=RTOL)


def test_parity_is_mostly_bitwise():
    """Most sequences are bitwise identical to torch's (same arithmetic in
    the same order); this guards against silent reformulations."""
    exact = 0
    for case in CASES:
        name, kind, groups, factory, stepper = case
        expected = _reference(kind, groups, factory, stepper)
        got = _run(F, _fake_like(_torch_optimizer(kind, groups)), factory, stepper)[1]
        exact += bool(np.array_equal(got, expected))
    assert exact >= len(CASES) - 3, f"only {exact} of {len(CASES)} cases are bitwise equal"


@pytest.mark.parametrize("name", [n for n in T.__all__ if n != "LRScheduler"])
def test_same_names_signatures_and_defaults_as_torch(name):
    import inspect

    ours, theirs = getattr(F, name), getattr(T, name)
    ps = [(p.name, p.default) for p in inspect.signature(ours).parameters.values() if p.name != "verbose"]
    pt = [(p.name, p.default) for p in inspect.signature(theirs).parameters.values() if p.name != "verbose"]
    assert ps == pt
    for method in ("step", "get_last_lr", "state_dict", "load_state_dict"):
        assert callable(getattr(ours, method))
