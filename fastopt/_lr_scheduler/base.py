"""The :class:`LRScheduler` base class and helpers shared by the schedulers.

A scheduler drives an optimizer that follows the ``torch.optim`` interface:
``optimizer.param_groups`` is a list of dicts with at least ``"lr"``; SGD-like
groups have ``"momentum"``, Adam-like groups ``"betas"``. Schedulers write
into those dicts; nothing else of the optimizer is used.

Step semantics follow ``torch.optim.lr_scheduler``: construction performs an
initial step that sets ``last_epoch`` to 0 (from the default ``-1``) and
writes the step-0 value; each :meth:`LRScheduler.step` then advances
``last_epoch`` by one. Call it after ``optimizer.step()``.

Resuming differs from PyTorch in one way, on purpose: ``load_state_dict``
also writes the learning rates (and cycled momenta) that the scheduler had
last written back into the param groups, so that a resumed run continues
exactly whether or not the optimizer's own state was restored, and in either
order (PyTorch requires constructing the scheduler before
``optimizer.load_state_dict``).
"""

from __future__ import annotations

import copy
import types
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..schedules._validation import check_increasing, check_int

__all__ = ["LRScheduler"]


def param_groups(optimizer: Any) -> list[dict[str, Any]]:
    """Return ``optimizer.param_groups`` after checking it looks like one."""
    groups = getattr(optimizer, "param_groups", None)
    if (
        not isinstance(groups, (list, tuple))
        or not groups
        or not all(isinstance(g, dict) and "lr" in g for g in groups)
    ):
        raise TypeError(
            f"{type(optimizer).__name__} is not an optimizer: expected a non-empty"
            " `param_groups` list of dicts, each with an 'lr' entry"
        )
    return groups  # type: ignore[return-value]


def per_group(name: str, optimizer: Any, value: Any) -> list[Any]:
    """One value per param group: a list/tuple of the right length, or one
    value repeated."""
    n = len(param_groups(optimizer))
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name} must have one entry per param group: expected {n}, got {len(value)}"
            )
        return list(value)
    return [value] * n


def check_milestones(name: str, milestones: Sequence[int], positive: bool = False) -> list[int]:
    """Milestones: integers, strictly increasing, ``>= 0`` (``> 0`` if asked)."""
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
        raise TypeError(f"{name} must be a sequence of integers, got {milestones!r}")
    milestones = list(milestones)
    out = [check_int(f"{name}[{i}]", m, minimum=1 if positive else 0) for i, m in enumerate(milestones)]
    check_increasing(name, out)
    return out


def momentum_key(optimizer: Any) -> str | None:
    """``"betas"`` for Adam-like optimizers, ``"momentum"`` for SGD-like ones
    (looked up in ``optimizer.defaults`` as PyTorch does, else in the first
    param group), or None."""
    defaults = getattr(optimizer, "defaults", None)
    keys = defaults if isinstance(defaults, dict) else param_groups(optimizer)[0]
    if "betas" in keys:
        return "betas"
    if "momentum" in keys:
        return "momentum"
    return None


def set_momentum(group: dict[str, Any], key: str, value: float) -> None:
    """Write a momentum into ``group['momentum']`` or ``group['betas'][0]``."""
    if key == "betas":
        group["betas"] = (value, *tuple(group["betas"])[1:])
    else:
        group["momentum"] = value


def get_momentum(group: dict[str, Any], key: str) -> float:
    """Read ``group['momentum']`` or ``group['betas'][0]``."""
    return group["betas"][0] if key == "betas" else group["momentum"]


def callable_state(fn: Callable[..., Any]) -> dict[str, Any] | None:
    """The picklable state of a callable: the ``__dict__`` of a callable
    object, None for a plain function or lambda (as PyTorch stores it)."""
    if isinstance(fn, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return None
    state = getattr(fn, "__dict__", None)
    return copy.deepcopy(state) if state is not None else None


class LRScheduler:
    """Base class of the learning-rate schedulers (``torch.optim.lr_scheduler``
    semantics).

    Subclasses implement :meth:`get_lr`, the learning rates for the current
    ``last_epoch``, and may implement ``_get_closed_form_lr`` (used when
    :meth:`step` is given an explicit ``epoch``, and by
    :class:`SequentialLR` at its milestones).

    On construction with ``last_epoch=-1`` every param group gets an
    ``"initial_lr"`` entry (if it has none) equal to its ``"lr"``, and
    ``base_lrs`` is read from those entries; with ``last_epoch >= 0`` the
    entries must already exist (a resumed optimizer).

    Args:
        optimizer: an object with ``param_groups`` (see the module doc).
        last_epoch (int): index of the last step taken; ``-1`` starts fresh
            (default: -1).
    """

    #: attributes left out of :meth:`state_dict`
    _not_state: tuple[str, ...] = ("optimizer",)

    def __init__(self, optimizer: Any, last_epoch: int = -1) -> None:
        groups = param_groups(optimizer)
        self.optimizer = optimizer
        last_epoch = check_int("last_epoch", last_epoch, minimum=-1)
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param_groups[{i}] has no 'initial_lr', which is required when"
                        " last_epoch >= 0 (resume the optimizer first, or use"
                        " load_state_dict)"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._initial_step()

    # -- stepping -------------------------------------------------------------
    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for the current ``last_epoch`` (one per group).

        Chainable schedulers compute them from the groups' current ``lr``;
        use :meth:`get_last_lr` to read the last values written.
        """
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler wrote last, one per param group."""
        return list(self._last_lr)

    def step(self, epoch: float | None = None) -> None:
        """Advance one step and write the new learning rates.

        Args:
            epoch (int | None): deprecated in PyTorch and kept for parity:
                jump to this ``last_epoch``, using the closed form when the
                scheduler has one (default: None).
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(
                "passing `epoch` to scheduler.step() is deprecated (as in PyTorch);"
                " call step() without arguments",
                UserWarning,
                stacklevel=2,
            )
        self._update_lr(epoch)

    def _update_lr(self, epoch: float | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        groups = param_groups(self.optimizer)
        if len(values) != len(groups):
            raise RuntimeError(
                f"{type(self).__name__} computed {len(values)} learning rates for"
                f" {len(groups)} param groups"
            )
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: every attribute except the optimizer (and
        callables/schedules, which the constructor rebuilds), deep-copied."""
        return {
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in self._not_state
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` and write the last learning
        rates (and momenta) back into the param groups.

        Args:
            state_dict (dict): a state returned by :meth:`state_dict`.
        """
        state = {k: copy.deepcopy(v) for k, v in state_dict.items() if k not in self._not_state}
        self.__dict__.update(state)
        self._restore_groups()

    def _restore_groups(self) -> None:
        last = getattr(self, "_last_lr", None)
        if last is None:
            return
        groups = param_groups(self.optimizer)
        if len(last) != len(groups):
            raise ValueError(
                f"state_dict holds {len(last)} learning rates but the optimizer has"
                f" {len(groups)} param groups"
            )
        for group, lr in zip(groups, last):
            group["lr"] = lr

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={getattr(self, 'last_epoch', None)})"
