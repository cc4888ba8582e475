"""Implementation of :mod:`fastopt.lr_scheduler` (see there)."""

from .base import LRScheduler
from .basic import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from .composite import ChainedScheduler, SequentialLR
from .cyclic import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from .functional import (
    NoamLR,
    ScheduleLR,
    ScheduleMomentum,
    SlantedTriangularLR,
    WarmupCosineLR,
    WarmupMultiStepLR,
    WarmupStableDecayLR,
)
from .plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "PolynomialLR",
    "ScheduleLR",
    "ScheduleMomentum",
    "WarmupCosineLR",
    "WarmupMultiStepLR",
    "WarmupStableDecayLR",
    "SlantedTriangularLR",
    "NoamLR",
]
