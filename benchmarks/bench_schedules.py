"""Benchmarks of the schedules (pytest-benchmark).

Run:  python -m pytest benchmarks/bench_schedules.py --benchmark-only
      (add --benchmark-timer=time.process_time on a busy shared machine)

The headline number is ``test_warmup_cosine_1m``: evaluating a cosine
schedule with linear warm-up on an array of 1,000,000 steps, targeted at
< 50 ms (tests/test_schedules.py asserts a loose < 200 ms). The other
vectorized schedules are in the same group for comparison; the per-step
group times stepping a scheduler, next to torch's when torch is installed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fastopt.lr_scheduler as L
from fastopt import schedules as S

N = 1_000_000
STEPS = np.arange(N)

VECTORIZED = {
    "warmup_cosine": lambda: S.WarmupCosineDecay(0.1, 10_000, N),
    "cosine": lambda: S.CosineDecay(0.1, N),
    "warmup_wrapper_cosine": lambda: S.Warmup(S.CosineDecay(0.1, N - 10_000), 10_000),
    "sgdr_mult2_decay": lambda: S.SGDR(0.1, 1000, T_mult=2.0, decay=0.8),
    "one_cycle": lambda: S.OneCycle(0.1, N),
    "cyclic_triangular2": lambda: S.Cyclic(0.01, 0.1, 2000, mode="triangular2"),
    "noisy_linear_cosine": lambda: S.NoisyLinearCosineDecay(0.1, N, seed=0),
    "warmup_stable_decay_1_sqrt": lambda: S.WarmupStableDecay(0.1, N, 10_000, 200_000, decay_shape="1-sqrt"),
    "piecewise_constant": lambda: S.PiecewiseConstant([250_000, 500_000, 750_000], [0.1, 0.05, 0.01, 0.001]),
    "join_3_segments": lambda: S.Join(
        [S.Linear(0.0, 0.1, 10_000), S.Constant(0.1), S.CosineDecay(0.1, 190_000)], [10_000, 810_000]
    ),
}


def _ns_per_step(benchmark, n):
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["ns_per_step"] = round(stats.stats.median / n * 1e9, 2)


@pytest.mark.benchmark(group="vectorized-1M-steps")
def test_warmup_cosine_1m(benchmark):
    sched = VECTORIZED["warmup_cosine"]()
    out = benchmark(sched, STEPS)
    assert out.shape == (N,)
    _ns_per_step(benchmark, N)


@pytest.mark.benchmark(group="vectorized-1M-steps")
@pytest.mark.parametrize("name", [k for k in VECTORIZED if k != "warmup_cosine"])
def test_vectorized_1m(benchmark, name):
    sched = VECTORIZED[name]()
    benchmark(sched, STEPS)
    _ns_per_step(benchmark, N)


@pytest.mark.benchmark(group="vectorized-1M-steps")
def test_python_loop_baseline_100k(benchmark):
    """A plain Python loop over 100k steps, for scale (10x fewer steps)."""

    def loop():
        w, total, peak = 1000, 100_000, 0.1
        out = []
        for t in range(total):
            if t < w:
                out.append(peak * t / w)
            else:
                out.append(peak * 0.5 * (1 + math.cos(math.pi * (t - w) / (total - w))))
        return out

    benchmark.pedantic(loop, rounds=3, iterations=1)
    _ns_per_step(benchmark, 100_000)


class _Opt:
    def __init__(self):
        self.defaults = {"lr": 0.1, "momentum": 0.9}
        self.param_groups = [{"params": [], "lr": 0.1, "momentum": 0.9}]


@pytest.mark.benchmark(group="per-step-10k")
def test_schedule_lr_step(benchmark):
    def run():
        sched = L.ScheduleLR(_Opt(), S.WarmupCosineDecay(0.1, 1000, 10_000))
        for _ in range(10_000):
            sched.step()

    benchmark.pedantic(run, rounds=3, iterations=1)
    _ns_per_step(benchmark, 10_000)


@pytest.mark.benchmark(group="per-step-10k")
def test_cosine_annealing_lr_step(benchmark):
    def run():
        sched = L.CosineAnnealingLR(_Opt(), T_max=10_000)
        for _ in range(10_000):
            sched.step()

    benchmark.pedantic(run, rounds=3, iterations=1)
    _ns_per_step(benchmark, 10_000)


@pytest.mark.benchmark(group="per-step-10k")
def test_torch_cosine_annealing_lr_step(benchmark):
    torch = pytest.importorskip("torch")

    def run():
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10_000)
            for _ in range(10_000):
                sched.step()

    benchmark.pedantic(run, rounds=3, iterations=1)
    _ns_per_step(benchmark, 10_000)
