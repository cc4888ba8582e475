"""fastopt vs the NumPy reference and torch.optim, one group per
(rule, dtype, workload, threads). See conftest.py for how to run."""
import time

import pytest

from fastopt.bench import rules as rules_mod
from fastopt.bench import runner as runner_mod
from fastopt.bench import workloads as wl_mod

from conftest import impl_names, optimizer_cases, rounds_for, stat_median


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        cases = optimizer_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[f"{r}-{d}-{w.replace('2^', 'pow2_')}-t{t}" for r, d, w, t in cases], scope="module")
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", impl_names())


def test_step(benchmark, case, impl, bench_data, bench_bandwidth):
    rule_name, dtype, wname, threads = case
    rule, wl = rules_mod.get(rule_name), wl_mod.get(wname)
    benchmark.group = f"{rule_name}|{dtype}|{wname}|t{threads}"
    params, gsets, tgsets = bench_data.get(wl, dtype)
    if impl == "numpy" and threads != 1:
        pytest.skip("the NumPy reference is single-threaded: see the t1 group")
    obj = runner_mod.make_impl(impl, rule, params, gsets, tgsets, threads)
    if obj is None:
        pytest.skip(f"{rule_name} has no {impl} peer")
    torch = getattr(obj, "torch", None)
    if torch is not None:
        torch.set_num_threads(threads)
    counter = [0]
    # Warmup outside pytest-benchmark: state allocation and first-step special cases.
    for _ in range(2):
        obj.prepare(counter[0])
        t0 = time.perf_counter()
        obj.step(counter[0])
        est = time.perf_counter() - t0
        counter[0] += 1
    slow = impl in ("numpy", "torch-forloop") and wl.n_params > (1 << 22)

    def setup():
        obj.prepare(counter[0])

    def step():
        obj.step(counter[0])
        counter[0] += 1

    benchmark.pedantic(step, setup=setup, rounds=rounds_for(est, budget=0.5 if slow else 1.5), iterations=1,
                       warmup_rounds=1)
    k, j = rule.pattern()
    nbytes = rule.bytes_per_step(dtype, wl.n_params)
    bw = rule.ceiling_gbps(lambda pk, pj: bench_bandwidth.get(pk, pj, dtype, threads))
    info = dict(impl=impl, rule=rule_name, dtype=dtype, workload=wname, threads=threads, n_params=wl.n_params,
                n_tensors=wl.n_tensors, bytes_per_step=nbytes, bytes_per_element=rule.bytes_per_element(dtype),
                pattern=[k, j], probes=rule.pattern_label(), bandwidth_gbps=bw)
    med = stat_median(benchmark)
    if med:
        info.update(gbps=nbytes / med / 1e9, pct_bandwidth=100.0 * nbytes / med / 1e9 / bw)
    benchmark.extra_info.update(info)
    obj.close()
