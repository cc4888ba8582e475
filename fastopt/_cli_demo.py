"""``python -m fastopt demo``: every optimizer from the same start, drawn over
the contours of Rosenbrock's valley and of the saddle x^2 - y^2.

Usage::

    python -m fastopt demo [--out DIR] [--steps N] [--gif]
                           [--optimizers a,b,...] [--functions rosenbrock,saddle]
                           [--dpi D]

Writes ``DIR/demo_rosenbrock.png`` and ``DIR/demo_saddle.png`` (default
``DIR``: ``fastopt-demo``), and with ``--gif`` an animation of each
(``demo_<function>.gif``, needs Pillow). Prints each optimizer's final loss.
Pictures need matplotlib (``pip install fastopt[plot]``); it is imported only
once the runs are done, with the Agg backend on a private figure (pyplot's
global state is not touched).

What to look for: on Rosenbrock, plain SGD reaches the valley floor and then
crawls along it; momentum overshoots across the valley and swings along it;
the adaptive methods take near-constant steps. On the saddle the run starts a
hair off the ridge, at (-1, 0.001): SGD follows the steep x direction into the
saddle point and sits there while the tiny y gradient grows only slowly
(2 % per step at lr 0.01); RMSprop, Adam and the other per-coordinate methods
blow the tiny y gradient up to a full step and leave at once; momentum
overshoots the saddle point along x, then leaves too.

Learning rates (one per optimizer and function, chosen so that each method
shows its typical behaviour within the default 500 steps, not tuned to win;
every other hyperparameter is the class default, AdamW keeping its default
weight decay 0.01):

===========  ==================  ===============  ==========  =============
key          label               class, options   Rosenbrock  saddle
===========  ==================  ===============  ==========  =============
sgd          SGD                 SGD              0.0015      0.01
momentum     SGD+momentum        SGD, m=0.9       0.001       0.01
nesterov     Nesterov            SGD, m=0.9, nes  0.001       0.01
adagrad      Adagrad             Adagrad          0.5         0.05
rmsprop      RMSprop             RMSprop          0.01        0.01
adadelta     Adadelta            Adadelta         1.0         1.0
adam         Adam                Adam             0.1         0.01
adamw        AdamW               AdamW            0.1         0.01
adamax       Adamax              Adamax           0.2         0.01
nadam        NAdam               NAdam            0.05        0.01
radam        RAdam               RAdam            0.005       0.01
adabelief    AdaBelief           AdaBelief        0.1         0.01
lion         Lion                Lion             0.01        0.005
rprop        Rprop               Rprop            0.01        0.01
===========  ==================  ===============  ==========  =============

Rows whose class fastopt does not have are skipped. SGD's rate on Rosenbrock
is under 2/1001.6, above which it cannot converge at the minimum (1001.6 is
the largest eigenvalue of the Hessian there); RAdam's first five
steps are un-adapted momentum steps on gradients of ~200, hence its small
rate. A saddle run stops when it leaves the picture (the legend gives the
step: it escaped); a Rosenbrock run stops only if it diverges (leaves the view
grown by twice its size on each side, or its loss is not finite). The
printout says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FUNCTIONS", "OPTIMIZERS", "main"]

_INSTALL_HINT = ("python -m fastopt demo: drawing needs matplotlib, which is not installed: "
                 "pip install fastopt[plot]")


@dataclass(frozen=True)
class _Opt:
    key: str
    label: str
    cls: str
    kwargs: dict
    lr: dict
    color: str
    style: str = "-"


# key -> (label, class in fastopt, extra options, {function: lr}, colour, line style)
OPTIMIZERS = [
    _Opt("sgd", "SGD", "SGD", {}, {"rosenbrock": 1.5e-3, "saddle": 1e-2}, "#000000"),
    _Opt("momentum", "SGD+momentum", "SGD", {"momentum": 0.9}, {"rosenbrock": 1e-3, "saddle": 1e-2}, "#1f77b4"),
    _Opt("nesterov", "Nesterov", "SGD", {"momentum": 0.9, "nesterov": True},
         {"rosenbrock": 1e-3, "saddle": 1e-2}, "#17becf", "--"),
    _Opt("adagrad", "Adagrad", "Adagrad", {}, {"rosenbrock": 0.5, "saddle": 0.05}, "#8c564b"),
    _Opt("rmsprop", "RMSprop", "RMSprop", {}, {"rosenbrock": 1e-2, "saddle": 1e-2}, "#d62728"),
    _Opt("adadelta", "Adadelta", "Adadelta", {}, {"rosenbrock": 1.0, "saddle": 1.0}, "#e377c2"),
    _Opt("adam", "Adam", "Adam", {}, {"rosenbrock": 0.1, "saddle": 1e-2}, "#ff7f0e"),
    _Opt("adamw", "AdamW", "AdamW", {}, {"rosenbrock": 0.1, "saddle": 1e-2}, "#bcbd22", "--"),
    _Opt("adamax", "Adamax", "Adamax", {}, {"rosenbrock": 0.2, "saddle": 1e-2}, "#9467bd"),
    _Opt("nadam", "NAdam", "NAdam", {}, {"rosenbrock": 0.05, "saddle": 1e-2}, "#2ca02c"),
    _Opt("radam", "RAdam", "RAdam", {}, {"rosenbrock": 5e-3, "saddle": 1e-2}, "#7f7f7f", "-."),
    _Opt("adabelief", "AdaBelief", "AdaBelief", {}, {"rosenbrock": 0.1, "saddle": 1e-2}, "#393b79", ":"),
    _Opt("lion", "Lion", "Lion", {}, {"rosenbrock": 1e-2, "saddle": 5e-3}, "#e7298a", ":"),
    _Opt("rprop", "Rprop", "Rprop", {}, {"rosenbrock": 1e-2, "saddle": 1e-2}, "#66a61e", "-."),
]

FUNCTIONS = ("rosenbrock", "saddle")


def _function(name: str) -> Any:
    from .testfunctions import Rosenbrock, Saddle

    return Rosenbrock() if name == "rosenbrock" else Saddle()


# what is drawn: tighter than Rosenbrock.bounds, where the paths are
_VIEW = {"rosenbrock": ((-1.5, 1.5), (-0.5, 1.7)), "saddle": ((-1.5, 1.5), (-1.5, 1.5))}
# a run stops when it leaves its view grown by this fraction of the view's size
# on each side: the saddle's runs stop as they leave the picture (they escaped),
# Rosenbrock's only if they diverge
_MARGIN = {"rosenbrock": 2.0, "saddle": 0.0}


_TITLES = {
    "rosenbrock": r"Rosenbrock  $f = (1-x)^2 + 100\,(y-x^2)^2$",
    "saddle": r"saddle  $f = x^2 - y^2$",
}


@dataclass
class _Run:
    opt: _Opt
    lr: float
    path: np.ndarray            # (steps + 1, 2), or shorter if stopped
    final_loss: float
    stopped: str = ""           # "" or why the run stopped early
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _available(keys: list[str] | None) -> tuple[list[_Opt], list[str]]:
    import fastopt

    known = {o.key: o for o in OPTIMIZERS}
    if keys is None:
        chosen = [o for o in OPTIMIZERS if hasattr(fastopt, o.cls)]
        return chosen, []
    missing = [k for k in keys if k in known and not hasattr(fastopt, known[k].cls)]
    return [known[k] for k in keys if k in known and hasattr(fastopt, known[k].cls)], missing


def _run(fn: Any, fname: str, opt: _Opt, steps: int) -> _Run:
    import fastopt

    lr = opt.lr[fname]
    x = [fn.start]
    optimizer = getattr(fastopt, opt.cls)(x, lr=lr, **opt.kwargs)
    (x0, x1), (y0, y1) = _VIEW[fname]
    mx, my = _MARGIN[fname] * (x1 - x0), _MARGIN[fname] * (y1 - y0)
    path = [x[0].copy()]
    stopped = ""
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        value, grad = fn.value_and_grad(x)
        if not np.isfinite(value):
            stopped = f"loss not finite at step {step - 1}"
            break
        optimizer.step(grad)
        p = x[0].copy()
        path.append(p)
        if not np.all(np.isfinite(p)):
            stopped = f"diverged at step {step}"
            break
        if not (x0 - mx <= p[0] <= x1 + mx and y0 - my <= p[1] <= y1 + my):
            stopped = f"{'left the plot' if _MARGIN[fname] == 0 else 'diverged'} at step {step}"
            break
    final = fn.value(x) if np.all(np.isfinite(x[0])) else float("nan")
    return _Run(opt, lr, np.array(path), final, stopped, time.perf_counter() - t0)


def _fmt_point(p: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in p) + ")"


def _report(fname: str, fn: Any, runs: list[_Run], steps: int) -> None:
    print(f"{fname}: {steps} steps from {_fmt_point(fn.start)}"
          + (f", minimum {fn.minimum.value:g} at {_fmt_point(fn.minimum.x)}" if fn.minimum is not None else
             ", unbounded below (lower is further from the saddle)"))
    w = max([len("optimizer")] + [len(r.opt.label) for r in runs])
    print(f"  {'optimizer'.ljust(w)}  {'lr':>7}  {'final loss':>11}  final x")
    for r in runs:
        note = f"  [{r.stopped}]" if r.stopped else ""
        print(f"  {r.opt.label.ljust(w)}  {r.lr:>7g}  {r.final_loss:>11.4g}  {_fmt_point(r.path[-1])}{note}")


# ---------------------------------------------------------------------------
# drawing


def _import_matplotlib() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import LogNorm
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure, FigureCanvasAgg, LogNorm


def _have_pillow() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def _background(fname: str, fn: Any, mpl: Any, dpi: int) -> tuple[Any, Any, Any]:
    Figure, FigureCanvasAgg, LogNorm = mpl
    fig = Figure(figsize=(9.6, 6.0), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.075, 0.09, 0.53, 0.82))
    (x0, x1), (y0, y1) = _VIEW[fname]
    X, Y = np.meshgrid(np.linspace(x0, x1, 400), np.linspace(y0, y1, 400))
    Z = fn.value(np.stack([X, Y]))
    if fname == "rosenbrock":
        levels = np.logspace(-1.5, 3.0, 19)
        norm = LogNorm(levels[0], levels[-1])
        ax.contourf(X, Y, np.clip(Z, levels[0], levels[-1]), levels=levels, norm=norm, cmap="Blues_r", alpha=0.45)
        ax.contour(X, Y, Z, levels=levels, norm=norm, colors="#6b7b8c", linewidths=0.5, alpha=0.8)
    else:
        levels = np.linspace(-2.25, 2.25, 19)
        ax.contourf(X, Y, Z, levels=levels, cmap="RdBu_r", alpha=0.35)
        ax.contour(X, Y, Z, levels=levels, colors="#6b7b8c", linewidths=0.5, alpha=0.8)
        ax.axhline(0.0, color="#6b7b8c", lw=0.6, ls=":")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_aspect("equal" if fname == "saddle" else "auto")
    ax.set_title(_TITLES.get(fname, fname), fontsize=11)
    start = fn.start
    ax.plot(*start, "o", ms=8, mfc="white", mec="black", mew=1.5, zorder=6, label="start " + _fmt_point(start))
    if fn.minimum is not None:
        ax.plot(*fn.minimum.x, "*", ms=16, mfc="gold", mec="black", mew=1.0, zorder=6,
                label="minimum " + _fmt_point(fn.minimum.x))
    else:
        ax.plot(0.0, 0.0, "X", ms=10, mfc="white", mec="black", mew=1.2, zorder=6, label="saddle point (0, 0)")
    return fig, canvas, ax


def _legend(ax: Any, fname: str) -> None:
    # the title's columns over the labels' columns (the handles take ~6 characters)
    title = f"{'':6}{'optimizer':<13}{'lr':>6}{'f at end':>10}" + ("  escaped" if fname == "saddle" else "")
    ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1.0), prop={"family": "monospace", "size": 8},
              frameon=False, handlelength=2.6, title=title, title_fontproperties={"family": "monospace", "size": 8},
              alignment="left", borderaxespad=0.0)


def _label(r: _Run, fname: str) -> str:
    text = f"{r.opt.label:<13}{r.lr:>6g}{r.final_loss:>10.3g}"
    if fname == "saddle":
        text += f"  {'step ' + r.stopped.rsplit(' ', 1)[-1] if r.stopped.startswith('left') else 'no':>8}"
    elif r.stopped:
        text += "  " + r.stopped.split(" at ")[0]
    return text


def _draw_png(fname: str, fn: Any, runs: list[_Run], mpl: Any, path: str, dpi: int, steps: int) -> None:
    fig, _, ax = _background(fname, fn, mpl, dpi)
    for r in runs:
        ax.plot(r.path[:, 0], r.path[:, 1], r.opt.style, color=r.opt.color, lw=1.6, alpha=0.95, zorder=4,
                label=_label(r, fname))
        ax.plot(r.path[-1, 0], r.path[-1, 1], "o", ms=4.5, color=r.opt.color, zorder=5, clip_on=True)
    ax.set_title(f"{_TITLES.get(fname, fname)}    ({steps} steps)", fontsize=11)
    _legend(ax, fname)
    fig.savefig(path, bbox_inches="tight", pad_inches=0.15)


def _draw_gif(fname: str, fn: Any, runs: list[_Run], mpl: Any, path: str, dpi: int, steps: int,
              frames: int = 60) -> None:
    from PIL import Image

    fig, canvas, ax = _background(fname, fn, mpl, dpi)
    lines, heads = [], []
    for r in runs:
        (line,) = ax.plot([], [], r.opt.style, color=r.opt.color, lw=1.6, zorder=4, label=_label(r, fname))
        (head,) = ax.plot([], [], "o", ms=6, color=r.opt.color, mec="black", mew=0.6, zorder=5)
        line.set_animated(True)
        head.set_animated(True)
        lines.append(line)
        heads.append(head)
    _legend(ax, fname)
    counter = ax.text(0.02, 0.97, "", transform=ax.transAxes, va="top", fontsize=9, animated=True,
                      bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.8})
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    # frames at steps 0 .. steps, denser at the start where the paths move most
    ts = np.unique(np.round(steps * np.linspace(0.0, 1.0, frames) ** 1.5).astype(int))
    images = []
    for t in ts:
        canvas.restore_region(background)
        for r, line, head in zip(runs, lines, heads):
            k = min(t, len(r.path) - 1)
            line.set_data(r.path[:k + 1, 0], r.path[:k + 1, 1])
            head.set_data([r.path[k, 0]], [r.path[k, 1]])
            ax.draw_artist(line)
            ax.draw_artist(head)
        counter.set_text(f"step {t}")
        ax.draw_artist(counter)
        rgba = np.asarray(canvas.buffer_rgba())
        images.append(Image.fromarray(rgba[..., :3].copy()))
    # one palette for all frames (taken from the last, which has every path) and
    # no dithering: frames then differ only where the paths grew, and the GIF
    # encoder stores just those rectangles
    palette = images[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    frames_p = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [70] * (len(frames_p) - 1) + [2500]
    frames_p[0].save(path, save_all=True, append_images=frames_p[1:], duration=durations, loop=0)


# ---------------------------------------------------------------------------
# command line


def _lr_table() -> str:
    rows = [f"  {o.key:<10} {o.label:<13} {o.lr['rosenbrock']:>10g} {o.lr['saddle']:>8g}" for o in OPTIMIZERS]
    return ("learning rates (rosenbrock, saddle); rows whose class fastopt lacks are skipped:\n"
            + f"  {'key':<10} {'label':<13} {'rosenbrock':>10} {'saddle':>8}\n" + "\n".join(rows))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fastopt demo",
        description="Run every optimizer from the same start on Rosenbrock and on the saddle x^2 - y^2,\n"
                    "print the final losses and draw the trajectories over the contours\n"
                    "(DIR/demo_<function>.png; DIR/demo_<function>.gif with --gif).",
        epilog=_lr_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="fastopt-demo", metavar="DIR",
                   help="output directory, created if missing (default: fastopt-demo)")
    p.add_argument("--steps", type=int, default=500, metavar="N", help="steps per optimizer (default: 500)")
    p.add_argument("--gif", action="store_true", help="also write an animated GIF per function (needs Pillow)")
    p.add_argument("--optimizers", metavar="a,b,...",
                   help="comma-separated keys (default: all that fastopt has): "
                        + ", ".join(o.key for o in OPTIMIZERS))
    p.add_argument("--functions", default=",".join(FUNCTIONS), metavar="f,g",
                   help="comma-separated, from: " + ", ".join(FUNCTIONS) + " (default: both)")
    p.add_argument("--dpi", type=int, default=110, help="resolution of the pictures (default: 110)")
    return p


def _split(text: str) -> list[str]:
    return [t.strip().lower() for t in text.split(",") if t.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit status (0 ok, 1 matplotlib missing, 2 usage error)."""
    parser = _parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:          # --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.steps < 1:
        print("python -m fastopt demo: error: --steps must be >= 1", file=sys.stderr)
        return 2
    if args.dpi < 10:
        print("python -m fastopt demo: error: --dpi must be >= 10", file=sys.stderr)
        return 2
    functions = _split(args.functions)
    bad = [f for f in functions if f not in FUNCTIONS]
    if bad or not functions:
        print(f"python -m fastopt demo: error: unknown function(s) {', '.join(bad) or '(none given)'}; "
              f"choose from {', '.join(FUNCTIONS)}", file=sys.stderr)
        return 2
    keys = None
    if args.optimizers is not None:
        keys = _split(args.optimizers)
        unknown = [k for k in keys if k not in {o.key for o in OPTIMIZERS}]
        if unknown or not keys:
            print(f"python -m fastopt demo: error: unknown optimizer(s) {', '.join(unknown) or '(none given)'}; "
                  f"choose from {', '.join(o.key for o in OPTIMIZERS)}", file=sys.stderr)
            return 2
    chosen, missing = _available(keys)
    for k in missing:
        print(f"python -m fastopt demo: skipping {k}: this fastopt has no such class", file=sys.stderr)
    if not chosen:
        print("python -m fastopt demo: error: none of the requested optimizers is available", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    results = {}
    for fname in functions:
        fn = _function(fname)
        runs = [_run(fn, fname, o, args.steps) for o in chosen]
        results[fname] = (fn, runs)
        _report(fname, fn, runs, args.steps)
        print()

    mpl = _import_matplotlib()
    if mpl is None:
        print(_INSTALL_HINT, file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    gif_ok = args.gif and _have_pillow()
    if args.gif and not gif_ok:
        print("python -m fastopt demo: skipping the GIFs: Pillow is not installed (pip install pillow)",
              file=sys.stderr)
    for fname, (fn, runs) in results.items():
        png = os.path.join(args.out, f"demo_{fname}.png")
        _draw_png(fname, fn, runs, mpl, png, args.dpi, args.steps)
        print(f"wrote {png}")
        if gif_ok:
            gif = os.path.join(args.out, f"demo_{fname}.gif")
            _draw_gif(fname, fn, runs, mpl, gif, min(args.dpi, 90), args.steps)
            print(f"wrote {gif}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
