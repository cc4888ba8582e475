"""Memory bandwidth through fastopt's engine: STREAM triad and the in-place
(k reads, j writes) patterns of the registered rules, per dtype and thread
count. GB/s lands in ``benchmark.extra_info``."""

from fastopt.bench import bandwidth as bw_mod
from fastopt.bench import rules as rules_mod

from conftest import THREADS, full

import fastopt


def pytest_generate_tests(metafunc):
    if "probe_case" in metafunc.fixturenames:
        patterns = sorted({kj for r in rules_mod.RULES.values() for kj, _ in r.probe_passes()})
        dtypes = ("float32", "float64") if full(metafunc.config) else ("float32",)
        threads = list(range(1, fastopt.get_num_threads() + 1)) if full(metafunc.config) else THREADS
        cases = [("triad", 3, 1, d, t) for d in dtypes for t in threads]
        cases += [("inplace", k, j, d, t) for (k, j) in patterns for d in dtypes for t in threads]
        metafunc.parametrize("probe_case", cases, ids=[
            f"{'triad' if c[0] == 'triad' else (f'r{c[1]}w{c[2]}' if c[2] else f'read{c[1]}')}-{c[3]}-t{c[4]}" for c in cases])


def test_bandwidth(benchmark, probe_case):
    kind, k, j, dtype, threads = probe_case
    probe = bw_mod.probe(dtype, bw_mod.DEFAULT_ELEMENTS)
    fn, nbytes = probe.triad_fn(threads) if kind == "triad" else probe.inplace_fn(k, j, threads)
    benchmark.group = f"bandwidth|{dtype}|t{threads}"
    benchmark.pedantic(fn, rounds=9, iterations=1, warmup_rounds=1)
    info = dict(kind=kind, pattern=[k, j], dtype=dtype, threads=threads, n_elements=probe.n,
                bytes_per_step=nbytes, counted="3 arrays (STREAM)" if kind == "triad" else "k + j arrays (j = 0: a read-only reduction)")
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None:
        info["gbps"] = nbytes / stats.median / 1e9
    benchmark.extra_info.update(info)
