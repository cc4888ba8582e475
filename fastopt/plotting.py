"""Plot a schedule or a scheduler with matplotlib (an optional dependency,
imported only when a new figure is needed: ``pip install fastopt[plot]``)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .schedules.base import Schedule, as_schedule

__all__ = ["plot_schedule"]

_INSTALL_HINT = "plot_schedule needs matplotlib, which is not installed: pip install fastopt[plot]"


def _new_axes() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching
        raise ImportError(_INSTALL_HINT) from exc
    _, ax = plt.subplots()
    return ax


def _is_scheduler(obj: Any) -> bool:
    return hasattr(obj, "optimizer") and hasattr(obj, "step") and hasattr(obj, "state_dict")


def _momentum(group: dict[str, Any]) -> float:
    if "betas" in group:
        return float(group["betas"][0])
    if "momentum" in group:
        return float(group["momentum"])
    raise ValueError("quantity='momentum' but the param groups have no 'momentum' or 'betas'")


def _simulate(scheduler: Any, n: int, quantity: str) -> tuple[np.ndarray, np.ndarray]:
    """Step a scheduler ``n - 1`` times, recording every group, then put the
    scheduler and its optimizer's param groups back as they were."""
    from ._lr_scheduler.plateau import ReduceLROnPlateau

    if isinstance(scheduler, ReduceLROnPlateau) or type(scheduler).__name__ == "ReduceLROnPlateau":
        raise TypeError("ReduceLROnPlateau depends on the metrics passed to step(); it cannot be plotted ahead")
    groups = scheduler.optimizer.param_groups
    saved_groups = [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"} for g in groups]
    saved_state = scheduler.state_dict()
    start = int(getattr(scheduler, "last_epoch", 0))

    def read() -> list[float]:
        if quantity == "momentum":
            return [_momentum(g) for g in groups]
        return [float(g["lr"]) for g in groups]

    rows = [read()]
    try:
        for _ in range(n - 1):
            scheduler.step()
            rows.append(read())
    finally:
        for g, s in zip(groups, saved_groups):
            for key in [k for k in g if k != "params" and k not in s]:
                del g[key]
            g.update(s)
        scheduler.load_state_dict(saved_state)
        for g, s in zip(groups, saved_groups):
            g.update(s)
    return np.arange(start, start + n, dtype=np.float64), np.array(rows)


def plot_schedule(
    schedule_or_scheduler: Any,
    steps: int | Any,
    ax: Any = None,
    *,
    quantity: str | None = None,
    label: str | None = None,
    **plot_kwargs: Any,
) -> Any:
    """Draw a schedule's curve.

    Args:
        schedule_or_scheduler: a :class:`fastopt.schedules.Schedule` (or a
            vectorized callable), evaluated in one call; or a scheduler of
            :mod:`fastopt.lr_scheduler` (anything with ``optimizer``,
            ``step()`` and ``state_dict()``), stepped ahead from where it is
            and then restored, optimizer param groups included: one line per
            param group.
        steps (int | array-like): the number of steps ``N`` (steps
            ``0 .. N-1``), or for a schedule the steps themselves.
        ax (matplotlib.axes.Axes | None): where to draw; a new figure when
            None (default: None).
        quantity (str | None): for a scheduler, ``"lr"`` or ``"momentum"``;
            by default the momentum for a
            :class:`~fastopt.lr_scheduler.ScheduleMomentum`, else the
            learning rate (default: None).
        label (str | None): legend label (default: None).
        **plot_kwargs: passed to ``ax.plot``.

    Returns:
        matplotlib.axes.Axes: the axes drawn on.

    Raises:
        ImportError: if matplotlib is missing (``pip install fastopt[plot]``).

    Example:
        >>> from fastopt.plotting import plot_schedule  # also fastopt.plot_schedule
        >>> from fastopt.schedules import WarmupCosineDecay
        >>> ax = plot_schedule(WarmupCosineDecay(0.1, 100, 1000), 1000)  # doctest: +SKIP
    """
    if _is_scheduler(schedule_or_scheduler):
        if quantity is None:
            quantity = "momentum" if type(schedule_or_scheduler).__name__ == "ScheduleMomentum" else "lr"
        if quantity not in ("lr", "momentum"):
            raise ValueError(f"quantity must be 'lr' or 'momentum', got {quantity!r}")
        n = int(steps) if np.ndim(steps) == 0 else int(np.max(steps)) + 1
        if n < 1:
            raise ValueError(f"steps must be >= 1, got {steps!r}")
        x, y = _simulate(schedule_or_scheduler, n, quantity)
        name = type(schedule_or_scheduler).__name__
    else:
        sched: Schedule = as_schedule(schedule_or_scheduler, "schedule_or_scheduler")
        if np.ndim(steps) == 0:
            n = int(steps)
            if n < 1:
                raise ValueError(f"steps must be >= 1, got {steps!r}")
            x = np.arange(n, dtype=np.float64)
        else:
            x = np.asarray(steps, dtype=np.float64).ravel()
        y = sched(x)[:, None]
        quantity = quantity or sched.quantity
        name = type(sched).__name__
    if ax is None:
        ax = _new_axes()
    ngroups = y.shape[1]
    for i in range(ngroups):
        line_label = label
        if ngroups > 1:
            line_label = f"{label or name} group {i}"
        ax.plot(x, y[:, i], label=line_label, **plot_kwargs)
    ax.set_xlabel("step")
    ax.set_ylabel("momentum" if quantity == "momentum" else "learning rate")
    if not ax.get_title():
        ax.set_title(name)
    if label is not None or ngroups > 1:
        ax.legend()
    return ax
