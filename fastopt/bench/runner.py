"""Timing: fastopt and its peers on one (rule, dtype, workload, threads) case.

How a case is timed (the benchmark rules of /work/shared/STYLE.md):

* Params are seeded random normals; every implementation gets its own copy
  (one array per tensor). A few gradient sets of fresh non-zero random
  normals are generated once per (workload, dtype) and rotated, one per step:
  constant or zero gradients would drive Adam's second moments toward
  subnormals and the timings would drift.
* Warmup steps first (state allocation and first-step special cases, e.g.
  SGD's momentum buffer := g, happen there).
* Implementations are timed *round-robin*: each round runs every
  implementation once, in the same order, so on a shared, noisy machine they
  all see the same background load; the figures are medians over rounds.
  When a step is shorter than ``min_block_s`` a round times a block of
  consecutive steps and records the mean step time of the block (except in
  the many-vs-one comparison, where every turn is one step).
* For workloads that do not fit in cache (a step moving >= 64 MiB), the
  rule's own in-place bandwidth kernel ((k, j) = arrays read, written) joins
  the round robin, right before and right after fastopt in every round; "% of
  bandwidth" is then the median over rounds of (step rate / mean rate of the
  two probe runs around it), so slow drifts of the machine's load cancel.
  A rule with several kinds of pass (``BenchRule.passes``: LARS's norms, then
  its update) gets one probe per kind in each of those turns, each timed, and
  the round's probe time is their sum weighted by how many such passes a
  step makes.
  Smaller workloads are quoted against the bandwidth table measured at the
  start (in-cache steps can exceed 100%).
* The NumPy reference is single-threaded and slow: it is timed on its own
  (fewer rounds), once per (rule, dtype, workload), and reused for every
  thread count.
* GB/s is the rule's logical traffic (elements read + written per parameter x
  itemsize x params) over the median step time, for every implementation, so
  the figures are directly comparable (peers that make extra passes over
  memory simply get a lower effective GB/s).
"""
import gc
import math
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from . import bandwidth as bw_mod
from . import rules as rules_mod

__all__ = ["Policy", "ImplResult", "CaseResult", "Comparison", "Runner", "torch_available", "make_data", "make_impl",
           "IMPLS"]

TORCH_VARIANTS = ("fused", "foreach", "forloop")


def torch_available():
    try:
        import torch  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        return False
    return True


@dataclass
class Policy:
    """How long to time things.

    A round-robin measurement stops after ``max_reps`` rounds, or after
    ``min_reps`` rounds once ``budget_s`` seconds have passed.
    """
    warmup: int = 2
    min_reps: int = 5
    max_reps: int = 25
    budget_s: float = 1.5
    min_block_s: float = 2e-3
    numpy_min_reps: int = 3
    numpy_max_reps: int = 9
    numpy_budget_s: float = 1.0
    numpy_max_elements: int = None   # skip the NumPy peer above this many params (None: never)
    grad_sets: int = 3
    paired_min_bytes: int = 64 << 20  # pair with the bandwidth kernel when a step moves this much
    paired_min_reps: int = None  # at least this many rounds for paired cases (None: min_reps)
    slow_s: float = None      # a peer whose warmup step takes longer than this and 3x fastopt's ...
    slow_reps: int = 3        # ... leaves the round robin after this many rounds
    bw_reps: int = 7


@dataclass
class ImplResult:
    impl: str
    threads: int
    times: list = field(default_factory=list)
    block: int = 1
    skipped: str = None

    @property
    def median_s(self):
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def min_s(self):
        return min(self.times) if self.times else float("nan")

    @property
    def spread(self):
        """(75th - 25th percentile) / median: how noisy the samples were."""
        if len(self.times) < 4:
            return float("nan")
        q = statistics.quantiles(self.times, n=4)
        return (q[2] - q[0]) / self.median_s


@dataclass
class CaseResult:
    rule: str
    dtype: str
    workload: str
    n_tensors: int
    n_params: int
    threads: int
    pattern: tuple
    bytes_per_step: int
    passes: list = field(default_factory=list)   # [[k, j, m], ...]: the probes the rule is quoted against
    pattern_label: str = ""
    ceiling_elements: float = 0.0   # elements per param the ceiling counts (BenchRule.ceiling_elements)
    bandwidth_gbps: float = float("nan")
    bandwidth_source: str = "table"   # "paired" (measured in the round robin) or "table"
    impls: dict = field(default_factory=dict)
    round_robin: tuple = ()    # implementations timed in the same rounds as fastopt
    probe_times: list = field(default_factory=list)   # paired: the bandwidth kernel's time in each round
    probe_bytes: int = 0

    @property
    def label(self):
        """The probe pattern(s) the case is quoted against, e.g. 'r4w3' or 'r2 + r3w2'."""
        if self.pattern_label:
            return self.pattern_label
        k, j = self.pattern
        return f"r{k}w{j}"

    def ceiling_from(self, bw):
        """The ceiling (GB/s) from ``bw(k, j)``, the probes' rates, or NaN if a
        probe is missing (BenchRule.ceiling_gbps's formula)."""
        if not self.passes:
            return float("nan")
        try:
            return rules_mod.ceiling_gbps(self.ceiling_elements, [((k, j), m) for k, j, m in self.passes], bw)
        except (KeyError, TypeError, ZeroDivisionError):
            return float("nan")

    def pct_bw(self, impl):
        """% of the in-place bandwidth of the rule's pattern. When paired, the
        median over rounds of the ratio of each round's two rates (the probe
        and the step ran back to back), which cancels slow drifts of the
        machine's load better than a ratio of two medians."""
        r = self.impls.get(impl)
        if r is None or not r.times:
            return float("nan")
        if self.probe_times and r.block == 1:
            ratios = [(self.bytes_per_step / t) / (self.probe_bytes / tp) for t, tp in zip(r.times, self.probe_times)]
            return 100.0 * statistics.median(ratios)
        return 100.0 * self.gbps(impl) / self.bandwidth_gbps

    def gbps(self, impl):
        r = self.impls.get(impl)
        if r is None or not r.times:
            return float("nan")
        return self.bytes_per_step / r.median_s / 1e9

    def speedup(self, peer):
        """How many times faster fastopt is than `peer`: for peers timed in the
        same round robin, the median over rounds of (peer step / fastopt step);
        for the NumPy reference (timed apart), the ratio of the medians."""
        a, b = self.impls.get("fastopt"), self.impls.get(peer)
        if a is None or b is None or not a.times or not b.times:
            return float("nan")
        if peer in self.round_robin:
            return statistics.median([y / x for x, y in zip(a.times, b.times)])
        return b.median_s / a.median_s

    def to_dict(self):
        impls = {}
        for name, r in self.impls.items():
            impls[name] = dict(threads=r.threads, median_s=r.median_s if r.times else None,
                               min_s=r.min_s if r.times else None, reps=len(r.times), block=r.block,
                               spread=None if math.isnan(r.spread) else r.spread,
                               gbps=None if not r.times else self.gbps(name),
                               pct_bandwidth=None if not r.times else self.pct_bw(name),
                               speedup=None if name == "fastopt" or not r.times else self.speedup(name),
                               skipped=r.skipped, times=r.times)
        return dict(rule=self.rule, dtype=self.dtype, workload=self.workload, n_tensors=self.n_tensors,
                    n_params=self.n_params, threads=self.threads, pattern=list(self.pattern),
                    passes=self.passes, pattern_label=self.label, ceiling_elements=self.ceiling_elements,
                    bytes_per_step=self.bytes_per_step, bytes_per_element=self.bytes_per_step / max(1, self.n_params),
                    bandwidth_gbps=self.bandwidth_gbps, bandwidth_source=self.bandwidth_source,
                    probe_times=self.probe_times, probe_bytes=self.probe_bytes, impls=impls)


@dataclass
class Comparison:
    """Many small tensors vs one tensor of the same total size, timed side by side."""
    rule: str
    dtype: str
    threads: int
    many: str
    one: str
    impls: dict = field(default_factory=dict)   # impl -> (ImplResult many, ImplResult one)

    def ratio(self, impl):
        """Median over rounds of (many step / one step), the two timed back to back."""
        a, b = self.impls.get(impl, (None, None))
        if a is None or b is None or not a.times or not b.times:
            return float("nan")
        return statistics.median([x / y for x, y in zip(a.times, b.times)])

    def to_dict(self):
        return dict(rule=self.rule, dtype=self.dtype, threads=self.threads, many=self.many, one=self.one,
                    impls={k: dict(many_s=a.median_s, one_s=b.median_s, ratio=self.ratio(k))
                           for k, (a, b) in self.impls.items() if a.times and b.times})


# ---------------------------------------------------------------- implementations
class _Impl:
    """One timed implementation. ``prepare(r)`` is untimed (unless steps are
    batched in blocks), ``step(r)`` is the timed optimizer step of round r."""
    name = "?"
    threads = 1

    def prepare(self, r):
        pass

    def step(self, r):
        raise NotImplementedError

    def close(self):
        pass


class FastoptImpl(_Impl):
    name = "fastopt"

    def __init__(self, rule, params, gsets, threads):
        self.threads = threads
        self.rule = rule
        self.params = [np.array(p) for p in params]
        self.opt = rule.make_fastopt(self.params, threads)
        self.gsets = gsets

    def step(self, r):
        self.rule.fastopt_step(self.opt, self.gsets[r % len(self.gsets)])


class NumpyImpl(_Impl):
    name = "numpy"

    def __init__(self, rule, params, gsets):
        self.rule = rule
        self.params = [np.array(p) for p in params]
        self.opt = rule.make_reference(self.params)
        self.gsets = gsets

    def step(self, r):
        self.rule.reference_step(self.opt, self.gsets[r % len(self.gsets)])


class TorchImpl(_Impl):
    def __init__(self, rule, params, tgsets, threads, variant):
        import torch

        self.torch = torch
        self.name = f"torch-{variant}"
        self.threads = threads
        self.params = [torch.from_numpy(np.array(p)) for p in params]
        self.rule = rule
        self.opt = rule.make_torch(self.params, variant)
        self.tgsets = tgsets

    def prepare(self, r):
        self.rule.torch_prepare(self.opt, self.tgsets[r % len(self.tgsets)])

    def step(self, r):
        self.rule.torch_step(self.opt)


class ProbeImpl(_Impl):
    """The bandwidth kernel(s) as a round-robin turn. With several passes
    (fns with weights), each is timed on its own and ``weighted`` keeps, per
    call, sum(weight * time): the time the rule's passes would take at the
    probes' rates (the turn's own clock also counts the calls between)."""
    name = "bandwidth"

    def __init__(self, fn, weights=None):
        self.fns = fn if isinstance(fn, (list, tuple)) else [fn]
        self.weights = list(weights) if weights is not None else [1.0] * len(self.fns)
        self.weighted = []

    def step(self, r):
        perf = time.perf_counter
        total = 0.0
        for fn, w in zip(self.fns, self.weights):
            t0 = perf()
            fn()
            total += w * (perf() - t0)
        self.weighted.append(total)

    def round_times(self, res):
        """Per-round weighted times matching ``res`` (an ImplResult of this
        turn): the last calls, averaged over the turn's block."""
        n, b = len(res.times), max(1, res.block)
        w = self.weighted[len(self.weighted) - n * b:]
        return [sum(w[i * b:(i + 1) * b]) / b for i in range(n)]


# ---------------------------------------------------------------- data
def make_data(workload, dtype, seed=0, grad_sets=3, torch=False):
    """Seeded params and `grad_sets` sets of non-zero random gradients.

    Returns (params, gsets, tgsets): params is one array per tensor of the
    workload (copy it before updating), gsets a list of gradient lists (views
    of one flat buffer per set, C-contiguous, scaled normals of std 1e-2),
    tgsets the same gradients as torch tensors sharing memory (None unless
    `torch`). float64 data are the float32 draws widened, so both dtypes see
    the same values.
    """
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = workload.n_params
    offs = np.concatenate([[0], np.cumsum(workload.sizes)]).astype(np.int64)

    def split(flat):
        return [flat[offs[i]:offs[i + 1]].reshape(s) for i, s in enumerate(workload.shapes)]

    # One draw of normals; params and each gradient set are windows of it at
    # different (odd) offsets, so every set differs from the others at every
    # element, at the cost of one random draw instead of 1 + grad_sets.
    shift = 7919
    draw = rng.standard_normal(n + (grad_sets + 1) * shift, dtype=np.float32)
    params = split(draw[grad_sets * shift + 17:][:n].astype(dt))
    gsets = []
    for i in range(grad_sets):
        flat = draw[i * shift:i * shift + n].astype(dt)
        flat *= dt.type(1e-2)
        gsets.append(split(flat))
    del draw
    tgsets = None
    if torch:
        import torch as _torch

        tgsets = [[_torch.from_numpy(g) for g in gs] for gs in gsets]
    return params, gsets, tgsets


#: Implementation names make_impl knows.
IMPLS = ("fastopt", "numpy") + tuple(f"torch-{v}" for v in TORCH_VARIANTS)


def make_impl(name, rule, params, gsets, tgsets=None, threads=1):
    """An implementation object with ``prepare(r)`` (untimed: binds round r's
    gradients) and ``step(r)`` (the timed step), over a private copy of
    `params`. Returns None when `rule` has no such peer."""
    if name == "fastopt":
        return FastoptImpl(rule, params, gsets, threads)
    if name == "numpy":
        return NumpyImpl(rule, params, gsets) if rule.reference is not None else None
    if name.startswith("torch-"):
        if rule.torch is None:
            return None
        return TorchImpl(rule, params, tgsets, threads, name[len("torch-"):])
    raise ValueError(f"unknown implementation {name!r}; expected one of {IMPLS}")


_PEERS = (NumpyImpl, TorchImpl)


def _round_robin(items, threads, policy, warmup=None, min_reps=None, max_reps=None, budget_s=None, block=None):
    """Time `items` round-robin. Returns {name: ImplResult}. `block` forces the
    number of consecutive steps per turn (default: enough for min_block_s)."""
    warmup = policy.warmup if warmup is None else warmup
    min_reps = policy.min_reps if min_reps is None else min_reps
    max_reps = policy.max_reps if max_reps is None else max_reps
    budget_s = policy.budget_s if budget_s is None else budget_s
    torch_mod = None
    for it in items:
        if isinstance(it, TorchImpl):
            torch_mod = it.torch
    perf = time.perf_counter
    counters = {it.name: 0 for it in items}
    est = {}

    def set_threads(it):
        if torch_mod is not None and isinstance(it, TorchImpl):
            torch_mod.set_num_threads(it.threads)

    for it in items:
        set_threads(it)
        for _ in range(max(1, warmup)):
            r = counters[it.name]
            it.prepare(r)
            t0 = perf()
            it.step(r)
            dt = perf() - t0
            est[it.name] = min(dt, est.get(it.name, dt))
            counters[it.name] = r + 1
    results = {it.name: ImplResult(it.name, it.threads) for it in items}
    if block is None:
        blocks = {it.name: max(1, min(1000, math.ceil(policy.min_block_s / max(est[it.name], 1e-9)))) for it in items}
    else:
        blocks = {it.name: block for it in items}
    limit = {}
    for it in items:
        results[it.name].block = blocks[it.name]
        ref = est.get("fastopt", 0.0)
        slow = policy.slow_s is not None and est[it.name] > max(policy.slow_s, 3.0 * ref)
        limit[it.name] = min(max_reps, policy.slow_reps) if slow and isinstance(it, _PEERS) else max_reps
    start = perf()
    rounds = 0
    while rounds < max_reps and (rounds < min_reps or perf() - start < budget_s):
        for it in items:
            if rounds >= limit[it.name]:
                continue
            set_threads(it)
            block = blocks[it.name]
            r = counters[it.name]
            if block == 1:
                it.prepare(r)
                t0 = perf()
                it.step(r)
                dt = perf() - t0
            else:
                t0 = perf()
                for i in range(block):
                    it.prepare(r + i)
                    it.step(r + i)
                dt = (perf() - t0) / block
            counters[it.name] = r + block
            results[it.name].times.append(dt)
        rounds += 1
    return results


# ---------------------------------------------------------------- the runner
class Runner:
    """Runs cases, keeping one bandwidth table and the per-workload data.

    Args:
        policy: a :class:`Policy`.
        torch_variants: torch peers to time ('fused', 'foreach', 'forloop');
            empty or None for none (also when torch is not importable).
        numpy: time the NumPy reference peer.
        bw_elements: elements per array of the bandwidth probes.
        seed: seed of params and gradients.
        log: callable(str) for progress lines (None: silent).
    """

    def __init__(self, policy=None, torch_variants=("fused", "foreach"), numpy=True,
                 bw_elements=bw_mod.DEFAULT_ELEMENTS, seed=0, log=None):
        self.policy = policy or Policy()
        self.torch_variants = tuple(torch_variants or ())
        if self.torch_variants and not torch_available():
            self.torch_variants = ()
        for v in self.torch_variants:
            if v not in TORCH_VARIANTS:
                raise ValueError(f"unknown torch variant {v!r}; expected one of {TORCH_VARIANTS}")
        self.numpy = numpy
        self.bw_elements = int(bw_elements)
        self.seed = seed
        self.log = log or (lambda s: None)
        self.bandwidth = {}     # (kind, k, j, dtype, threads) -> BandwidthResult
        self._data_key = None
        self._data = None
        self._numpy_cache = {}  # (rule, dtype, workload) -> ImplResult
        self._torch_threads0 = None
        if self.torch_variants:
            import torch

            self._torch_threads0 = torch.get_num_threads()

    def close(self):
        self._data = self._data_key = None
        self._numpy_cache.clear()
        bw_mod.free_probes()
        if self._torch_threads0 is not None:
            import torch

            torch.set_num_threads(self._torch_threads0)
        gc.collect()

    # -- bandwidth --------------------------------------------------------
    def measure_bandwidth(self, patterns, threads, dtypes=("float32",), triad=True):
        """Fill the bandwidth table: triad and each (k, j) in-place pattern at
        each thread count and dtype. Returns the new results."""
        out = []
        for dtype in dtypes:
            probe = bw_mod.probe(dtype, self.bw_elements)
            for nt in threads:
                if triad:
                    res = probe.triad(nt, reps=self.policy.bw_reps)
                    self.bandwidth[("triad", 3, 1, res.dtype, nt)] = res
                    out.append(res)
                for k, j in patterns:
                    res = probe.inplace(k, j, nt, reps=self.policy.bw_reps)
                    self.bandwidth[("inplace", k, j, res.dtype, nt)] = res
                    out.append(res)
                self.log(f"bandwidth {dtype} {nt} thread(s): " + ", ".join(
                    f"{r.label} {r.gbps:.1f} GB/s" for r in out if r.threads == nt and r.dtype == np.dtype(dtype).name))
        return out

    def table_bandwidth(self, k, j, dtype, threads):
        key = ("inplace", k, j, np.dtype(dtype).name, threads)
        if key not in self.bandwidth:
            self.measure_bandwidth([(k, j)], [threads], [dtype], triad=False)
        return self.bandwidth[key].gbps

    # -- data ---------------------------------------------------------------
    def data(self, workload, dtype):
        """(params, gradient sets, torch gradient sets) of a workload, cached
        for the last (workload, dtype) asked for."""
        key = (workload.name, np.dtype(dtype).name)
        if self._data_key != key:
            self._data = None
            gc.collect()
            self._data = make_data(workload, dtype, seed=self.seed, grad_sets=self.policy.grad_sets,
                                   torch=bool(self.torch_variants))
            self._data_key = key
        return self._data

    # -- cases --------------------------------------------------------------
    def _numpy_result(self, rule, dtype, workload, params, gsets):
        key = (rule.name, np.dtype(dtype).name, workload.name)
        if key in self._numpy_cache:
            return self._numpy_cache[key]
        p = self.policy
        if p.numpy_max_elements is not None and workload.n_params > p.numpy_max_elements:
            res = ImplResult("numpy", 1, skipped=f"skipped above {p.numpy_max_elements:,} params")
        elif rule.reference is None:
            res = ImplResult("numpy", 1, skipped="no reference implementation")
        else:
            impl = NumpyImpl(rule, params, gsets)
            res = _round_robin([impl], 1, p, min_reps=p.numpy_min_reps, max_reps=p.numpy_max_reps,
                               budget_s=p.numpy_budget_s)["numpy"]
            impl.close()
        self._numpy_cache[key] = res
        return res

    def run_case(self, rule, dtype, workload, threads):
        """Time fastopt, the NumPy reference and the torch peers on one case."""
        dtype = np.dtype(dtype).name
        params, gsets, tgsets = self.data(workload, dtype)
        k, j = rule.pattern()
        passes = rule.probe_passes()
        case = CaseResult(rule.name, dtype, workload.name, workload.n_tensors, workload.n_params, threads,
                          (k, j), rule.bytes_per_step(dtype, workload.n_params),
                          passes=[[pk, pj, m] for (pk, pj), m in passes], pattern_label=rule.pattern_label(),
                          ceiling_elements=rule.ceiling_elements())
        items = [FastoptImpl(rule, params, gsets, threads)]
        for v in self.torch_variants:
            if rule.torch is not None:
                try:
                    items.append(TorchImpl(rule, params, tgsets, threads, v))
                except (RuntimeError, ValueError, TypeError):
                    pass  # torch has no such implementation of this rule (e.g. no fused kernel)
        paired = case.bytes_per_step >= self.policy.paired_min_bytes
        if paired:
            # The probe runs right before and right after fastopt in every
            # round; its time for the round is the mean of the two.
            # One probe per kind of pass; the probes' rate is the rule's
            # ceiling_elements over their weighted time (BenchRule.ceiling_gbps).
            probe = bw_mod.probe(dtype, self.bw_elements)
            fns = [probe.inplace_fn(pk, pj, threads)[0] for (pk, pj), _ in passes]
            weights = [m for _, m in passes]
            nbytes = rule.ceiling_elements() * np.dtype(dtype).itemsize * probe.n
            before, after = ProbeImpl(fns, weights), ProbeImpl(fns, weights)
            before.name, after.name = "bandwidth|before", "bandwidth|after"
            items[0:0] = [before]
            items[2:2] = [after]
        min_reps = self.policy.min_reps
        if paired and self.policy.paired_min_reps:
            min_reps = max(min_reps, self.policy.paired_min_reps)
        res = _round_robin(items, threads, self.policy, min_reps=min_reps,
                           max_reps=max(min_reps, self.policy.max_reps))
        if paired:
            b, a = res.pop("bandwidth|before"), res.pop("bandwidth|after")
            case.probe_times = [(x + y) / 2 for x, y in zip(before.round_times(b), after.round_times(a))]
            case.probe_bytes = nbytes
            case.bandwidth_gbps = nbytes / statistics.median(case.probe_times) / 1e9
            case.bandwidth_source = "paired"
        else:
            case.bandwidth_gbps = rule.ceiling_gbps(lambda pk, pj: self.table_bandwidth(pk, pj, dtype, threads))
        case.impls.update(res)
        case.round_robin = tuple(res)
        for it in items:
            it.close()
        del items
        if self.numpy:
            case.impls["numpy"] = self._numpy_result(rule, dtype, workload, params, gsets)
        gc.collect()
        msg = (f"{rule.name} {dtype} {workload.name} t={threads}: fastopt {case.impls['fastopt'].median_s * 1e3:.3f} ms, "
               f"{case.gbps('fastopt'):.1f} GB/s, {case.pct_bw('fastopt'):.0f}% of {case.label}")
        self.log(msg)
        return case

    def compare(self, rule, dtype, many_wl, one_wl, threads, torch=True):
        """Time `many_wl` against `one_wl` (same total size) side by side, for
        fastopt and (if `torch`) the torch peers. Returns a :class:`Comparison`."""
        dtype = np.dtype(dtype).name
        cmp = Comparison(rule.name, dtype, threads, many_wl.name, one_wl.name)
        pm, gm, tm = self.data(many_wl, dtype)
        pm, gm, tm = [np.array(p) for p in pm], [[np.array(g) for g in gs] for gs in gm], None
        if self.torch_variants:
            import torch as torch_mod

            tm = [[torch_mod.from_numpy(g) for g in gs] for gs in gm]
        po, go, to = self.data(one_wl, dtype)
        items = []   # each implementation's two workloads back to back in every round
        for tag, (p, g, t) in (("many", (pm, gm, tm)), ("one", (po, go, to))):
            it = FastoptImpl(rule, p, g, threads)
            it.name = f"fastopt|{tag}"
            items.append(it)
        for v in self.torch_variants if torch else ():
            if rule.torch is not None:
                try:
                    pair = [TorchImpl(rule, p, t, threads, v) for p, g, t in ((pm, gm, tm), (po, go, to))]
                except (RuntimeError, ValueError, TypeError):
                    continue  # torch has no such implementation of this rule (e.g. no fused kernel), as in run_case
                for tag, it in zip(("many", "one"), pair):
                    it.name = f"torch-{v}|{tag}"
                    items.append(it)
        # One step per turn for every item: each step of one workload follows a
        # step of the other, so both see the same (cold-ish) cache state.
        res = _round_robin(items, threads, self.policy, block=1)
        for name in {n.split("|")[0] for n in res}:
            cmp.impls[name] = (res[f"{name}|many"], res[f"{name}|one"])
        self.log(f"{rule.name} {dtype} {many_wl.name} / {one_wl.name} t={threads}: fastopt ratio {cmp.ratio('fastopt'):.2f}")
        return cmp


# ---------------------------------------------------------------- fixed cost of a step
#: The 10-tensor model of the overhead measurement: sizes 10 .. 10^5, twice.
OVERHEAD_SIZES = (10, 100, 1000, 10_000, 100_000) * 2


def measure_overhead(rule, threads=1, sizes=OVERHEAD_SIZES, reps=2000, dtype="float32"):
    """The Python + Cython cost of one ``step()``, measured two ways.

    * ``empty_s``: median ``step()`` over ``len(sizes)`` tensors of 0
      elements: everything but the kernels (the C call returns at once).
    * ``step_s`` and ``kernel_s``: median ``step()`` over tensors of `sizes`,
      and the median of the same step's C call alone (``Plan.run`` with the
      grads already bound), timed in alternate rounds over the same rotation
      of gradient sets; ``extra_s = step_s - kernel_s`` is what a step costs
      beyond the kernel work.

    Returns a dict of seconds (medians) and the sizes.
    """
    dt = np.dtype(dtype)
    rng = np.random.default_rng(0)
    perf = time.perf_counter

    def build(shape_sizes):
        params = [rng.standard_normal(n).astype(dt) for n in shape_sizes]
        gsets = [[(rng.standard_normal(n) * 1e-2).astype(dt) for n in shape_sizes] for _ in range(3)]
        opt = rule.make_fastopt(params, threads)
        for r in range(2):
            opt.step(gsets[r])
        return opt, gsets

    empty, gempty = build([0] * len(sizes))
    opt, gsets = build(sizes)
    (idx, plan), = opt._runtimes[0].plans
    group = opt.param_groups[0]
    t_empty, t_step, t_run = [], [], []
    for r in range(reps):
        g = gsets[r % 3]
        t0 = perf()
        empty.step(gempty[r % 3])
        t1 = perf()
        t_empty.append(t1 - t0)
        if r % 2:
            t0 = perf()
            opt.step(g)
            t_step.append(perf() - t0)
        else:
            plan.bind(1, g, None)
            scalars, flags = opt._scalars(group, 3)
            t0 = perf()
            plan.run(opt._rule_id, scalars, flags, threads)
            t_run.append(perf() - t0)
    med = statistics.median
    step_s, kernel_s = med(t_step), med(t_run)
    return dict(rule=rule.name, dtype=dt.name, threads=threads, sizes=list(sizes), empty_s=med(t_empty),
                step_s=step_s, kernel_s=kernel_s, extra_s=step_s - kernel_s, reps=reps)


# ---------------------------------------------------------------- subnormals
def measure_subnormals(rule, n=1 << 14, steps=10_000, window=100, scale=1e-20, dtype="float32", threads=1):
    """Per-step time at the start and at the end of a long run with tiny
    gradients (normals times `scale`: for Adam in float32, 1e-20 puts
    (1 - beta2) g^2 and so the second moments in the subnormal range), with
    ``flush_denormals`` off and on. Returns one dict per setting with the
    median step of the first and of the last `window` steps (seconds) and the
    fraction of subnormal second-moment values at the end."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(0)
    gsets = [[(rng.standard_normal(n) * scale).astype(dt)] for _ in range(3)]
    p0 = rng.standard_normal(n).astype(dt)
    perf = time.perf_counter
    out = []
    tiny = np.finfo(dt).tiny
    for ftz in (False, True):
        params = [p0.copy()]
        opt = rule.cls(params, n_threads=threads, flush_denormals=ftz, **rule.kwargs)
        times = np.empty(steps)
        for s in range(steps):
            g = gsets[s % 3]
            t0 = perf()
            opt.step(g)
            times[s] = perf() - t0
        sub = 0.0
        for name, b in opt.state[0].items():
            if isinstance(b, np.ndarray) and b.size:
                sub = max(sub, float(np.mean((b != 0) & (np.abs(b) < tiny))))
        out.append(dict(rule=rule.name, dtype=dt.name, n=n, steps=steps, flush_denormals=ftz, scale=scale,
                        first_s=float(np.median(times[:window])), last_s=float(np.median(times[-window:])),
                        subnormal_fraction=sub))
    return out


# ---------------------------------------------------------------- a loaded machine
def busy_loops(n):
    """Start `n` processes that spin on a CPU each (to measure with the other
    cores loaded); returns a callable that stops them."""
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, n))]

    def stop():
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()

    return stop
