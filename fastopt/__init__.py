"""fastopt: fused, multi-threaded C kernels for neural-network optimizers over NumPy arrays.

Each update rule is one in-place pass over memory per step, for float32 and
float64, with OpenMP across blocks of all parameters at once, behind classes
with torch.optim's API. See docs/architecture.md for the layers.
"""
__version__ = "0.1.0"

from . import _engine  # noqa: F401  (the compiled extension)
from ._config import available_cpus, config, get_cpu, set_cpu, show_config, use_cpu
from ._threads import get_num_threads, set_num_threads
from .optimizer import Optimizer
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
from .sam import SAM
from .lookahead import Lookahead
from .lbfgs import LBFGS
from .sparse_adam import RowSparseGrad, SparseAdam
from .muon import Muon
from .rprop import Rprop
from .asgd import ASGD
from .lion import Lion
from .adabelief import AdaBelief
from .diag_lm import DiagonalLM
from .noisy_sgd import NoisySGD
from .adafactor import Adafactor
from .serialization import load, save
from . import functional
from . import lr_scheduler, schedules
from .plotting import plot_schedule
from .gradcheck import GradcheckResult, gradcheck
from .averaging import EMA, SWA
from .clip import clip_by_global_norm_, clip_by_value_, global_norm
from . import testfunctions

__all__ = [
    # optimizers (torch.optim rules)
    "Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam",
    "Rprop", "ASGD", "Adafactor", "LBFGS", "SparseAdam", "RowSparseGrad", "Muon",
    # beyond torch.optim
    "AdaBelief", "Lion", "LAMB", "LARS", "NoisySGD", "DiagonalLM", "SAM", "Lookahead",
    # functional forms, state files, schedules
    "functional", "save", "load",
    "lr_scheduler", "schedules", "plot_schedule",
    # training tools
    "gradcheck", "GradcheckResult", "testfunctions", "EMA", "SWA",
    "clip_by_value_", "clip_by_global_norm_", "global_norm",
    # threads and CPU configuration
    "get_num_threads", "set_num_threads",
    "show_config", "config", "get_cpu", "set_cpu", "use_cpu", "available_cpus",
]
