"""``python -m fastopt schedule``: render schedules to an image.

Usage::

    python -m fastopt schedule NAME [NAME ...] --steps N [--param k=v ...]
                               [--warmup W [--warmup-mode linear|constant]]
                               [--logy] [--dpi D] --out FILE.png
    python -m fastopt schedule --list

Each NAME is a schedule of :mod:`fastopt.schedules.registry`, built with
example arguments scaled to ``--steps`` and overridden by ``--param``.
``--param k=v`` applies to every named schedule that takes ``k``;
``--param NAME.k=v`` to one. Values are Python literals (``0.1``, ``[30, 60]``,
``True``, ``'cos'``) or bare strings. Several names are drawn side by side.
"""

from __future__ import annotations

import argparse
import ast
import math
import sys
from typing import Any

__all__ = ["main"]


def _parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fastopt schedule",
        description="Render learning-rate / momentum schedules to an image.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="schedule name(s); see --list")
    p.add_argument("--list", action="store_true", help="list the schedule names and exit")
    p.add_argument("--steps", type=int, help="number of steps to draw (0 .. N-1)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="[NAME.]K=V",
        help="override a constructor argument (repeatable)",
    )
    p.add_argument("--warmup", type=float, default=None, metavar="W", help="put a warm-up of W steps in front")
    p.add_argument("--warmup-mode", choices=("linear", "constant"), default="linear")
    p.add_argument("--warmup-start-factor", type=float, default=None, metavar="F")
    p.add_argument("--logy", action="store_true", help="logarithmic y axis")
    p.add_argument("--dpi", type=int, default=120)
    p.add_argument("--out", help="output image (PNG, or any format matplotlib knows)")
    return p


def _split_params(pairs: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    from .schedules.registry import SCHEDULES

    per_name: dict[str, dict[str, Any]] = {n: {} for n in names}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--param expects K=V or NAME.K=V, got {pair!r}")
        key, text = pair.split("=", 1)
        value = _parse_value(text)
        if "." in key:
            target, key = key.split(".", 1)
            if target not in per_name:
                raise ValueError(f"--param {pair!r} names {target!r}, which is not being drawn")
            per_name[target][key] = value
            continue
        takers = [n for n in names if key in SCHEDULES[n].parameters]
        if not takers:
            raise ValueError(f"--param {key!r}: none of {', '.join(names)} takes it")
        for n in takers:
            per_name[n][key] = value
    return per_name


def _list() -> str:
    from .schedules.registry import SCHEDULES

    width = max(len(n) for n in SCHEDULES)
    lines = []
    for name, entry in SCHEDULES.items():
        lines.append(f"{name:<{width}}  {entry.summary}")
        lines.append(f"{'':<{width}}  params: {', '.join(entry.parameters)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the ``schedule`` subcommand; return the exit status.

    Args:
        argv (list of str): the arguments after ``schedule``.

    Returns:
        int: 0 on success, 1 on a bad schedule argument or a missing
        matplotlib, 2 on a usage error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error
        return int(exc.code or 0)

    if args.list:
        print(_list())
        return 0

    from .schedules.registry import SCHEDULES, make_schedule
    from .schedules.warmup import Warmup

    if not args.names:
        parser.print_usage(sys.stderr)
        print("error: give at least one schedule NAME (see --list)", file=sys.stderr)
        return 2
    unknown = [n for n in args.names if n not in SCHEDULES]
    if unknown:
        print(f"error: unknown schedule(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    if args.steps is None or args.steps < 1:
        print("error: --steps N (N >= 1) is required", file=sys.stderr)
        return 2
    if not args.out:
        print("error: --out FILE is required", file=sys.stderr)
        return 2

    try:
        params = _split_params(args.param, args.names)
        schedules = []
        for name in args.names:
            sched = make_schedule(name, args.steps, **params[name])
            if args.warmup is not None:
                kwargs = {"mode": args.warmup_mode}
                if args.warmup_start_factor is not None:
                    kwargs["start_factor"] = args.warmup_start_factor
                elif args.warmup_mode == "constant":
                    kwargs["start_factor"] = 0.1
                sched = Warmup(sched, args.warmup, **kwargs)
            schedules.append((name, sched))
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(
            "error: rendering needs matplotlib, which is not installed: pip install fastopt[plot]",
            file=sys.stderr,
        )
        return 1
    from .plotting import plot_schedule

    n = len(schedules)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.4 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, sched) in zip(axes, schedules):
        ax.set_title(name)
        plot_schedule(sched, args.steps, ax=ax)
        if args.logy:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    try:
        fig.savefig(args.out, dpi=args.dpi)
    except (OSError, ValueError) as exc:
        print(f"error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
