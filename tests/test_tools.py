"""The training tools fused into the step: clipping, the non-finite guard,
update telemetry, EMA/SWA, and the standalone clip functions.

Each fused option is checked against "the same optimizer without the option,
fed grads transformed by NumPy" (bitwise: the pipe must change nothing but the
grads the kernel reads), for every rule, both dtypes, 1 and 2 threads, every
ISA; telemetry against NumPy norms; averages against a NumPy EMA/SWA.
"""
import math

import numpy as np
import pytest

import fastopt
from fastopt import _engine
from fastopt._multipass import ref_sum_sq
from cases import ONE_PER_RULE
from helpers import SIZES, make_grads, make_params

DTYPES = [np.float32, np.float64]
TOOL_SETS = [
    dict(clip_value=0.4),
    dict(clip_norm=1.5),
    dict(clip_global_norm=2.0),
    dict(clip_value=0.5, clip_norm=3.0, clip_global_norm=4.0),
]


def numpy_clip(grads, clip_value=None, clip_norm=None, clip_global_norm=None):
    """The tools' grad transform written with NumPy: clamp, then one factor
    min(1, c/(norm+1e-6)) per tensor and globally, multiplied in double and
    applied in the grads' dtype. Norms in the kernels' summation order."""
    out = []
    for g in grads:
        if g is not None and clip_value is not None:
            g = np.clip(g, g.dtype.type(-clip_value), g.dtype.type(clip_value))
        out.append(g)
    sums = [ref_sum_sq(g, lanes=32) if g is not None else 0.0 for g in out]
    f = [1.0] * len(out)
    if clip_norm is not None:
        f = [min(1.0, clip_norm / (math.sqrt(s) + 1e-6)) for s in sums]
    if clip_global_norm is not None:
        if clip_norm is not None:
            total = math.sqrt(math.fsum(float(x) for x in np.array(sums) * np.array(f) * np.array(f)))
        else:
            total = math.sqrt(math.fsum(sums))
        coef = min(1.0, clip_global_norm / (total + 1e-6))
        f = [x * coef for x in f]
    return [None if g is None else (g if fac == 1.0 else g * g.dtype.type(fac)) for g, fac in zip(out, f)]


def state_arrays(opt):
    sd = opt.state_dict()["state"]
    return {(i, k): np.array(v) for i, st in sd.items() for k, v in st.items()}


def assert_same(opt_a, params_a, opt_b, params_b):
    for i, (a, b) in enumerate(zip(params_a, params_b)):
        np.testing.assert_array_equal(a, b, err_msg=f"param {i}")
    sa, sb = state_arrays(opt_a), state_arrays(opt_b)
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=f"state {k}")


# ------------------------------------------------------------------ clipping
@pytest.mark.parametrize("case", ONE_PER_RULE, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("tools", TOOL_SETS, ids=lambda t: ",".join(t))
def test_clip_equals_numpy_clip_then_update(case, dtype, tools, parallel):
    rng = np.random.default_rng(7)
    shapes = SIZES
    pa = make_params(shapes, dtype, rng)
    pb = [p.copy() for p in pa]
    a = case.cls(pa, n_threads=2, **case.kwargs, **tools)
    b = case.cls(pb, n_threads=2, **case.kwargs)
    for _ in range(6):
        grads = [g * dtype(4) for g in make_grads(shapes, dtype, rng)]
        if case.name == "diag_lm":  # tools act on the grads, not on the Hessian estimate
            h = [g * g for g in grads]
            a.step(grads, hessian_diag=h)
            b.step(numpy_clip(grads, **tools), hessian_diag=h)
            continue
        a.step(grads)
        b.step(numpy_clip(grads, **tools))
    assert_same(a, pa, b, pb)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_clip_every_isa_and_thread_count(isa, n_threads, parallel):
    rng = np.random.default_rng(3)
    for dtype in DTYPES:
        pa = make_params(SIZES, dtype, rng)
        pb = [p.copy() for p in pa]
        tools = dict(clip_value=0.5, clip_norm=3.0, clip_global_norm=4.0)
        a = fastopt.Adam(pa, lr=0.01, n_threads=n_threads, **tools)
        b = fastopt.Adam(pb, lr=0.01, n_threads=1)
        for _ in range(4):
            g = make_grads(SIZES, dtype, rng)
            a.step(g)
            with fastopt.use_cpu("scalar"):
                b.step(numpy_clip(g, **tools))
        assert_same(a, pa, b, pb)


def test_clip_with_missing_grads_and_mixed_dtypes():
    rng = np.random.default_rng(5)
    pa = [rng.standard_normal(40).astype(np.float32), rng.standard_normal(9), rng.standard_normal((3, 4))]
    pb = [p.copy() for p in pa]
    tools = dict(clip_value=1.0, clip_global_norm=0.5)
    a = fastopt.Adam(pa, lr=0.1, **tools)
    b = fastopt.Adam(pb, lr=0.1)
    for t in range(5):
        g = [rng.standard_normal(p.shape).astype(p.dtype) * 3 for p in pa]
        if t % 2:
            g[1] = None
        a.step(g)
        b.step(numpy_clip(g, **tools))
        assert a.last_global_grad_norm == pytest.approx(
            math.sqrt(sum(ref_sum_sq(np.clip(x, -1, 1), lanes=32) for x in g if x is not None)), rel=1e-15)
    assert_same(a, pa, b, pb)


def test_muon_clip_and_telemetry():
    rng = np.random.default_rng(11)
    shapes = [(6, 5), (3, 9)]
    pa = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    pb = [p.copy() for p in pa]
    a = fastopt.Muon(pa, lr=0.02, clip_global_norm=1.0, track_update_ratio=True)
    b = fastopt.Muon(pb, lr=0.02)
    for _ in range(3):
        g = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        old = [p.copy() for p in pa]
        a.step(g)
        b.step(numpy_clip(g, clip_global_norm=1.0))
        dw = [np.linalg.norm((p - o).astype(np.float64)) for p, o in zip(pa, old)]
        np.testing.assert_allclose(a.update_norms(), dw, rtol=1e-12)
    assert_same(a, pa, b, pb)


def test_grads_are_never_written():
    g = [np.full(50, 10.0), np.full(3, -10.0)]
    keep = [x.copy() for x in g]
    opt = fastopt.SGD([np.zeros(50), np.zeros(3)], lr=0.1, clip_value=1.0, clip_global_norm=0.1)
    opt.step(g)
    for a, b in zip(g, keep):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ non-finite guard
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_skip_nonfinite_leaves_everything_bitwise(bad, n_threads, parallel):
    rng = np.random.default_rng(2)
    params = make_params(SIZES, np.float32, rng)
    opt = fastopt.Adam(params, lr=0.01, skip_nonfinite=True, n_threads=n_threads, clip_global_norm=1.0)
    opt.step(make_grads(SIZES, np.float32, rng))
    before_p = [p.copy() for p in params]
    before_s = state_arrays(opt)
    grads = make_grads(SIZES, np.float32, rng)
    grads[-1][BAD_AT] = bad
    opt.step(grads)
    assert opt.last_step_skipped and opt.skipped_steps == 1
    for a, b in zip(params, before_p):
        np.testing.assert_array_equal(a, b)
    after = state_arrays(opt)
    for k in before_s:
        np.testing.assert_array_equal(after[k], before_s[k])
    assert all(opt.state[i]["step"] == 1 for i in opt.state)
    opt.step(make_grads(SIZES, np.float32, rng))
    assert not opt.last_step_skipped and opt.skipped_steps == 1
    assert all(opt.state[i]["step"] == 2 for i in opt.state)


BAD_AT = 12345  # inside the last (2 * BLOCK + 5)-element grad, not in the first span


def test_skip_nonfinite_first_step_allocates_nothing():
    p = [np.ones(5, dtype=np.float32)]
    opt = fastopt.Adam(p, skip_nonfinite=True)
    opt.step([np.array([1, 2, np.nan, 4, 5], dtype=np.float32)])
    assert opt.last_step_skipped and len(opt.state) == 0
    np.testing.assert_array_equal(p[0], 1)


def test_without_skip_nans_propagate_as_in_torch():
    p = [np.ones(5)]
    opt = fastopt.SGD(p, lr=0.1)
    opt.step([np.array([1, np.nan, 1, 1, 1])])
    assert np.isnan(p[0][1]) and not opt.last_step_skipped


def test_skipped_steps_in_state_dict_and_file(tmp_path):
    p = [np.ones(4)]
    opt = fastopt.SGD(p, lr=0.1, momentum=0.9, skip_nonfinite=True)
    opt.step([np.ones(4)])
    opt.step([np.full(4, np.inf)])
    sd = opt.state_dict()
    assert sd["skipped_steps"] == 1
    fastopt.save(tmp_path / "o.npz", opt)
    other = fastopt.SGD([np.ones(4)], lr=0.1, momentum=0.9, skip_nonfinite=True)
    fastopt.load(tmp_path / "o.npz", other)
    assert other.skipped_steps == 1
    with pytest.raises(ValueError, match="skipped_steps"):
        other.load_state_dict(dict(sd, skipped_steps=-1))


# ------------------------------------------------------------------ telemetry
def telemetry_rtol(case, dtype):
    """The fused loops (csrc/fused.def, kernels/fused.h) square float32 values
    in float32 and add up to 8 squares in float32 before the double sums: a
    few 2^-24 relative. Everything else sums in double."""
    fused = _engine.fused_tools() and getattr(case.cls, "rule", None) in _engine.fused_rules()
    return 1e-6 if fused and np.dtype(dtype) == np.float32 else 1e-12


@pytest.mark.parametrize("case", ONE_PER_RULE, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_update_ratio_equals_numpy_norms(case, dtype, parallel):
    rtol = telemetry_rtol(case, dtype)
    rng = np.random.default_rng(9)
    params = make_params(SIZES, dtype, rng)
    twin = [p.copy() for p in params]
    opt = case.cls(params, n_threads=2, track_update_ratio=True, clip_value=0.3, **case.kwargs)
    plain = case.cls(twin, n_threads=2, **case.kwargs)
    for _ in range(3):
        grads = make_grads(SIZES, dtype, rng)
        old = [p.astype(np.float64) for p in params]
        if case.name == "diag_lm":
            h = [g * g for g in grads]
            opt.step(grads, hessian_diag=h)
            plain.step(numpy_clip(grads, clip_value=0.3), hessian_diag=h)
        else:
            opt.step(grads)
            plain.step(numpy_clip(grads, clip_value=0.3))
        dw = np.array([np.linalg.norm(p.astype(np.float64) - o) for p, o in zip(params, old)])
        w = np.array([np.linalg.norm(o) for o in old])
        gn = np.array([np.linalg.norm(np.clip(g, -0.3, 0.3).astype(np.float64)) for g in grads])
        np.testing.assert_allclose(opt.update_norms(), dw, rtol=rtol, atol=1e-300)
        np.testing.assert_allclose(opt.param_norms(), w, rtol=rtol, atol=1e-300)
        np.testing.assert_allclose(opt.grad_norms(), gn, rtol=rtol, atol=1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.testing.assert_allclose(opt.update_ratios(), dw / w, rtol=2 * rtol)
    assert_same(opt, params, plain, twin)  # telemetry changes no number


def test_telemetry_missing_grad_is_nan_and_errors_before_a_step():
    opt = fastopt.Adam([np.ones(3), np.ones(2)], lr=0.1, track_update_ratio=True)
    with pytest.raises(RuntimeError, match="track_update_ratio"):
        opt.update_ratios()
    opt.step([np.ones(3), None])
    r = opt.update_ratios()
    assert np.isfinite(r[0]) and np.isnan(r[1])
    assert r[0] == pytest.approx(0.1, rel=1e-6)  # Adam's first step moves each element by lr


# ------------------------------------------------------------------ EMA / SWA
def numpy_ema(avg, params, decay_t):
    out = []
    for a, p in zip(avg, params):
        T = p.dtype.type
        w = T(1.0 - decay_t)
        out.append(a + w * (p - a) if w < 0.5 else p - (p - a) * (T(1) - w))
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("warmup", [None, 10])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fused_ema_equals_numpy_ema(dtype, warmup, n_threads, parallel):
    rng = np.random.default_rng(4)
    params = make_params(SIZES, dtype, rng)
    opt = fastopt.AdamW(params, lr=0.01, n_threads=n_threads)
    ema = fastopt.EMA(opt, decay=0.95, warmup=warmup)
    assert ema.fused
    ref = [p.copy() for p in params]
    for t in range(8):
        grads = make_grads(SIZES, dtype, rng)
        if t == 3:
            grads[2] = None  # a param without grad is still averaged
        opt.step(grads)
        d = (0.0 if t == 0 else 0.95) if warmup is None else min(0.95, (1 + t) / (warmup + t))
        ref = numpy_ema(ref, params, d)
    for a, b in zip(ema.averages, ref):
        np.testing.assert_array_equal(a, b)
    assert ema.n_updates == 8


def test_ema_not_updated_on_skipped_step():
    p = [np.ones(4)]
    opt = fastopt.SGD(p, lr=0.5, skip_nonfinite=True)
    ema = fastopt.EMA(opt, decay=0.5)
    opt.step([np.ones(4)])
    a0 = ema.averages[0].copy()
    opt.step([np.full(4, np.nan)])
    np.testing.assert_array_equal(ema.averages[0], a0)
    assert ema.n_updates == 1


def test_ema_standalone_swap_and_state_dict():
    rng = np.random.default_rng(8)
    params = [rng.standard_normal(100).astype(np.float32), rng.standard_normal((4, 4))]
    ema = fastopt.EMA(params, decay=0.8, warmup=3)
    ref = [p.copy() for p in params]
    for t in range(5):
        for p in params:
            p += p.dtype.type(0.25)
        ema.update()
        ref = numpy_ema(ref, params, min(0.8, (1 + t) / (3 + t)))
    for a, b in zip(ema.averages, ref):
        np.testing.assert_array_equal(a, b)
    live = [p.copy() for p in params]
    with ema.average_parameters():
        for p, r in zip(params, ref):
            np.testing.assert_array_equal(p, r)
    for p, v in zip(params, live):
        np.testing.assert_array_equal(p, v)
    sd = ema.state_dict()
    other = fastopt.EMA([p.copy() for p in params], decay=0.8, warmup=3)
    other.load_state_dict(sd)
    assert other.n_updates == 5
    for a, b in zip(other.averages, ema.averages):
        np.testing.assert_array_equal(a, b)


def test_swa_equal_average():
    p = [np.zeros(7, dtype=np.float32)]
    swa = fastopt.SWA(p)
    seen = []
    for t in range(6):
        p[0][...] = np.float32(t * 1.5 + 0.1)
        seen.append(p[0].copy())
        swa.update()
    ref = seen[0].copy()
    for n, x in enumerate(seen[1:], start=1):
        ref = ref + (x - ref) / np.float32(n + 1)
    np.testing.assert_array_equal(swa.averages[0], ref)


def test_swa_fused_into_optimizer_matches_manual():
    rng = np.random.default_rng(6)
    pa = [rng.standard_normal(300)]
    pb = [pa[0].copy()]
    a = fastopt.SGD(pa, lr=0.1, momentum=0.9)
    b = fastopt.SGD(pb, lr=0.1, momentum=0.9)
    fused, manual = fastopt.SWA(a), fastopt.SWA(pb)
    for _ in range(5):
        g = rng.standard_normal(300)
        a.step([g])
        b.step([g])
        manual.update()
    np.testing.assert_array_equal(fused.averages[0], manual.averages[0])


def test_ema_with_lbfgs_runs_its_own_pass():
    x = [np.array([1.5, -0.5])]
    opt = fastopt.LBFGS(x, lr=0.5, max_iter=2)
    ema = fastopt.EMA(opt, decay=0.5)
    assert not ema.fused
    opt.step(lambda: (float(x[0] @ x[0]), [2 * x[0]]))
    np.testing.assert_array_equal(ema.averages[0], x[0])  # first update copies
    assert ema.n_updates == 1


def test_ema_errors():
    opt = fastopt.SGD([np.ones(3)], lr=0.1)
    ema = fastopt.EMA(opt)
    with pytest.raises(RuntimeError, match="inside the optimizer"):
        ema.update()
    with pytest.raises(ValueError, match="already has an average"):
        fastopt.EMA(opt)
    ema.detach()
    fastopt.EMA(opt)
    with pytest.raises(ValueError, match="decay"):
        fastopt.EMA([np.ones(3)], decay=1.5)
    with pytest.raises(ValueError, match="warmup"):
        fastopt.EMA([np.ones(3)], warmup=0)
    with pytest.raises(ValueError, match="n_updates"):
        fastopt.EMA([np.ones(3)]).load_state_dict({"averages": [np.ones(3)], "n_updates": -1})


# ------------------------------------------------------------------ option errors
OPTION_ERRORS = [
    (dict(clip_value=0), ValueError, "clip_value"),
    (dict(clip_value=-1.0), ValueError, "clip_value"),
    (dict(clip_norm=float("nan")), ValueError, "clip_norm"),
    (dict(clip_global_norm="1"), TypeError, "clip_global_norm"),
    (dict(clip_global_norm=True), TypeError, "clip_global_norm"),
    (dict(skip_nonfinite=1), TypeError, "skip_nonfinite"),
    (dict(track_update_ratio="yes"), TypeError, "track_update_ratio"),
]


@pytest.mark.parametrize("kw, exc, msg", OPTION_ERRORS)
def test_option_errors(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        fastopt.Adam([np.ones(3)], **kw)
    opt = fastopt.Adam([np.ones(3)])
    with pytest.raises(exc, match=msg):
        setattr(opt, *next(iter(kw.items())))


def test_options_are_writable_between_steps():
    p = [np.zeros(3)]
    opt = fastopt.SGD(p, lr=1.0)
    opt.step([np.array([5.0, -5.0, 0.5])])
    opt.clip_value = 1.0
    opt.step([np.array([5.0, -5.0, 0.5])])
    np.testing.assert_array_equal(p[0], [-6.0, 6.0, -1.0])


# ------------------------------------------------------------------ standalone functions
def test_standalone_clip_functions():
    rng = np.random.default_rng(1)
    g = [rng.standard_normal(n).astype(np.float32) * 4 for n in (1, 17, 40000)] + [rng.standard_normal((3, 3))]
    ref = numpy_clip([x.copy() for x in g], clip_global_norm=2.0)
    total = math.sqrt(math.fsum(ref_sum_sq(x, lanes=32) for x in g))
    assert fastopt.global_norm(g) == total
    assert fastopt.clip_by_global_norm_(g, 2.0) == total
    for a, b in zip(g, ref):
        np.testing.assert_array_equal(a, b)
    h = np.array([-3.0, 0.5, np.nan, 2.0])
    fastopt.clip_by_value_(h, 1.0)
    np.testing.assert_array_equal(h, [-1.0, 0.5, np.nan, 1.0])
    with pytest.raises(ValueError, match="writeable"):
        ro = np.ones(3)
        ro.flags.writeable = False
        fastopt.clip_by_value_([ro], 1.0)
    with pytest.raises(ValueError, match="global norm is inf"):
        fastopt.clip_by_global_norm_([np.array([np.inf, 1.0])], 1.0, error_if_nonfinite=True)


def test_standalone_clip_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    g = [rng.standard_normal(n) * 3 for n in (5, 100, 1000)]
    tg = [torch.tensor(x) for x in g]
    ps = [torch.zeros_like(t, requires_grad=True) for t in tg]
    for p, t in zip(ps, tg):
        p.grad = t.clone()
    tn = torch.nn.utils.clip_grad_norm_(ps, 1.5)
    n = fastopt.clip_by_global_norm_(g, 1.5)
    assert n == pytest.approx(float(tn), rel=1e-14)
    for a, p in zip(g, ps):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-14)
    g = [rng.standard_normal(n) * 0.02 for n in (5, 100, 1000)]
    for p, x in zip(ps, g):
        p.grad = torch.tensor(x)
    torch.nn.utils.clip_grad_value_(ps, 0.01)
    fastopt.clip_by_value_(g, 0.01)
    for a, p in zip(g, ps):
        np.testing.assert_array_equal(a, p.grad.numpy())
