"""Learning-rate (and momentum) schedulers for fastopt optimizers.

The names, signatures, defaults and stepping semantics (``last_epoch``,
``step()``, ``get_last_lr()``, ``state_dict()`` / ``load_state_dict()``) are
those of :mod:`torch.optim.lr_scheduler`; the learning-rate sequences match
PyTorch's to rounding. Differences, all deliberate:

* ``load_state_dict`` also writes the last learning rates (and cycled
  momenta) back into the optimizer's param groups, so that resuming is exact
  in any order of loading (notably for :class:`SequentialLR`);
* bad arguments (negative or non-finite values, milestones not strictly
  increasing, unknown modes, ...) raise ``ValueError`` naming the argument;
* :class:`CosineAnnealingWarmRestarts` finds the right period at exact
  restart epochs passed to ``step(epoch)`` where PyTorch's logarithm can be
  one period off.

On top of PyTorch's set: :class:`ScheduleLR` and :class:`ScheduleMomentum`
drive an optimizer with any schedule of :mod:`fastopt.schedules`, and
:class:`WarmupCosineLR`, :class:`WarmupMultiStepLR`,
:class:`WarmupStableDecayLR`, :class:`SlantedTriangularLR` and
:class:`NoamLR` are shortcuts for the literature's common schedules.

Schedulers only use ``optimizer.param_groups`` (and ``optimizer.defaults``
when present), so they drive any optimizer with that interface.
"""

from ._lr_scheduler import *  # noqa: F401,F403
from ._lr_scheduler import __all__  # noqa: F401
