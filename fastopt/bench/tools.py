"""The cost of the training tools (clipping, the non-finite guard, telemetry,
a fused EMA) on an Adam step, as a ratio to plain Adam measured in the same
run: ``python -m fastopt bench --tools``.

Each round times every configuration back to back with a plain Adam step
(plain first in even rounds, second in odd ones); a row's ratio is the
median over pairs of rounds of the geometric mean of the two ratios (its
time / the adjacent plain time), so the cost of running first or second
cancels. On a shared
machine the bandwidth a step gets drifts with the neighbours' load over tens
of milliseconds; a ratio of adjacent steps cancels that drift, where a ratio
of the two medians or of times taken a round apart carries it.

Each row also gives the ratio its memory traffic predicts. Adam float32 moves
28 bytes per param; a norm or the non-finite check reads the grads once more
(+4), a fused EMA reads and writes its average (+8); clamping and telemetry
happen inside Adam's own loop (its fused form, kernels/fused.h: +0). Rows
marked "staged" run the same options through the staged pipe
(kernels/pipeline.h), which rules without a fused form use, for comparison.
"""
import time
from dataclasses import dataclass

import numpy as np

import fastopt
from fastopt import _engine

from .runner import Policy, _Impl

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
TELEMETRY_TARGET = 1.05  # the tools issue: telemetry costs <= 5% on large tensors
TARGET_MIN_N = 1 << 24


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
    ratio: float           # time / the adjacent plain Adam step's, see _abba_ratio
    bytes_ratio: float     # (7 + extra) / 7: what the traffic predicts

    def to_dict(self):
        return dict(self.__dict__)


def run_tools(n=1 << 24, dtype="float32", threads=(1,), policy=None, seed=0, log=None, min_rounds=16):
    """Time every row of :data:`CONFIGS` on one n-element tensor; returns ToolRows.
    At least `min_rounds` rounds (more while the policy's budget lasts)."""
    policy = policy or Policy(max_reps=31, budget_s=1.0)
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(n).astype(dtype)]
    gsets = [[rng.standard_normal(n).astype(dtype)] for _ in range(3)]
    rows = []
    for nt in threads:
        if log:
            log(f"tools overhead: Adam {dtype} n={n} threads={nt}")
        items = [_ToolImpl(name, params, gsets, nt, opts, ema, staged) for name, opts, ema, _, staged in CONFIGS]
        times, ratios = _paired(items[0], items, policy, min_rounds)
        for (name, _, _, extra, _), it in zip(CONFIGS, items):
            rows.append(ToolRow(name, np.dtype(dtype).name, nt, n, float(np.median(times[it.name])),
                                _abba_ratio(ratios[it.name]), (ADAM_ARRAYS + extra) / ADAM_ARRAYS))
        del items
    return rows


def _abba_ratio(ratios):
    """The median over round pairs (plain first, then second) of the geometric
    mean of the pair's two ratios: whatever the position in a pair costs (the
    step after another step starts with the other's write-backs in flight)
    cancels within each pair."""
    r = np.asarray(ratios, dtype=np.float64)
    k = r.size // 2
    if k == 0:
        return float(np.median(r))
    return float(np.median(np.sqrt(r[0:2 * k:2] * r[1:2 * k:2])))


def _paired(base, items, policy, min_rounds):
    """Per item, its step times and the ratios to the adjacent `base` step
    (see the module docstring); `base` is paired with itself as a check."""
    perf = time.perf_counter
    for it in items:
        for r in range(max(1, policy.warmup)):
            it.step(r)
    times = {it.name: [] for it in items}
    ratios = {it.name: [] for it in items}
    start = perf()
    rounds = 0
    min_rounds = max(min_rounds, policy.min_reps)
    max_rounds = max(min_rounds, policy.max_reps)
    while (rounds < max_rounds and (rounds < min_rounds or perf() - start < policy.budget_s)) or rounds % 2:
        for it in items:
            pair = (base, it) if rounds % 2 == 0 else (it, base)
            dt = []
            for x in pair:
                t0 = perf()
                x.step(rounds)
                dt.append(perf() - t0)
            t_it, t_base = (dt[1], dt[0]) if rounds % 2 == 0 else (dt[0], dt[1])
            times[it.name].append(t_it)
            ratios[it.name].append(t_it / t_base)
        rounds += 1
    return times, ratios


def format_tools(rows):
    """The table printed by ``python -m fastopt bench --tools``."""
    out = ["# training tools on one Adam step: time / plain Adam's (same run; each step next to a plain "
           "step, in both orders: median over round pairs of the ratios' geometric mean); 'bytes' is the ratio the memory traffic predicts; 'staged': the same option "
           "through the staged pipe that rules without a fused form use"]
    out.append(f"{'config':<28} {'dtype':<8} {'thr':>3} {'n':>10} {'ms':>9} {'ratio':>7} {'bytes':>7}")
    for r in rows:
        out.append(f"{r.name:<28} {r.dtype:<8} {r.threads:>3} {r.n:>10} {r.median_s * 1e3:>9.3f} "
                   f"{r.ratio:>7.3f} {r.bytes_ratio:>7.3f}")
    for r in rows:
        if r.name == "+track_update_ratio" and r.n >= TARGET_MIN_N:
            ok = "ok" if r.ratio <= TELEMETRY_TARGET else "MISS"
            out.append(f"  [{ok}] track_update_ratio on Adam {r.dtype} n={r.n}, {r.threads} thread(s): "
                       f"<= {TELEMETRY_TARGET:.2f}x plain Adam: {r.ratio:.3f}x")
    return "\n".join(out)
