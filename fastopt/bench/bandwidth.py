"""Memory bandwidth measured through fastopt's own engine.

Two probes, both run by ``fastopt._engine.Plan`` with the same driver, chunks
and OpenMP team as the optimizer kernels (csrc/kernels/stream.h):

* ``inplace(k, j)``: read k arrays, write the first j of them back in place,
  trivial arithmetic. An optimizer step that reads k arrays and updates j in
  place (Adam: read p, g, m, v; write p, m, v -> (4, 3)) can at best reach
  the bandwidth of this pattern, so it is the ceiling the rules are quoted
  against. Counted as (k + j) * itemsize bytes per element, which is what
  really crosses the memory bus: every written line was read first anyway.
* ``inplace(k, 0)``: read k arrays and reduce them (a sum per span), no
  writes: the access pattern of a rule's norm or dot-product pass (LARS,
  LAMB, SAM, LBFGS, Adafactor). One core reads markedly fewer bytes per
  second this way than it moves in an in-place pattern, so rules with such a
  pass are quoted against the sum of their passes' probes
  (``fastopt.bench.rules.BenchRule.passes``).
* ``triad``: STREAM's a = b + q*c, counted STREAM's way as 3 * itemsize.
  The store to ``a`` (not read by the kernel) costs a hidden write-allocate
  read, so triad's quoted GB/s understates the bus traffic by up to 4/3
  and is *not* the right ceiling for in-place updates; it is reported for
  comparison with published STREAM figures.

Above ``_engine.PREFETCH_MIN`` bytes the optimizer loops prefetch every
stream in software (kernels/fused.h); the in-place probe then does the same,
so it stays the ceiling they are quoted against.

Arrays are ``n`` elements each (default 2**24: 64 MiB per float32 array,
far beyond any last-level cache), allocated once, touched, and reused.
Values stay exactly 1.0 (the in-place kernel averages k equal values), so no
subnormals or NaNs creep in whatever the number of repetitions.
"""
import statistics
import time
from dataclasses import dataclass, field, asdict

import numpy as np

from fastopt import _engine

__all__ = ["BandwidthResult", "Probe", "probe_pattern_ok", "measure_inplace", "measure_triad", "DEFAULT_ELEMENTS"]

DEFAULT_ELEMENTS = 1 << 24
_MAX_ARRAYS = 6
#: stream_inplace's flag for the prefetching loop (csrc/kernels/stream.h).
_INPLACE_PREFETCH = 0x100


@dataclass
class BandwidthResult:
    """One bandwidth measurement (median over repetitions)."""
    kind: str                  # "inplace" or "triad"
    k: int                     # arrays read (triad: 2 read + 1 written -> k=3, j=1 counted as 3)
    j: int                     # arrays written
    dtype: str
    threads: int
    n_elements: int
    bytes: int                 # counted bytes per run
    times: list = field(default_factory=list)

    @property
    def median_s(self):
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def gbps(self):
        """Median bandwidth in GB/s (1e9 bytes per second)."""
        return self.bytes / self.median_s / 1e9 if self.times else float("nan")

    @property
    def best_gbps(self):
        return self.bytes / min(self.times) / 1e9 if self.times else float("nan")

    @property
    def label(self):
        if self.kind == "triad":
            return "triad"
        return f"read r{self.k}" if self.j == 0 else f"inplace r{self.k}w{self.j}"

    def to_dict(self):
        d = asdict(self)
        d.update(median_s=self.median_s, gbps=self.gbps, best_gbps=self.best_gbps, label=self.label)
        return d


def probe_pattern_ok(k, j):
    """Whether stream_inplace has a kernel for (k, j): 1 <= j < k <= 6, k = j = 1
    (in place), or j = 0 (a read-only pass of 1..6 arrays)."""
    return 1 <= j < k <= _MAX_ARRAYS or (j == 0 and 1 <= k <= _MAX_ARRAYS) or k == j == 1


class Probe:
    """Cached arrays and plans for the bandwidth kernels of one dtype and size."""

    def __init__(self, dtype="float32", n=DEFAULT_ELEMENTS):
        self.dtype = np.dtype(dtype)
        self.n = int(n)
        self._arrays = None
        self._plans = {}

    @property
    def arrays(self):
        if self._arrays is None:
            # np.ones writes every page: no first-touch faults inside a timing.
            self._arrays = [np.ones(self.n, dtype=self.dtype) for _ in range(_MAX_ARRAYS)]
        return self._arrays

    def free(self):
        self._arrays = None
        self._plans.clear()

    def _plan(self, key, n_slots):
        plan = self._plans.get(key)
        if plan is None:
            plan = _engine.Plan([[a] for a in self.arrays[:n_slots]], ["bandwidth probe"])
            self._plans[key] = plan
        return plan

    def inplace_fn(self, k, j, n_threads):
        """A callable running the (k, j) in-place kernel once, and its byte count."""
        if not probe_pattern_ok(k, j):
            raise ValueError(f"in-place pattern needs 1 <= j < k <= {_MAX_ARRAYS}, k = j = 1, or j = 0 (a read-only "
                             f"pass), got ({k}, {j})")
        plan = self._plan(("inplace", k), k)
        rule = _engine.RULES["stream_inplace"]
        scalars = [1.0 / k]
        flags = k | (j << 4)
        out = None
        if j == 0:
            # The read-only pass reduces: one sum per span, like the rules' norm passes.
            out = np.empty(plan.n_spans * _engine.OUT_WIDTH)
        elif k * self.n * self.dtype.itemsize >= _engine.PREFETCH_MIN and _engine.fused_tools():
            # As the optimizer loops do at this size (kernels/fused.h, FO_TM_P).
            flags |= _INPLACE_PREFETCH

        def run():
            plan.run(rule, scalars, flags, n_threads, out=out)

        return run, (k + j) * self.n * self.dtype.itemsize

    def triad_fn(self, n_threads):
        plan = self._plan(("triad",), 3)
        rule = _engine.RULES["stream_triad"]
        # a = b + q*c with b = c = a = 1 and q = 0: values stay 1.0.
        scalars = [0.0]

        def run():
            plan.run(rule, scalars, 0, n_threads)

        return run, 3 * self.n * self.dtype.itemsize

    def inplace(self, k, j, n_threads, reps=7, warmup=1):
        run, nbytes = self.inplace_fn(k, j, n_threads)
        res = BandwidthResult("inplace", k, j, self.dtype.name, n_threads, self.n, nbytes)
        res.times = _time(run, reps, warmup)
        return res

    def triad(self, n_threads, reps=7, warmup=1):
        run, nbytes = self.triad_fn(n_threads)
        res = BandwidthResult("triad", 3, 1, self.dtype.name, n_threads, self.n, nbytes)
        res.times = _time(run, reps, warmup)
        return res


def _time(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(max(1, reps)):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


_probes = {}


def probe(dtype="float32", n=DEFAULT_ELEMENTS):
    """The shared :class:`Probe` for (dtype, n)."""
    key = (np.dtype(dtype).name, int(n))
    if key not in _probes:
        _probes[key] = Probe(*key)
    return _probes[key]


def free_probes():
    for p in _probes.values():
        p.free()
    _probes.clear()


def measure_inplace(k, j, n_threads, dtype="float32", n=DEFAULT_ELEMENTS, reps=7):
    """Median in-place bandwidth of the (k reads, j writes) pattern."""
    return probe(dtype, n).inplace(k, j, n_threads, reps=reps)


def measure_triad(n_threads, dtype="float32", n=DEFAULT_ELEMENTS, reps=7):
    """Median STREAM triad bandwidth (STREAM's 3-array byte count)."""
    return probe(dtype, n).triad(n_threads, reps=reps)
