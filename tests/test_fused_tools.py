"""The fused form of the training tools (csrc/fused.def, kernels/fused.h)
against the staged pipe (kernels/pipeline.h), which test_tools.py checks
against NumPy: for every flag combination of every rule with a fused form,
every tool mode, both dtypes, sizes around the SIMD widths and the block,
1 and 2 threads and every ISA, the params, the state and the averages are
bitwise equal, and the telemetry agrees to the documented precision."""
import numpy as np
import pytest

import fastopt
from fastopt import _engine
from cases import CASES
from helpers import SIZES, make_grads, make_params

FUSED = [c for c in CASES if getattr(c.cls, "rule", None) in _engine.fused_rules()]
DTYPES = [np.float32, np.float64]
TOOLS = {
    "clip_value": dict(clip_value=0.4),
    "clip_norms": dict(clip_norm=2.0, clip_global_norm=3.0),
    "track": dict(track_update_ratio=True),
    "ema": dict(ema=0.9),
    "ema_warmup": dict(ema=0.999, warmup=3),  # w >= 0.5 in the first steps: staged there
    "all": dict(clip_value=0.5, clip_global_norm=4.0, track_update_ratio=True, ema=0.99),
}


def test_the_rules_with_a_fused_form():
    assert {"adam", "sgd"} <= set(_engine.fused_rules())
    assert "lamb" not in _engine.fused_rules()  # reduces per span: always staged
    assert len(FUSED) >= 10


def _steps(case, default):
    """RAdam's fused loop is its rectified one, which the defaults (beta2 =
    0.999) first run at step 6; ASGD with t0 = 3 averages (mu != 1) from
    step 6 on: run past both."""
    return 8 if case.cls.rule in ("radam", "asgd") else default


def _run(case, dtype, tools, fused, n_threads, steps=5, shapes=SIZES):
    rng = np.random.default_rng(11)
    params = make_params(shapes, dtype, rng)
    kw = dict(tools)
    decay, warmup = kw.pop("ema", None), kw.pop("warmup", None)
    opt = case.cls(params, n_threads=n_threads, **case.kwargs, **kw)
    avg = fastopt.EMA(opt, decay=decay, warmup=warmup) if decay is not None else None
    old = _engine.fused_tools()
    _engine.set_fused_tools(fused)
    try:
        norms = []
        for _ in range(steps):
            opt.step([g * dtype(3) for g in make_grads(shapes, dtype, rng)])
            if opt.track_update_ratio:
                norms.append((opt.update_norms(), opt.param_norms(), opt.grad_norms()))
    finally:
        _engine.set_fused_tools(old)
    state = {(i, k): np.array(v) for i, st in opt.state_dict()["state"].items() for k, v in st.items()}
    averages = [a.copy() for a in avg.averages] if avg is not None else []
    return params, state, averages, norms


def _assert_fused_equals_staged(case, dtype, tools, n_threads, shapes=SIZES, steps=5):
    pf, sf, af, nf = _run(case, dtype, tools, True, n_threads, steps=steps, shapes=shapes)
    ps, ss, as_, ns = _run(case, dtype, tools, False, n_threads, steps=steps, shapes=shapes)
    for i, (a, b) in enumerate(zip(pf, ps)):
        np.testing.assert_array_equal(a, b, err_msg=f"param {i}")
    assert sf.keys() == ss.keys()
    for k in sf:
        np.testing.assert_array_equal(sf[k], ss[k], err_msg=f"state {k}")
    for i, (a, b) in enumerate(zip(af, as_)):
        np.testing.assert_array_equal(a, b, err_msg=f"average {i}")
    rtol = 1e-6 if np.dtype(dtype) == np.float32 else 1e-12
    for step, (f, s) in enumerate(zip(nf, ns)):
        for what, x, y in zip(("update", "param", "grad"), f, s):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-300, err_msg=f"{what} norms, step {step}")


@pytest.mark.parametrize("case", FUSED, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("tools", list(TOOLS.values()), ids=list(TOOLS))
def test_fused_equals_staged(case, dtype, tools, parallel):
    _assert_fused_equals_staged(case, dtype, tools, n_threads=2, steps=_steps(case, 5))


@pytest.mark.parametrize("case", FUSED, ids=lambda c: c.id)
def test_fused_equals_staged_prefetching(case, parallel):
    """Above _engine.PREFETCH_MIN bytes the telemetry loop prefetches every
    stream of the step (fo_pipe.streams): the results are still the staged
    ones. One tensor large enough with params and grads alone."""
    n = _engine.PREFETCH_MIN // (2 * 4) + 4099
    _assert_fused_equals_staged(case, np.float32, TOOLS["all"], n_threads=2, shapes=[(n,)], steps=_steps(case, 2))


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("rule", ["sgd", "adam"])
def test_fused_equals_staged_every_isa(isa, n_threads, rule, parallel):
    case = next(c for c in FUSED if c.cls.rule == rule and len(c.kwargs) > 1)
    for dtype in DTYPES:
        _assert_fused_equals_staged(case, dtype, TOOLS["all"], n_threads)


@pytest.mark.parametrize("cls", sorted({c.cls for c in FUSED}, key=lambda c: c.rule), ids=lambda c: c.rule)
def test_defaults_take_the_fused_loop(cls):
    """With the constructor's defaults every rule with a fused form runs it
    (a fused form that declined every flag word would pass the tests above):
    float32 telemetry sums in float32 there, in double staged, so the norms'
    bits differ while the params agree."""
    rng = np.random.default_rng(5)
    p0 = (rng.standard_normal(100_001) * np.exp(rng.standard_normal(100_001) * 3)).astype(np.float32)
    grads = [(rng.standard_normal(p0.size) * 0.01).astype(np.float32) for _ in range(7)]  # RAdam: step 6 on
    out = []
    for fused in (True, False):
        p = p0.copy()
        opt = cls([p], track_update_ratio=True)
        _engine.set_fused_tools(fused)
        try:
            for g in grads:
                opt.step([g])
        finally:
            _engine.set_fused_tools(True)
        out.append((p, opt.param_norms()[0]))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    assert out[0][1] != out[1][1]


def test_fused_telemetry_is_the_same_for_any_thread_count_and_isa(parallel):
    case = next(c for c in FUSED if c.cls.rule == "adam")
    ref = _run(case, np.float32, TOOLS["track"], True, 1)[3]
    for isa in fastopt.available_cpus():  # those FASTOPT_CPU allows
        with fastopt.use_cpu(isa):
            for n_threads in (1, 2):
                got = _run(case, np.float32, TOOLS["track"], True, n_threads)[3]
                for a, b in zip(ref, got):
                    for x, y in zip(a, b):
                        np.testing.assert_array_equal(x, y, err_msg=f"{isa}, {n_threads} threads")


def test_fused_float32_norms_near_exact():
    """The float32 squares and 8-term partial sums stay within a few 2^-24 of
    the exact norm, even for a large tensor of mixed magnitudes."""
    rng = np.random.default_rng(2)
    p = (rng.standard_normal(300_001) * np.exp(rng.standard_normal(300_001) * 3)).astype(np.float32)
    g = (rng.standard_normal(p.size) * 0.01).astype(np.float32)
    opt = fastopt.SGD([p], lr=0.5, track_update_ratio=True)
    old = p.astype(np.float64)
    opt.step([g])
    exact_w = np.sqrt(np.sum(old * old))
    exact_g = np.sqrt(np.sum(g.astype(np.float64) ** 2))
    exact_d = np.sqrt(np.sum((p.astype(np.float64) - old) ** 2))
    assert opt.param_norms()[0] == pytest.approx(exact_w, rel=3e-7)
    assert opt.grad_norms()[0] == pytest.approx(exact_g, rel=3e-7)
    assert opt.update_norms()[0] == pytest.approx(exact_d, rel=3e-7)
    # and this was the fused loop: the staged stages sum in double, other bits
    q = old.astype(np.float32)
    staged = fastopt.SGD([q], lr=0.5, track_update_ratio=True)
    _engine.set_fused_tools(False)
    try:
        staged.step([g])
    finally:
        _engine.set_fused_tools(True)
    np.testing.assert_array_equal(p, q)
    assert staged.param_norms()[0] != opt.param_norms()[0]


@pytest.mark.parametrize("case", FUSED, ids=lambda c: c.id)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_plain_prefetching_step_equals_the_plain_kernel(case, n_threads, parallel):
    """Above _engine.PREFETCH_MIN bytes a plain step (no tools) runs the rule's
    fused form with its prefetching loop (FO_TM_P), or the plain kernel for a
    flag word the fused form declines: bitwise the plain kernel's results
    (which test_reference.py checks against NumPy). One tensor just large
    enough with params and grads alone, one odd-sized (a tail of each chunk of
    32 and of the block), and a small one beside them."""
    n = _engine.PREFETCH_MIN // (2 * 4) + 4099
    _assert_fused_equals_staged(case, np.float32, {}, n_threads=n_threads, shapes=[(n,), (3, 17), ()],
                                steps=_steps(case, 3))
