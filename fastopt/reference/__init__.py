"""Plain NumPy reference implementations of every fastopt rule.

Written from the published formulas, in the operation order torch.optim uses,
one tensor at a time in Python: slow, obvious, and the oracle the fused
kernels are tested against (and the NumPy peer in the benchmarks). Run in the
arrays' own dtype, with per-step scalars computed in double and cast to that
dtype as the kernels do, they agree with the kernels bit for bit; run on
float64 copies, they check float32 kernels to a tolerance.

Each reference optimizer takes a list of arrays (updated in place), keeps its
state as ``self.state[i]`` dicts with torch's key names, and has
``step(grads)``.
"""
from .base import ReferenceOptimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .adagrad import Adagrad
from .rmsprop import RMSprop
from .adadelta import Adadelta
from .adamax import Adamax
from .radam import RAdam
from .nadam import NAdam
from .lamb import LAMB
from .lars import LARS
from .sparse_adam import SparseAdam
from .muon import Muon
from .rprop import Rprop
from .asgd import ASGD
from .lion import Lion
from .adabelief import AdaBelief
from .diag_lm import DiagonalLM
from .noisy_sgd import NoisySGD

from .adafactor import Adafactor

__all__ = ["ReferenceOptimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "RAdam", "NAdam",
           "LAMB", "LARS", "SparseAdam", "Muon", "Rprop", "ASGD", "Lion", "AdaBelief", "DiagonalLM", "NoisySGD",
           "Adafactor"]
