"""A registry of the functional schedules by name, for the command line and
for plots.

Each entry has a constructor and example arguments that scale with the
number of steps drawn, so that ``make_schedule("sgdr", 1000)`` gives a useful
curve; any argument can be overridden.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Constant, Schedule
from .cosine import SGDR, CosineDecay, LinearCosineDecay, NoisyLinearCosineDecay
from .cyclic import Cyclic, OneCycle, SlantedTriangular
from .decay import (
    ExponentialDecay,
    InverseTimeDecay,
    Linear,
    MultiStepDecay,
    NaturalExpDecay,
    PiecewiseConstant,
    PolynomialDecay,
    StepDecay,
)
from .momentum import AnnealMomentum, OneCycleMomentum, SutskeverMomentum
from .warmup import Noam, WarmupCosineDecay, WarmupMultiStep, WarmupStableDecay

__all__ = ["RegistryEntry", "SCHEDULES", "make_schedule", "list_schedules"]


@dataclass(frozen=True)
class RegistryEntry:
    """A named schedule: its class and example arguments for ``steps`` steps."""

    name: str
    cls: Callable[..., Schedule]
    example: Callable[[int], dict[str, Any]]

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.cls) or ""
        first = doc.split("\n\n", 1)[0]
        return " ".join(first.split())

    @property
    def parameters(self) -> list[str]:
        sig = inspect.signature(self.cls)
        return [p for p in sig.parameters if p != "self"]


def _q(n: int, frac: float) -> int:
    return max(1, int(n * frac))


_ENTRIES = [
    RegistryEntry("constant", Constant, lambda n: {"value": 1.0}),
    RegistryEntry("linear", Linear, lambda n: {"init_value": 1.0, "end_value": 0.0, "transition_steps": n}),
    RegistryEntry("step_decay", StepDecay, lambda n: {"init_value": 1.0, "step_size": _q(n, 0.25), "gamma": 0.5}),
    RegistryEntry(
        "multistep_decay",
        MultiStepDecay,
        lambda n: {"init_value": 1.0, "milestones": [_q(n, 0.5), _q(n, 0.75)], "gamma": 0.1},
    ),
    RegistryEntry(
        "exponential_decay",
        ExponentialDecay,
        lambda n: {"init_value": 1.0, "decay_steps": _q(n, 0.1), "decay_rate": 0.7, "staircase": False},
    ),
    RegistryEntry(
        "natural_exp_decay",
        NaturalExpDecay,
        lambda n: {"init_value": 1.0, "decay_steps": 1, "decay_rate": 5.0 / max(n, 1)},
    ),
    RegistryEntry(
        "inverse_time_decay",
        InverseTimeDecay,
        lambda n: {"init_value": 1.0, "decay_steps": _q(n, 0.05), "decay_rate": 0.5},
    ),
    RegistryEntry(
        "polynomial_decay",
        PolynomialDecay,
        lambda n: {"init_value": 1.0, "decay_steps": _q(n, 0.3), "end_value": 0.01, "power": 2.0, "cycle": True},
    ),
    RegistryEntry(
        "piecewise_constant",
        PiecewiseConstant,
        lambda n: {"boundaries": [_q(n, 1 / 3), _q(n, 2 / 3)], "values": [1.0, 0.5, 0.1]},
    ),
    RegistryEntry("cosine_decay", CosineDecay, lambda n: {"init_value": 1.0, "decay_steps": n}),
    RegistryEntry(
        "linear_cosine_decay",
        LinearCosineDecay,
        lambda n: {"init_value": 1.0, "decay_steps": n, "num_periods": 2.0},
    ),
    RegistryEntry(
        "noisy_linear_cosine_decay",
        NoisyLinearCosineDecay,
        lambda n: {
            "init_value": 1.0,
            "decay_steps": n,
            "num_periods": 2.0,
            "alpha": 0.1,
            "initial_variance": 0.01,
        },
    ),
    RegistryEntry(
        "sgdr",
        SGDR,
        lambda n: {"init_value": 1.0, "T_0": max(1, math.ceil(n / 15)), "T_mult": 2.0, "decay": 0.7},
    ),
    RegistryEntry(
        "cyclic",
        Cyclic,
        lambda n: {"base_value": 0.1, "max_value": 1.0, "step_size_up": _q(n, 0.1), "mode": "triangular2"},
    ),
    RegistryEntry("one_cycle", OneCycle, lambda n: {"max_value": 1.0, "total_steps": max(n, 4)}),
    RegistryEntry(
        "slanted_triangular",
        SlantedTriangular,
        lambda n: {"max_value": 1.0, "total_steps": max(n, 10)},
    ),
    RegistryEntry(
        "warmup_cosine",
        WarmupCosineDecay,
        lambda n: {"peak_value": 1.0, "warmup_steps": _q(n, 0.1), "total_steps": n},
    ),
    RegistryEntry(
        "warmup_multistep",
        WarmupMultiStep,
        lambda n: {
            "init_value": 1.0,
            "milestones": [_q(n, 0.5), _q(n, 0.75)],
            "warmup_steps": _q(n, 0.05),
        },
    ),
    RegistryEntry(
        "warmup_stable_decay",
        WarmupStableDecay,
        lambda n: {
            "peak_value": 1.0,
            "total_steps": n,
            "warmup_steps": _q(n, 0.05),
            "decay_steps": _q(n, 0.2),
            "decay_shape": "1-sqrt",
        },
    ),
    RegistryEntry("noam", Noam, lambda n: {"d_model": 512, "warmup_steps": _q(n, 0.1)}),
    RegistryEntry(
        "anneal_momentum",
        AnnealMomentum,
        lambda n: {"start_value": 0.5, "end_value": 0.99, "anneal_steps": _q(n, 0.5)},
    ),
    RegistryEntry("sutskever_momentum", SutskeverMomentum, lambda n: {"period": _q(n, 0.05)}),
    RegistryEntry("one_cycle_momentum", OneCycleMomentum, lambda n: {"total_steps": max(n, 4)}),
]

#: Named schedules, in display order.
SCHEDULES: dict[str, RegistryEntry] = {e.name: e for e in _ENTRIES}


def list_schedules() -> list[str]:
    """The registered schedule names."""
    return list(SCHEDULES)


def make_schedule(name: str, steps: int, **params: Any) -> Schedule:
    """Build a registered schedule with example arguments for ``steps`` steps,
    overridden by ``params``.

    Args:
        name (str): a name from :func:`list_schedules`.
        steps (int): the number of steps the schedule will be drawn over.
        **params: arguments of the schedule's constructor.

    Raises:
        ValueError: for an unknown name or an unknown parameter.
    """
    if name not in SCHEDULES:
        raise ValueError(f"name must be one of {', '.join(SCHEDULES)}; got {name!r}")
    entry = SCHEDULES[name]
    unknown = sorted(set(params) - set(entry.parameters))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for schedule {name!r}; it takes"
            f" {', '.join(entry.parameters)}"
        )
    kwargs = entry.example(int(steps))
    kwargs.update(params)
    return entry.cls(**kwargs)
