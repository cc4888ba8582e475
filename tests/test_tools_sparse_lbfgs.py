"""The training tools on the two optimizers outside the fused pipe.

SparseAdam: each option is checked against "NumPy-transform the coalesced row
values, then a plain SparseAdam step" (bitwise), the skip path against a
snapshot, telemetry against NumPy norms of the dense arrays. LBFGS: telemetry
and the non-finite guard against a twin optimizer and NumPy; its clip options
are refused.
"""
import copy
import math

import numpy as np
import pytest

import fastopt
from fastopt._multipass import ref_sum_sq
from test_tools import OPTION_ERRORS, TOOL_SETS, assert_same, numpy_clip, state_arrays

DTYPES = [np.float32, np.float64]
SHAPES = [(40, 3), (9,), (12, 4, 2), (5, 1)]
NO_GRAD = 1  # the param left without a grad in odd steps


def coalesce(g, shape):
    """(unique sorted rows, summed values (k, D)) of a RowSparseGrad, in NumPy."""
    rows = np.unique(g.indices)
    vals = np.zeros((rows.size,) + tuple(shape[1:]), dtype=g.values.dtype)
    np.add.at(vals, np.searchsorted(rows, g.indices), g.values)
    return rows, vals.reshape(rows.size, -1)


def sparse_grads(params, rng, step, scale=3.0):
    """One RowSparseGrad per param, unsorted, with one row given twice (a pair
    sums the same in any order, so `coalesce` needs no particular one); None
    for NO_GRAD in odd steps."""
    out = []
    for i, p in enumerate(params):
        if i == NO_GRAD and step % 2:
            out.append(None)
            continue
        k = max(2, p.shape[0] // 2)
        idx = rng.choice(p.shape[0], size=k, replace=False)
        idx[-1] = idx[0]  # a duplicate row in every grad
        vals = (rng.standard_normal((k,) + p.shape[1:]) * scale).astype(p.dtype)
        out.append(fastopt.RowSparseGrad(idx, vals))
    return out


def numpy_transform(grads, params, clip_value=None, clip_norm=None, clip_global_norm=None, **_):
    """The tools' transform of row-sparse grads written with NumPy: coalesce,
    then the dense transform (test_tools.numpy_clip) of the values; returns
    coalesced RowSparseGrads and the global norm of the clamped values."""
    co = [None if g is None else coalesce(g, p.shape) for g, p in zip(grads, params)]
    vals = [None if c is None else c[1] for c in co]
    out = numpy_clip(vals, clip_value, clip_norm, clip_global_norm)
    clamped = numpy_clip(vals, clip_value)
    total = math.sqrt(math.fsum(ref_sum_sq(v, lanes=32) for v in clamped if v is not None))
    new = [None if c is None else fastopt.RowSparseGrad(c[0], v.reshape((c[0].size,) + p.shape[1:]))
           for c, v, p in zip(co, out, params)]
    return new, out, total


def make_params(dtype, rng):
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


# ------------------------------------------------------------------ SparseAdam: clipping
SPARSE_TOOL_SETS = TOOL_SETS + [dict(skip_nonfinite=True, track_update_ratio=True)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("tools", SPARSE_TOOL_SETS, ids=lambda t: ",".join(t))
def test_sparse_adam_tools_equal_numpy_transform_then_step(dtype, n_threads, tools, parallel):
    rng = np.random.default_rng(21)
    pa = make_params(dtype, rng)
    pb = [p.copy() for p in pa]
    a = fastopt.SparseAdam(pa, lr=0.05, n_threads=n_threads, **tools)
    b = fastopt.SparseAdam(pb, lr=0.05, n_threads=1)
    reduce = any(k in tools for k in ("clip_norm", "clip_global_norm", "skip_nonfinite"))
    for t in range(5):
        grads = sparse_grads(pa, rng, t)
        ref, _, total = numpy_transform(grads, pa, **tools)
        a.step(grads)
        b.step(ref)
        assert a.last_global_grad_norm == (total if reduce else None)
        assert not a.last_step_skipped
    assert_same(a, pa, b, pb)
    assert a.state[NO_GRAD]["step"] == 3  # the param without a grad in odd steps


def test_sparse_adam_clipping_acts():
    """The transform is not the identity on these grads (so the test above tests something)."""
    rng = np.random.default_rng(21)
    pa = make_params(np.float64, rng)
    grads = sparse_grads(pa, rng, 0)
    plain, _, _ = numpy_transform(grads, pa)
    for tools in TOOL_SETS:
        clipped, _, _ = numpy_transform(grads, pa, **tools)
        assert any(not np.array_equal(c.values, p.values) for c, p in zip(clipped, plain) if c is not None)


@pytest.mark.parametrize("rows", [[3, 1, 3, 0], [0, 1, 3, 5]], ids=["duplicates", "sorted"])
@pytest.mark.parametrize("writeable", [True, False])
def test_sparse_adam_grads_never_written_read_only_accepted(rows, writeable):
    rng = np.random.default_rng(2)
    p = [rng.standard_normal((10, 3))]
    vals = rng.standard_normal((4, 3)) * 10
    vals.flags.writeable = writeable
    idx = np.array(rows)
    keep = vals.copy()
    opt = fastopt.SparseAdam(p, lr=0.1, clip_value=0.5, clip_norm=1.0, clip_global_norm=0.3,
                             skip_nonfinite=True, track_update_ratio=True)
    opt.step([fastopt.RowSparseGrad(idx, vals)])
    np.testing.assert_array_equal(vals, keep)
    np.testing.assert_array_equal(idx, rows)


def test_sparse_adam_empty_grad_counts_and_measures():
    p = [np.arange(6.0).reshape(3, 2)]
    before = p[0].copy()
    opt = fastopt.SparseAdam(p, lr=0.1, clip_global_norm=1.0, track_update_ratio=True)
    opt.step([fastopt.RowSparseGrad(np.zeros(0, dtype=np.int64), np.zeros((0, 2)))])
    np.testing.assert_array_equal(p[0], before)
    assert opt.state[0]["step"] == 1 and opt.last_global_grad_norm == 0.0
    np.testing.assert_array_equal(opt.update_norms(), [0.0])
    np.testing.assert_array_equal(opt.grad_norms(), [0.0])
    assert opt.param_norms()[0] == pytest.approx(np.linalg.norm(before), rel=1e-15)


# ------------------------------------------------------------------ SparseAdam: non-finite guard
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_sparse_adam_skip_leaves_everything_bitwise(bad, n_threads, dtype, parallel):
    rng = np.random.default_rng(5)
    params = make_params(dtype, rng)
    twin = [p.copy() for p in params]
    opt = fastopt.SparseAdam(params, lr=0.05, n_threads=n_threads, skip_nonfinite=True, clip_value=1.0,
                             track_update_ratio=True)
    ref = fastopt.SparseAdam(twin, lr=0.05, n_threads=n_threads, clip_value=1.0)
    g0 = sparse_grads(params, rng, 0)
    opt.step(g0)
    ref.step(g0)
    tele = opt.update_norms().copy()
    before_p = [p.copy() for p in params]
    before_s = state_arrays(opt)
    grads = sparse_grads(params, rng, 0)
    grads[2].values[1, 2, 1] = bad  # clip_value would clamp an Inf: the guard sees the raw values
    opt.step(grads)
    assert opt.last_step_skipped and opt.skipped_steps == 1
    for a, b in zip(params, before_p):
        np.testing.assert_array_equal(a, b)
    after = state_arrays(opt)
    assert after.keys() == before_s.keys()
    for k in before_s:
        np.testing.assert_array_equal(after[k], before_s[k], err_msg=str(k))
    np.testing.assert_array_equal(opt.update_norms(), tele)  # telemetry of the last step taken
    g2 = sparse_grads(params, rng, 0)
    opt.step(g2)
    ref.step(g2)
    assert not opt.last_step_skipped and opt.skipped_steps == 1
    assert_same(opt, params, ref, twin)  # as if the bad step never came


def test_sparse_adam_skip_on_duplicates_summing_to_inf():
    """The guard sees the coalesced grad: two finite values whose sum overflows."""
    big = np.finfo(np.float32).max
    p = [np.ones((3, 2), dtype=np.float32)]
    opt = fastopt.SparseAdam(p, skip_nonfinite=True)
    with np.errstate(over="ignore"):
        opt.step([fastopt.RowSparseGrad([1, 1], np.array([[big, 0], [big, 0]], dtype=np.float32))])
    assert opt.last_step_skipped and opt.skipped_steps == 1 and len(opt.state) == 0
    np.testing.assert_array_equal(p[0], 1)


def test_sparse_adam_without_skip_nans_propagate_and_ema_skips():
    p = [np.ones((3, 2))]
    opt = fastopt.SparseAdam(p, lr=0.1, skip_nonfinite=True)
    ema = fastopt.EMA(opt, decay=0.5)
    opt.step([fastopt.RowSparseGrad([0], np.ones((1, 2)))])
    avg = ema.averages[0].copy()
    opt.step([fastopt.RowSparseGrad([2], np.array([[np.nan, 1.0]]))])
    np.testing.assert_array_equal(ema.averages[0], avg)
    assert ema.n_updates == 1
    opt.skip_nonfinite = False
    opt.step([fastopt.RowSparseGrad([2], np.array([[np.nan, 1.0]]))])
    assert np.isnan(p[0][2, 0]) and not opt.last_step_skipped and ema.n_updates == 2


# ------------------------------------------------------------------ SparseAdam: telemetry
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sparse_adam_telemetry_equals_numpy_norms(dtype, n_threads, parallel):
    tools = dict(clip_value=2.0, clip_global_norm=5.0)
    rng = np.random.default_rng(9)
    params = make_params(dtype, rng)
    twin = [p.copy() for p in params]
    opt = fastopt.SparseAdam(params, lr=0.01, n_threads=n_threads, track_update_ratio=True, **tools)
    plain = fastopt.SparseAdam(twin, lr=0.01, n_threads=n_threads)
    for t in range(4):
        grads = sparse_grads(params, rng, t)
        ref, vals, _ = numpy_transform(grads, params, **tools)
        old = [p.astype(np.float64) for p in params]
        opt.step(grads)
        plain.step(ref)
        dw = np.array([np.linalg.norm(p.astype(np.float64) - o) for p, o in zip(params, old)])
        w = np.array([np.linalg.norm(o) for o in old])
        gn = np.array([np.linalg.norm(v.astype(np.float64)) if v is not None else 0.0 for v in vals])
        if t % 2:
            dw[NO_GRAD] = w[NO_GRAD] = gn[NO_GRAD] = np.nan
        np.testing.assert_allclose(opt.update_norms(), dw, rtol=1e-12)
        np.testing.assert_allclose(opt.param_norms(), w, rtol=1e-12)
        np.testing.assert_allclose(opt.grad_norms(), gn, rtol=1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.testing.assert_allclose(opt.update_ratios(), dw / w, rtol=1e-12)
        assert np.isnan(opt.update_ratios()[NO_GRAD]) == bool(t % 2)
    assert_same(opt, params, plain, twin)  # telemetry changes no number


def test_sparse_adam_telemetry_error_before_a_step():
    opt = fastopt.SparseAdam([np.ones((2, 2))], track_update_ratio=True)
    with pytest.raises(RuntimeError, match="track_update_ratio"):
        opt.update_ratios()


# ------------------------------------------------------------------ SparseAdam: state and options
def test_sparse_adam_skipped_steps_in_state_dict_and_file(tmp_path):
    p = [np.ones((4, 2))]
    opt = fastopt.SparseAdam(p, lr=0.1, skip_nonfinite=True)
    opt.step([fastopt.RowSparseGrad([1], np.ones((1, 2)))])
    opt.step([fastopt.RowSparseGrad([1], np.full((1, 2), np.inf))])
    sd = opt.state_dict()
    assert sd["skipped_steps"] == 1
    fastopt.save(tmp_path / "s.npz", opt)
    other = fastopt.SparseAdam([np.ones((4, 2))], lr=0.1, skip_nonfinite=True)
    fastopt.load(tmp_path / "s.npz", other)
    assert other.skipped_steps == 1 and other.state[0]["step"] == 1
    again = fastopt.SparseAdam([np.ones((4, 2))], lr=0.1)
    again.load_state_dict(sd)
    assert again.skipped_steps == 1
    with pytest.raises(ValueError, match="skipped_steps"):
        again.load_state_dict(dict(sd, skipped_steps=-1))
    assert again.skipped_steps == 1


@pytest.mark.parametrize("kw, exc, msg", OPTION_ERRORS)
def test_sparse_adam_option_errors_match_adam(kw, exc, msg):
    with pytest.raises(exc, match=msg) as got:
        fastopt.SparseAdam([np.ones((3, 1))], **kw)
    with pytest.raises(exc) as dense:
        fastopt.Adam([np.ones(3)], **kw)
    assert str(got.value) == str(dense.value)
    opt = fastopt.SparseAdam([np.ones((3, 1))])
    with pytest.raises(exc, match=msg):
        setattr(opt, *next(iter(kw.items())))


def test_sparse_adam_options_are_writable_and_errors_write_nothing():
    p = [np.zeros((2, 1))]
    opt = fastopt.SparseAdam(p, lr=0.1)
    opt.clip_value = 0.5
    assert opt.clip_value == 0.5
    with pytest.raises(TypeError, match="grads for"):
        opt.step([np.ones((2, 1))])  # a dense grad: refused before the tools run
    with pytest.raises(ValueError, match="out of range"):
        opt.step([fastopt.RowSparseGrad([5], np.full((1, 1), np.nan))])
    assert opt.skipped_steps == 0 and len(opt.state) == 0
    np.testing.assert_array_equal(p[0], 0)


# ------------------------------------------------------------------ LBFGS
def rosen_quad(params):
    """A closure over params [x (2,), y (4,)]: Rosenbrock in x plus a quadratic in y,
    in the params' dtype."""
    x, y = params
    scales = np.array([1.0, 3.0, 0.5, 2.0], dtype=y.dtype)

    def closure():
        a, b = x
        loss = float((1 - a) ** 2 + 100 * (b - a * a) ** 2) + float((scales * y * y).sum())
        gx = np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], dtype=x.dtype)
        return loss, [gx, (2 * scales * y).astype(y.dtype)]
    return closure


def lbfgs_params(dtype):
    return [np.array([-1.2, 1.0], dtype=dtype), np.array([1.0, -2.0, 0.5, 3.0], dtype=dtype)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("wolfe", [None, "strong_wolfe"])
def test_lbfgs_telemetry_equals_numpy_norms(dtype, n_threads, wolfe, parallel):
    pa, pb = lbfgs_params(dtype), lbfgs_params(dtype)
    a = fastopt.LBFGS(pa, lr=0.5, max_iter=4, line_search_fn=wolfe, n_threads=n_threads,
                      track_update_ratio=True)
    b = fastopt.LBFGS(pb, lr=0.5, max_iter=4, line_search_fn=wolfe, n_threads=1)
    fa, fb = rosen_quad(pa), rosen_quad(pb)
    for _ in range(3):
        old = [p.astype(np.float64) for p in pa]
        g0 = [g.astype(np.float64) for g in fa()[1]]
        a.step(fa)
        b.step(fb)
        dw = np.array([np.linalg.norm(p.astype(np.float64) - o) for p, o in zip(pa, old)])
        assert (dw > 0).all()
        np.testing.assert_allclose(a.update_norms(), dw, rtol=1e-12)
        np.testing.assert_allclose(a.param_norms(), [np.linalg.norm(o) for o in old], rtol=1e-12)
        np.testing.assert_allclose(a.grad_norms(), [np.linalg.norm(g) for g in g0], rtol=1e-12)
        assert a.last_global_grad_norm == pytest.approx(math.sqrt(sum((g * g).sum() for g in g0)), rel=1e-12)
    for x, y in zip(pa, pb):  # telemetry changes no number
        np.testing.assert_array_equal(x, y)


def poisoned(closure, what):
    def bad():
        loss, grads = closure()
        if what == "loss":
            return float("nan"), grads
        grads = [g.copy() for g in grads]
        grads[1][2] = np.inf if what == "inf" else np.nan
        return loss, grads
    return bad


@pytest.mark.parametrize("what", ["nan", "inf", "loss"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_lbfgs_skip_on_nonfinite_first_evaluation(what, n_threads, dtype, parallel):
    pa, pb = lbfgs_params(dtype), lbfgs_params(dtype)
    kw = dict(lr=0.5, max_iter=3, line_search_fn="strong_wolfe", n_threads=n_threads)
    a = fastopt.LBFGS(pa, skip_nonfinite=True, track_update_ratio=True, **kw)
    b = fastopt.LBFGS(pb, **kw)
    fa, fb = rosen_quad(pa), rosen_quad(pb)
    a.step(fa)
    b.step(fb)
    tele = a.update_norms().copy()
    before_p = [p.copy() for p in pa]
    before_s = copy.deepcopy(a.state_dict()["state"])
    calls = []

    def counted():
        calls.append(1)
        return poisoned(fa, what)()
    loss = a.step(counted)
    assert math.isnan(loss) == (what == "loss")  # the first evaluation's loss, as always
    assert len(calls) == 1 and a.last_step_skipped and a.skipped_steps == 1
    for x, y in zip(pa, before_p):
        np.testing.assert_array_equal(x, y)
    after = a.state_dict()["state"]
    assert after[0].keys() == before_s[0].keys()
    for k, v in before_s[0].items():
        if isinstance(v, list):
            assert len(after[0][k]) == len(v)
            for x, y in zip(after[0][k], v):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=k)
        else:
            np.testing.assert_array_equal(np.asarray(after[0][k]), np.asarray(v), err_msg=k)
    np.testing.assert_array_equal(a.update_norms(), tele)
    for _ in range(2):  # then it goes on as if the bad step never came
        a.step(fa)
        b.step(fb)
        assert not a.last_step_skipped
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)
    assert a.skipped_steps == 1


def test_lbfgs_first_step_skip_creates_no_state_and_nans_propagate_without():
    p = lbfgs_params(np.float64)
    opt = fastopt.LBFGS(p, skip_nonfinite=True)
    opt.step(poisoned(rosen_quad(p), "nan"))
    assert opt.last_step_skipped and opt.state_dict()["state"] == {}
    np.testing.assert_array_equal(p[1], lbfgs_params(np.float64)[1])
    opt.skip_nonfinite = False
    with np.errstate(all="ignore"):
        opt.step(poisoned(rosen_quad(p), "nan"))
    assert not opt.last_step_skipped and np.isnan(p[1]).any()


def test_lbfgs_skipped_steps_in_state_dict():
    p = lbfgs_params(np.float64)
    opt = fastopt.LBFGS(p, skip_nonfinite=True, max_iter=2)
    f = rosen_quad(p)
    opt.step(f)
    opt.step(poisoned(f, "inf"))
    sd = opt.state_dict()
    assert sd["skipped_steps"] == 1
    other = fastopt.LBFGS(lbfgs_params(np.float64), max_iter=2)
    other.load_state_dict(sd)
    assert other.skipped_steps == 1 and other.state_dict()["skipped_steps"] == 1
    with pytest.raises(ValueError, match="skipped_steps"):
        other.load_state_dict(dict(sd, skipped_steps=True))
    assert other.skipped_steps == 1
    assert "skipped_steps" not in fastopt.LBFGS(lbfgs_params(np.float64)).state_dict()


@pytest.mark.parametrize("name", ["clip_value", "clip_norm", "clip_global_norm"])
def test_lbfgs_refuses_clipping(name):
    with pytest.raises(ValueError, match=rf"^{name}: LBFGS does not clip gradients: .*curvature pairs.*"
                                         r"sufficient-decrease"):
        fastopt.LBFGS(lbfgs_params(np.float64), **{name: 1.0})
    opt = fastopt.LBFGS(lbfgs_params(np.float64))
    with pytest.raises(ValueError, match=rf"^{name}: LBFGS does not clip"):
        setattr(opt, name, 2.0)
    with pytest.raises(ValueError, match=rf"^{name}: must be None or a positive"):  # validated first, as everywhere
        setattr(opt, name, -1.0)
    with pytest.raises(TypeError, match=rf"^{name}: expected None or a positive number"):
        fastopt.LBFGS(lbfgs_params(np.float64), **{name: "1"})
    setattr(opt, name, None)
    assert getattr(opt, name) is None


@pytest.mark.parametrize("kw, exc, msg", [o for o in OPTION_ERRORS if "clip" not in next(iter(o[0]))])
def test_lbfgs_flag_errors_name_the_argument(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        fastopt.LBFGS(lbfgs_params(np.float64), **kw)
    opt = fastopt.LBFGS(lbfgs_params(np.float64))
    with pytest.raises(exc, match=msg):
        setattr(opt, *next(iter(kw.items())))
