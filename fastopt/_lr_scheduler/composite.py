"""Schedulers made of schedulers: :class:`SequentialLR` (one after another)
and :class:`ChainedScheduler` (all at once, effects multiplied)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from .base import LRScheduler, check_milestones, param_groups

__all__ = ["SequentialLR", "ChainedScheduler"]


def _check_children(owner: str, optimizer: Any, schedulers: Sequence[Any]) -> list[Any]:
    from .plateau import ReduceLROnPlateau

    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"schedulers must contain at least one scheduler for {owner}")
    for i, sched in enumerate(schedulers):
        if not hasattr(sched, "optimizer"):
            raise TypeError(f"schedulers[{i}] has no `optimizer` attribute; {owner} needs schedulers")
        if isinstance(sched, ReduceLROnPlateau):
            raise ValueError(
                f"schedulers[{i}] is a ReduceLROnPlateau, which {owner} cannot step"
                " (its step() needs a metric)"
            )
        if sched.optimizer is not optimizer:
            raise ValueError(
                f"schedulers[{i}] ({type(sched).__name__}) drives a different optimizer;"
                f" all schedulers of {owner} must share one"
            )
    return schedulers


class _ChildrenStateMixin:
    """state_dict / load_state_dict of the composite schedulers."""

    _not_state = ("optimizer", "_schedulers")
    _schedulers: list[Any]

    def state_dict(self) -> dict[str, Any]:
        state = LRScheduler.state_dict(self)  # type: ignore[arg-type]
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        children = state_dict.get("_schedulers")
        if children is not None:
            if len(children) != len(self._schedulers):
                raise ValueError(
                    f"state_dict holds {len(children)} schedulers, this"
                    f" {type(self).__name__} has {len(self._schedulers)}"
                )
            for sched, state in zip(self._schedulers, children):
                sched.load_state_dict(state)
        # Own state last, so that the learning rate written back is the one
        # of the scheduler that was active.
        LRScheduler.load_state_dict(self, state_dict)  # type: ignore[arg-type]


class SequentialLR(_ChildrenStateMixin, LRScheduler):
    """Hand over from one scheduler to the next at milestones.

    Scheduler ``i`` is active for ``milestones[i-1] <= t < milestones[i]``.
    At a milestone the next scheduler restarts from its step 0 (its closed
    form at 0 where it has one), as in PyTorch. Stepping only steps the active
    scheduler.

    Resuming with :meth:`load_state_dict` continues the exact sequence: it
    restores every child and then writes the active child's learning rate
    back into the optimizer.

    Args:
        optimizer: the optimizer (all schedulers must drive it).
        schedulers (list): the schedulers, in order.
        milestones (list of int): ``len(schedulers) - 1`` strictly increasing
            positive steps.
        last_epoch (int): the last step taken (default: -1).
    """

    def __init__(
        self,
        optimizer: Any,
        schedulers: Sequence[Any],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        param_groups(optimizer)
        schedulers = _check_children(type(self).__name__, optimizer, schedulers)
        milestones = check_milestones("milestones", milestones, positive=True)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"milestones must have len(schedulers) - 1 = {len(schedulers) - 1} entries,"
                f" got {len(milestones)}"
            )
        for i, sched in enumerate(schedulers[1:], start=1):
            if isinstance(sched, ChainedScheduler):
                raise ValueError(
                    f"schedulers[{i}] is a ChainedScheduler, which SequentialLR cannot restart"
                    " at a milestone; put it first, or chain SequentialLRs instead"
                )
        self._schedulers = schedulers
        self._milestones = milestones
        self.optimizer = optimizer
        self.last_epoch = last_epoch + 1
        # The children stepped once on construction: rewind them all and
        # start the first one again from the initial learning rates.
        for group in param_groups(optimizer):
            group["lr"] = group["initial_lr"]
        for sched in self._schedulers:
            self._rewind(sched)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _rewind(self, sched: Any) -> None:
        if hasattr(sched, "_schedulers"):
            for child in sched._schedulers:
                self._rewind(child)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Step the active scheduler (restarting it at its milestone)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def get_lr(self) -> list[float]:
        return self._schedulers[bisect_right(self._milestones, self.last_epoch)].get_lr()


class ChainedScheduler(_ChildrenStateMixin, LRScheduler):
    """Step several schedulers together, so that their (multiplicative)
    effects combine, e.g. a :class:`ConstantLR` warm-up on top of an
    :class:`ExponentialLR`.

    Args:
        schedulers (sequence): the schedulers, stepped in this order.
        optimizer: the optimizer; by default the first scheduler's
            (default: None).
    """

    def __init__(self, schedulers: Sequence[Any], optimizer: Any | None = None) -> None:
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("schedulers must contain at least one scheduler for ChainedScheduler")
        optimizer = optimizer if optimizer is not None else getattr(schedulers[0], "optimizer", None)
        schedulers = _check_children(type(self).__name__, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = [g["lr"] for g in param_groups(optimizer)]

    def step(self) -> None:  # type: ignore[override]
        """Step every scheduler, in order."""
        for sched in self._schedulers:
            sched.step()
        self._last_lr = [g["lr"] for g in param_groups(self.optimizer)]

    def get_lr(self) -> list[float]:
        raise NotImplementedError(
            "ChainedScheduler has no learning rate of its own; use get_last_lr()"
        )
