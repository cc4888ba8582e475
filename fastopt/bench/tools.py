"""The cost of the training tools (clipping, the non-finite guard, telemetry,
a fused EMA) on an Adam step, as a ratio to plain Adam measured in the same
run (round robin; the median over rounds of each round's time ratio):
``python -m fastopt bench --tools``.

Each row also gives the ratio its memory traffic predicts. Adam float32 moves
28 bytes per param; a norm or the non-finite check reads the grads once more
(+4), a fused EMA reads and writes its average (+8); clamping and telemetry
happen inside Adam's own loop (its fused form, kernels/fused.h: +0). Rows
marked "staged" run the same options through the staged pipe
(kernels/pipeline.h), which rules without a fused form use, for comparison.
"""
from dataclasses import dataclass

import numpy as np

import fastopt
from fastopt import _engine

from .runner import Policy, _Impl, _round_robin

#: (row name, optimizer options, fused EMA, extra arrays moved per param, staged)
CONFIGS = [
    ("adam", {}, False, 0, False),
    ("+clip_value", dict(clip_value=1.0), False, 0, False),
    ("+clip_global_norm", dict(clip_global_norm=1.0), False, 1, False),
    ("+skip_nonfinite", dict(skip_nonfinite=True), False, 1, False),
    ("+track_update_ratio", dict(track_update_ratio=True), False, 0, False),
    ("+EMA", {}, True, 2, False),
    ("+all", dict(clip_value=1.0, clip_global_norm=1.0, skip_nonfinite=True, track_update_ratio=True), True, 3,
     False),
    ("+clip_value staged", dict(clip_value=1.0), False, 0, True),
    ("+track_update_ratio staged", dict(track_update_ratio=True), False, 0, True),
    ("+EMA staged", {}, True, 2, True),
]
ADAM_ARRAYS = 7  # read p g m v, write p m v


class _ToolImpl(_Impl):
    def __init__(self, name, params, gsets, threads, options, ema, staged):
        self.name = "fastopt" if name == "adam" else name
        self.threads = threads
        self.params = [np.array(p) for p in params]
        self.opt = fastopt.Adam(self.params, lr=1e-3, n_threads=threads, **options)
        self.ema = fastopt.EMA(self.opt, decay=0.999) if ema else None
        self.gsets = gsets
        self.staged = staged

    def step(self, r):
        if not self.staged:
            self.opt.step(self.gsets[r % len(self.gsets)])
            return
        _engine.set_fused_tools(False)
        try:
            self.opt.step(self.gsets[r % len(self.gsets)])
        finally:
            _engine.set_fused_tools(True)


@dataclass
class ToolRow:
    name: str
    dtype: str
    threads: int
    n: int
    median_s: float
    ratio: float           # median over rounds of (time / plain Adam's time in that round)
    bytes_ratio: float     # (7 + extra) / 7: what the traffic predicts

    def to_dict(self):
        return dict(self.__dict__)


def run_tools(n=1 << 24, dtype="float32", threads=(1,), policy=None, seed=0, log=None):
    """Time every row of :data:`CONFIGS` on one n-element tensor; returns ToolRows."""
    policy = policy or Policy(min_reps=5, max_reps=11, budget_s=0.5)
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(n).astype(dtype)]
    gsets = [[rng.standard_normal(n).astype(dtype)] for _ in range(3)]
    rows = []
    for nt in threads:
        if log:
            log(f"tools overhead: Adam {dtype} n={n} threads={nt}")
        items = [_ToolImpl(name, params, gsets, nt, opts, ema, staged) for name, opts, ema, _, staged in CONFIGS]
        res = _round_robin(items, nt, policy, block=1)
        base = np.array(res["fastopt"].times)
        for (name, _, _, extra, _), it in zip(CONFIGS, items):
            times = np.array(res[it.name].times)
            k = min(len(times), len(base))
            ratio = float(np.median(times[:k] / base[:k]))
            rows.append(ToolRow(name, np.dtype(dtype).name, nt, n, res[it.name].median_s, ratio,
                                (ADAM_ARRAYS + extra) / ADAM_ARRAYS))
        del items
    return rows


def format_tools(rows):
    """The table printed by ``python -m fastopt bench --tools``."""
    out = ["# training tools on one Adam step: time / plain Adam's (same run, round robin, median of the "
           "per-round ratios); 'bytes' is the ratio the memory traffic predicts; 'staged': the same option "
           "through the staged pipe that rules without a fused form use"]
    out.append(f"{'config':<28} {'dtype':<8} {'thr':>3} {'n':>10} {'ms':>9} {'ratio':>7} {'bytes':>7}")
    for r in rows:
        out.append(f"{r.name:<28} {r.dtype:<8} {r.threads:>3} {r.n:>10} {r.median_s * 1e3:>9.3f} "
                   f"{r.ratio:>7.3f} {r.bytes_ratio:>7.3f}")
    return "\n".join(out)
