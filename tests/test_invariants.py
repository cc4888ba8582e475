"""Invariants every rule keeps, whatever the configuration:

* grads are only read: never modified, read-only ones accepted, non-contiguous
  ones accepted and equivalent to contiguous copies;
* dtypes preserved (params updated in place, state in the param's dtype);
* results bitwise independent of the thread count and of the ISA level;
* the best ISA is selected at import, ``FASTOPT_CPU`` caps it;
* the FPU mode (MXCSR flush-to-zero / denormals-are-zero) of the calling thread
  and of the worker threads is left as it was; ``flush_denormals=True``
  really flushes.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from fastopt import reference
from fastopt._engine import BLOCK
from cases import CASES, ONE_PER_RULE

DTYPES = [np.float32, np.float64]
# Subprocesses start where the fastopt under test was imported from (the
# checkout in development, site-packages for an installed wheel), so they
# import the same package and never the bare sources.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))
SHAPES = [(), (0,), (7,), (33,), (3, 5, 7), (BLOCK + 3,)]
SGD_MOM = next(c for c in CASES if c.name == "sgd" and c.kwargs.get("nesterov"))
ADAM_AMS = next(c for c in CASES if c.name == "adam" and c.kwargs.get("amsgrad"))
STATEFUL = ONE_PER_RULE + [SGD_MOM]
dtype_ids = lambda d: np.dtype(d).name  # noqa: E731


def params_for(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(s)).astype(dtype) for s in shapes]


def grads_seq(shapes, dtype, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[np.asarray(rng.standard_normal(s) * 0.5 + 0.1).astype(dtype) for s in shapes] for _ in range(steps)]


def run(case, params, grads_steps, **kw):
    opt = case.cls(params, **{**case.kwargs, **kw})
    for g in grads_steps:
        opt.step(g)
    return opt


def assert_runs_equal(case, pa, oa, pb, ob):
    """Params and every state buffer (and step) bitwise equal."""
    for i, (a, b) in enumerate(zip(pa, pb)):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"param {i} ({case.id})"
    sa, sb = oa.state_dict()["state"], ob.state_dict()["state"]
    assert sorted(sa) == sorted(sb)
    for i in sa:
        assert sorted(sa[i]) == sorted(sb[i])
        for k, v in sa[i].items():
            if isinstance(v, np.ndarray):
                assert v.tobytes() == sb[i][k].tobytes(), f"{k} of param {i} ({case.id})"
            else:
                assert v == sb[i][k]


# ---------------------------------------------------------------- grads are only read
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
def test_grads_never_modified(case, dtype, parallel):
    params = params_for(SHAPES, dtype)
    steps = grads_seq(SHAPES, dtype, 3)
    steps[1][2] = None  # the slow path (a skipped param) reads grads too
    copies = [[None if g is None else g.copy() for g in gs] for gs in steps]
    run(case, params, steps, n_threads=2)
    for gs, cs in zip(steps, copies):
        for g, c in zip(gs, cs):
            if g is not None:
                assert g.tobytes() == c.tobytes(), "a grad was modified"
    assert any(not np.array_equal(p, q) for p, q in zip(params, params_for(SHAPES, dtype))), "nothing moved"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_read_only_grads_accepted(case):
    shapes = [(5,), (3, 4), (), (40,)]
    base = grads_seq(shapes, np.float32, 4)
    ro = []
    for gs in base:
        row = []
        for g in gs:
            g = g.copy()
            g.flags.writeable = False
            row.append(g)
        ro.append(row)
    pa, pb = params_for(shapes, np.float32), params_for(shapes, np.float32)
    oa, ob = run(case, pa, base), run(case, pb, ro)
    assert_runs_equal(case, pa, oa, pb, ob)


NON_CONTIG = ["strided", "fortran", "transposed", "negative-stride", "broadcast", "read-only-strided"]


def _make_non_contiguous(g, kind):
    """A view equal to `g` that is not C-contiguous (where the shape allows)."""
    if g.ndim == 0:
        return g
    if kind == "strided":
        big = np.zeros(g.shape + (3,), g.dtype)
        big[..., 1] = g
        return big[..., 1]
    if kind == "fortran":
        return np.asfortranarray(g)
    if kind == "transposed":
        return np.ascontiguousarray(g.T).T
    if kind == "negative-stride":
        flipped = np.ascontiguousarray(np.flip(g))
        return np.flip(flipped)
    if kind == "broadcast":
        col = np.ascontiguousarray(g[..., :1]) if g.ndim else g
        return np.broadcast_to(col, g.shape) if g.ndim else g
    if kind == "read-only-strided":
        v = _make_non_contiguous(g, "strided")
        v.flags.writeable = False
        return v
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", NON_CONTIG)
@pytest.mark.parametrize("case", STATEFUL, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
def test_non_contiguous_grads_equal_contiguous_copies(kind, case, dtype):
    shapes = [(6, 5), (4, 3, 2), (9,), (), (1, 7)]
    steps = grads_seq(shapes, dtype, 4)
    if kind == "broadcast":  # a grad constant along the last axis
        steps = [[np.ascontiguousarray(np.broadcast_to(g[..., :1], g.shape)) if g.ndim else g for g in gs]
                 for gs in steps]
    views = [[_make_non_contiguous(g, kind) for g in gs] for gs in steps]
    for gs, vs in zip(steps, views):
        for g, v in zip(gs, vs):
            np.testing.assert_array_equal(v, g)
        if kind not in ("negative-stride",):
            assert not vs[0].flags.c_contiguous
        else:
            assert vs[0].strides[0] < 0
    pa, pb = params_for(shapes, dtype), params_for(shapes, dtype)
    oa, ob = run(case, pa, steps), run(case, pb, views)
    assert_runs_equal(case, pa, oa, pb, ob)


def test_non_contiguous_view_of_a_param_is_read_as_a_copy():
    """A non-contiguous grad is copied before the step, so even one that views
    a param (allowed: it is read-only data from the step's point of view)
    gives the result of passing a copy."""
    p = np.arange(16.0).reshape(4, 4)
    q = p.copy()
    fastopt.SGD([p], lr=0.5).step([p.T])
    fastopt.SGD([q], lr=0.5).step([q.T.copy()])
    np.testing.assert_array_equal(p, q)


def test_same_grad_array_for_several_params(rng):
    g = np.linspace(-1, 1, 6)
    pa = [np.ones(6), np.zeros(6)]
    pb = [np.ones(6), np.zeros(6)]
    oa = fastopt.Adam(pa, lr=0.1)
    ob = fastopt.Adam(pb, lr=0.1)
    for _ in range(3):
        oa.step([g, g])
        ob.step([g.copy(), g.copy()])
    assert all(np.array_equal(a, b) for a, b in zip(pa, pb))


def test_grads_as_nested_lists_are_converted():
    p, q = np.ones(3), np.ones(3)
    fastopt.SGD([p], lr=0.5).step([[0.5, 1.0, 2.0]])
    fastopt.SGD([q], lr=0.5).step([np.array([0.5, 1.0, 2.0])])
    np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
def test_unaligned_params_and_grads(dtype):
    n = 1000
    item = np.dtype(dtype).itemsize
    p = np.frombuffer(bytearray(item * n + 1), dtype=dtype, count=n, offset=1)
    g = np.frombuffer(bytearray(item * n + 3), dtype=dtype, count=n, offset=3)
    assert not p.flags.aligned and not g.flags.aligned and p.flags.writeable
    p[:] = np.linspace(-1, 1, n)
    g[:] = np.linspace(2, -1, n)
    q = np.linspace(-1, 1, n).astype(dtype)
    oa = fastopt.Adam([p], lr=0.1, amsgrad=True)
    ob = fastopt.Adam([q], lr=0.1, amsgrad=True)
    for isa in fastopt.available_cpus():
        with fastopt.use_cpu(isa):
            oa.step([g])
            ob.step([g.copy()])
    np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
def test_byteswapped_grads_read_correctly_or_rejected(dtype):
    p, q = np.linspace(-1, 1, 7).astype(dtype), np.linspace(-1, 1, 7).astype(dtype)
    g = np.linspace(0.5, 2, 7).astype(dtype)
    swapped = g.astype(np.dtype(dtype).newbyteorder(">" if sys.byteorder == "little" else "<"))
    np.testing.assert_array_equal(swapped, g)
    try:
        fastopt.SGD([p], lr=0.1).step([swapped])
    except TypeError:
        return  # rejected: fine
    fastopt.SGD([q], lr=0.1).step([g])
    np.testing.assert_array_equal(p, q)


def test_byteswapped_params_rejected_or_correct():
    other = ">" if sys.byteorder == "little" else "<"
    p = np.linspace(-1, 1, 7).astype(np.dtype(np.float64).newbyteorder(other))
    q = np.linspace(-1, 1, 7)
    g = np.linspace(0.5, 2, 7)
    try:
        opt = fastopt.SGD([p], lr=0.1)
        opt.step([g.astype(p.dtype)])
    except (TypeError, ValueError):
        return
    fastopt.SGD([q], lr=0.1).step([g])
    np.testing.assert_array_equal(p, q)


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
def test_dtypes_preserved_and_updated_in_place(case, dtype):
    shapes = [(4,), (2, 3), ()]
    params = params_for(shapes, dtype)
    ids = [id(p) for p in params]
    opt = run(case, params, grads_seq(shapes, dtype, 3))
    for i, p in enumerate(params):
        assert p.dtype == dtype and id(opt.param_groups[0]["params"][i]) == ids[i]
        for k in case.state_keys:
            assert opt.state[i][k].dtype == dtype
            assert opt.state[i][k].shape == p.shape


# ---------------------------------------------------------------- threads and ISAs
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
def test_bitwise_independent_of_thread_count(case, dtype, parallel):
    shapes = [(BLOCK + 5,), (7,), (301,), (), (33, 3)]  # 2 chunks; the parallel fixture forces OpenMP
    steps = grads_seq(shapes, dtype, 3)
    pa, pb = params_for(shapes, dtype), params_for(shapes, dtype)
    oa = run(case, pa, steps, n_threads=1)
    ob = run(case, pb, steps, n_threads=2)
    assert_runs_equal(case, pa, oa, pb, ob)


def test_default_thread_count_follows_set_num_threads(parallel):
    case = STATEFUL[1]
    shapes = [(BLOCK * 2,), (5,)]
    steps = grads_seq(shapes, np.float32, 2)
    pa, pb = params_for(shapes, np.float32), params_for(shapes, np.float32)
    try:
        fastopt.set_num_threads(2)
        ob = run(case, pb, steps)  # n_threads=None: follows the default
    finally:
        fastopt.set_num_threads(None)
    oa = run(case, pa, steps, n_threads=1)
    assert_runs_equal(case, pa, oa, pb, ob)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
def test_every_isa_bitwise_equal_to_scalar(case, dtype):
    shapes = [(1,), (15,), (16,), (17,), (31,), (33,), (257,), (3, 5, 7)]
    steps = grads_seq(shapes, dtype, 6)
    results = {}
    for isa in fastopt.available_cpus():
        params = params_for(shapes, dtype)
        with fastopt.use_cpu(isa):
            assert fastopt.get_cpu() == isa
            results[isa] = (params, run(case, params, steps))
    assert "scalar" in results and len(results) == len(fastopt.available_cpus())
    for isa, (params, opt) in results.items():
        assert_runs_equal(case, *results["scalar"], params, opt)


def test_use_cpu_restores_and_rejects():
    before = fastopt.get_cpu()
    with fastopt.use_cpu("scalar"):
        assert fastopt.get_cpu() == "scalar"
    assert fastopt.get_cpu() == before
    with pytest.raises(ValueError, match="unknown ISA level 'sse9'"):
        fastopt.set_cpu("sse9")
    assert fastopt.get_cpu() == before


def _python(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "FASTOPT_CPU"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_best_isa_selected_by_default():
    r = _python("import fastopt, json; print(json.dumps([fastopt.get_cpu(), list(fastopt.available_cpus()),"
                " fastopt.config()['isa_detected'], fastopt.config()['isa_selected']]))")
    assert r.returncode == 0, r.stderr
    import json
    cpu, available, detected, selected = json.loads(r.stdout)
    assert cpu == available[-1] == detected == selected
    assert available[0] == "scalar" and "baseline" in available


@pytest.mark.parametrize("cap", ["scalar", "baseline", " AVX2 "])
def test_fastopt_cpu_caps_the_isa(cap):
    r = _python("import fastopt; print(fastopt.get_cpu()); print(fastopt.config()['isa_selected'])",
                FASTOPT_CPU=cap)
    assert r.returncode == 0, r.stderr
    order = ["scalar", "baseline", "avx2", "avx512"]
    best = fastopt._engine.isa_best()  # what the CPU offers, whatever this process's own cap
    want = order[min(order.index(cap.strip().lower()), order.index(best))]
    assert r.stdout.split() == [want, want]


def test_invalid_fastopt_cpu_raises_import_error():
    r = _python("import fastopt", FASTOPT_CPU="sse9")
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "FASTOPT_CPU='sse9'" in r.stderr


# ---------------------------------------------------------------- FPU mode
def _subnormal_arithmetic_works():
    """True when the calling thread neither flushes results (FTZ) nor treats
    subnormal inputs as zero (DAZ)."""
    tiny32 = np.float32(1e-40)  # subnormal
    tiny64 = np.float64(1e-310)
    return bool(tiny32 * np.float32(1.0) != 0 and np.float32(1e-30) * np.float32(1e-10) != 0
                and tiny64 * 1.0 != 0 and np.float64(1e-300) * 1e-10 != 0)


def _underflow_case(dtype, n=BLOCK + 7):
    """Adam grads whose squares underflow: v = (1 - beta2) * g * g is subnormal."""
    g = np.full(n, 1e-20 if dtype == np.float32 else 1e-160, dtype)
    g[::2] *= 1.5
    return g


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_ids)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_flush_denormals_flushes_and_restores(dtype, n_threads, parallel):
    assert _subnormal_arithmetic_works()
    g = _underflow_case(dtype)
    p0 = np.linspace(-1, 1, g.size).astype(dtype)
    finfo = np.finfo(dtype)

    # without flushing: exp_avg_sq holds subnormals, bitwise as the NumPy reference
    p, rp = p0.copy(), p0.copy()
    opt = fastopt.Adam([p], lr=0.01, n_threads=n_threads)
    ref = reference.Adam([rp], lr=0.01)
    for _ in range(2):
        opt.step([g])
        ref.step([g])
    v = opt.state[0]["exp_avg_sq"]
    assert np.all(v != 0) and np.all(v < finfo.tiny), "setup: exp_avg_sq should be subnormal"
    np.testing.assert_array_equal(v, ref.state[0]["exp_avg_sq"])
    np.testing.assert_array_equal(p, rp)
    assert _subnormal_arithmetic_works()

    # with flushing: they become exactly zero, and the caller's mode is restored
    pf = p0.copy()
    optf = fastopt.Adam([pf], lr=0.01, n_threads=n_threads, flush_denormals=True)
    for _ in range(2):
        optf.step([g])
        assert _subnormal_arithmetic_works(), "flush_denormals leaked into the calling thread"
    assert np.all(optf.state[0]["exp_avg_sq"] == 0)
    assert np.all(optf.state[0]["exp_avg"] != 0)

    # the worker threads were restored too: a following non-flushing step on
    # the same (pooled) threads still produces subnormals, bitwise as NumPy
    opt.step([g])
    ref.step([g])
    np.testing.assert_array_equal(opt.state[0]["exp_avg_sq"], ref.state[0]["exp_avg_sq"])
    assert np.all(opt.state[0]["exp_avg_sq"] != 0)
    np.testing.assert_array_equal(p, rp)


@pytest.mark.parametrize("flush", [False, True])
def test_fpu_mode_untouched_after_steps_of_every_rule(flush, parallel):
    for case in CASES:
        params = params_for([(BLOCK + 1,), (9,)], np.float32)
        for n_threads in (1, 2):
            opt = case.cls(params, n_threads=n_threads, flush_denormals=flush, **case.kwargs)
            opt.step(grads_seq([(BLOCK + 1,), (9,)], np.float32, 1)[0])
            assert _subnormal_arithmetic_works(), case.id


# ---------------------------------------------------------------- many tiny tensors
@pytest.mark.parametrize("case", [ADAM_AMS, SGD_MOM], ids=lambda c: c.id)
def test_ten_thousand_tiny_tensors_thread_independent(case, parallel):
    rng = np.random.default_rng(7)
    shapes = [(int(n),) for n in rng.integers(1, 40, size=10_000)]
    steps = grads_seq(shapes, np.float32, 2)
    pa, pb = params_for(shapes, np.float32), params_for(shapes, np.float32)
    oa = run(case, pa, steps, n_threads=1)
    ob = run(case, pb, steps, n_threads=2)
    assert_runs_equal(case, pa, oa, pb, ob)
