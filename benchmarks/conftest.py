"""pytest-benchmark suite of fastopt against its peers.

Run:
    python -m pytest benchmarks                        # default set
    python -m pytest benchmarks --bench-full           # every rule x dtype x workload
    python -m pytest benchmarks -k "adam and pow2_24" --benchmark-columns=median,rounds
    python -m pytest benchmarks --benchmark-json=out.json   # extra_info carries bytes, GB/s, % bandwidth

Files named ``bench_*.py`` here are collected by the hook below (the
project's pytest configuration only collects ``tests/test_*.py``).

Test ids spell ``2^k`` as ``pow2_k`` (``-k`` cannot take ``^``). Benchmark groups are ``rule|dtype|workload|tN``: fastopt, the NumPy reference
and torch.optim (foreach=False / foreach=True / fused=True, when torch is
importable) side by side. Each benchmark stores in ``benchmark.extra_info``:
``bytes_per_step``, ``bytes_per_element``, ``pattern`` (k reads, j writes),
``probes`` (what the ceiling is: the (k, j) pattern, or the rule's passes),
``gbps`` (bytes / median), ``bandwidth_gbps`` (the in-place (k, j) kernel at
the same thread count, measured once per session, or the ceiling from the
probes of the rule's passes: ``BenchRule.ceiling_gbps``) and ``pct_bandwidth``.
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import fastopt  # noqa: E402
from fastopt.bench import bandwidth as bw_mod  # noqa: E402
from fastopt.bench import rules as rules_mod  # noqa: E402
from fastopt.bench import runner as runner_mod  # noqa: E402
from fastopt.bench import workloads as wl_mod  # noqa: E402

N_THREADS = fastopt.get_num_threads()
THREADS = sorted({1, N_THREADS})


def pytest_addoption(parser):
    parser.addoption("--bench-full", action="store_true", default=False,
                     help="fastopt benchmarks: every rule x float32/float64 x workload (slow); "
                          "also FASTOPT_BENCH_FULL=1")


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        patterns = parent.config.getini("python_files")
        if parent.session.isinitpath(file_path) or any(file_path.match(p) for p in patterns):
            return None  # named on the command line or matched by the ini: pytest collects it already
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def full(config):
    return bool(config.getoption("--bench-full") or os.environ.get("FASTOPT_BENCH_FULL", "") not in ("", "0"))


def optimizer_cases(config):
    """(rule, dtype, workload, threads) tuples to benchmark."""
    if full(config):
        rule_names = rules_mod.names()
        dtypes = ("float32", "float64")
        wls = [f"2^{k}" for k in range(10, 27, 2)] + ["1000x512", "1x512000", "resnet50", "gpt2-small"]
        threads = list(range(1, N_THREADS + 1))
    else:
        rule_names = list(rules_mod.DEFAULT_QUICK)
        dtypes = ("float32",)
        wls = ["2^16", "2^20", "2^24", "1000x512", "1x512000", "resnet50"]
        threads = THREADS
    out = []
    for w in wls:
        wl = wl_mod.get(w)
        for dtype in dtypes:
            for r in rule_names:
                if wl.accepts(r, dtype):
                    for nt in threads:
                        out.append((r, dtype, w, nt))
    return out


def impl_names():
    names = ["fastopt", "numpy"]
    if runner_mod.torch_available():
        names += ["torch-fused", "torch-foreach", "torch-forloop"]
    return names


class _DataCache:
    """Seeded params and gradient sets of the last (workload, dtype) used:
    benchmarks are ordered so that consecutive ones share it."""

    def __init__(self):
        self.key = None
        self.value = None

    def get(self, workload, dtype):
        key = (workload.name, dtype)
        if key != self.key:
            self.value = None
            self.value = runner_mod.make_data(workload, dtype, seed=0, grad_sets=3,
                                              torch=runner_mod.torch_available())
            self.key = key
        return self.value


class _BandwidthCache:
    def __init__(self):
        self.table = {}

    def get(self, k, j, dtype, threads):
        key = (k, j, dtype, threads)
        if key not in self.table:
            self.table[key] = bw_mod.measure_inplace(k, j, threads, dtype=dtype, reps=7).gbps
        return self.table[key]


@pytest.fixture(scope="session")
def bench_data():
    return _DataCache()


@pytest.fixture(scope="session")
def bench_bandwidth():
    cache = _BandwidthCache()
    yield cache
    bw_mod.free_probes()


@pytest.fixture(scope="session", autouse=True)
def _restore_torch_threads():
    if not runner_mod.torch_available():
        yield
        return
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def rounds_for(seconds_per_step, budget=1.0, lo=3, hi=200):
    """Rounds that fit in about `budget` seconds, within [lo, hi]."""
    if seconds_per_step <= 0:
        return hi
    return int(max(lo, min(hi, budget / seconds_per_step)))


def stat_median(benchmark):
    """The median of a finished benchmark, or None (e.g. --benchmark-disable)."""
    stats = getattr(benchmark, "stats", None)
    inner = getattr(stats, "stats", None) if stats is not None else None
    return getattr(inner, "median", None)
