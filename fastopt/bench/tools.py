"""The cost of the training tools (clipping, the non-finite guard, telemetry,
a fused EMA) on an Adam step, as a ratio to plain Adam measured in the same
run (round robin, medians): ``python -m fastopt bench --tools``.

Each row also gives the ratio its memory traffic predicts. Adam float32 moves
28 bytes per param; a norm or the non-finite check reads the grads once more
(+4), a fused EMA reads and writes its average (+8); clamping and telemetry
work on spans already in cache (+0).
"""
from dataclasses import dataclass

import numpy as np

import fastopt

from .runner import Policy, _Impl, _round_robin

#: (row name, optimizer options, fused EMA, extra arrays moved per param)
CONFIGS = [
    ("adam", {}, False, 0),
    ("+clip_value", dict(clip_value=1.0), False, 0),
    ("+clip_global_norm", dict(clip_global_norm=1.0), False, 1),
    ("+skip_nonfinite", dict(skip_nonfinite=True), False, 1),
    ("+track_update_ratio", dict(track_update_ratio=True), False, 0),
    ("+EMA", {}, True, 2),
    ("+all", dict(clip_value=1.0, clip_global_norm=1.0, skip_nonfinite=True, track_update_ratio=True), True, 3),
]
ADAM_ARRAYS = 7  # read p g m v, write p m v


class _ToolImpl(_Impl):
    def __init__(self, name, params, gsets, threads, options, ema):
        self.name = "fastopt" if name == "adam" else name
        self.threads = threads
        self.params = [np.array(p) for p in params]
        self.opt = fastopt.Adam(self.params, lr=1e-3, n_threads=threads, **options)
        self.ema = fastopt.EMA(self.opt, decay=0.999) if ema else None
        self.gsets = gsets

    def step(self, r):
        self.opt.step(self.gsets[r % len(self.gsets)])


@dataclass
class ToolRow:
    name: str
    dtype: str
    threads: int
    n: int
    median_s: float
    ratio: float           # median time / plain Adam's median time
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
        items = [_ToolImpl(name, params, gsets, nt, opts, ema) for name, opts, ema, _ in CONFIGS]
        res = _round_robin(items, nt, policy)
        base = res["fastopt"].median_s
        for (name, _, _, extra), it in zip(CONFIGS, items):
            med = res[it.name].median_s
            rows.append(ToolRow(name, np.dtype(dtype).name, nt, n, med, med / base, (ADAM_ARRAYS + extra) / ADAM_ARRAYS))
        del items
    return rows


def format_tools(rows):
    """The table printed by ``python -m fastopt bench --tools``."""
    out = ["# training tools on one Adam step: time / plain Adam's (same run, medians); "
           "'bytes' is the ratio the memory traffic predicts"]
    out.append(f"{'config':<22} {'dtype':<8} {'thr':>3} {'n':>10} {'ms':>9} {'ratio':>7} {'bytes':>7}")
    for r in rows:
        out.append(f"{r.name:<22} {r.dtype:<8} {r.threads:>3} {r.n:>10} {r.median_s * 1e3:>9.3f} "
                   f"{r.ratio:>7.3f} {r.bytes_ratio:>7.3f}")
    return "\n".join(out)
