"""Learning-rate and momentum schedules: the functional core.

Every schedule maps a step (or an array of steps, in one vectorized call) to
a value, and schedules compose (:class:`Join`, ``*``, ``+``, :class:`Warmup`,
:class:`MomentumSchedule`). Drive an optimizer with one through
:class:`fastopt.lr_scheduler.ScheduleLR` or
:class:`fastopt.lr_scheduler.ScheduleMomentum`.

Example:
    >>> import numpy as np
    >>> from fastopt.schedules import WarmupCosineDecay
    >>> s = WarmupCosineDecay(peak_value=0.1, warmup_steps=10, total_steps=100)
    >>> s(5)
    0.05
    >>> s(np.array([0, 5, 10, 100]))
    array([0.  , 0.05, 0.1 , 0.  ])

This package imports only NumPy.
"""

from .base import Constant, FunctionSchedule, Join, Product, Schedule, Shift, Sum, as_schedule, join
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
from .momentum import (
    AnnealMomentum,
    InverseMomentum,
    MomentumSchedule,
    OneCycleMomentum,
    SutskeverMomentum,
    as_momentum,
)
from .registry import SCHEDULES, list_schedules, make_schedule
from .warmup import Noam, Warmup, WarmupCosineDecay, WarmupMultiStep, WarmupStableDecay

__all__ = [
    # base and composition
    "Schedule",
    "Constant",
    "FunctionSchedule",
    "Join",
    "join",
    "Product",
    "Sum",
    "Shift",
    "as_schedule",
    # decays
    "StepDecay",
    "MultiStepDecay",
    "ExponentialDecay",
    "NaturalExpDecay",
    "InverseTimeDecay",
    "PolynomialDecay",
    "PiecewiseConstant",
    "Linear",
    # cosine family
    "CosineDecay",
    "LinearCosineDecay",
    "NoisyLinearCosineDecay",
    "SGDR",
    # cyclic
    "Cyclic",
    "OneCycle",
    "SlantedTriangular",
    # warm-up
    "Warmup",
    "WarmupCosineDecay",
    "WarmupMultiStep",
    "WarmupStableDecay",
    "Noam",
    # momentum
    "MomentumSchedule",
    "as_momentum",
    "AnnealMomentum",
    "SutskeverMomentum",
    "InverseMomentum",
    "OneCycleMomentum",
    # registry
    "SCHEDULES",
    "list_schedules",
    "make_schedule",
]
