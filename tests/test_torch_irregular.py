"""torch parity for the irregular rules: LBFGS (closure-driven), SparseAdam
(row-sparse gradients) and Muon (2-D orthogonalised momentum).

The closures of the LBFGS tests compute the loss and gradients with torch on
arrays shared with NumPy (torch.from_numpy), so both optimizers see the same
function values bit for bit and only the optimizers' own arithmetic differs.
"""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastopt  # noqa: E402
from fastopt import _engine, reference  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks")


# ---------------------------------------------------------------- LBFGS
def rosenbrock(ts):
    """Generalised Rosenbrock over the concatenation of the tensors in `ts`."""
    x = torch.cat([t.reshape(-1) for t in ts])
    return torch.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def np_closure(fn, params):
    """fastopt's closure convention, (loss, grads), evaluated by torch on shared memory."""
    def closure():
        ts = [torch.from_numpy(p).requires_grad_() for p in params]
        loss = fn(ts)
        loss.backward()
        return loss.item(), [t.grad.numpy() for t in ts]
    return closure


STARTS = {
    "2d": [[-1.5, 2.0]],
    "11d": [[-1.2, 1.0, -1.2, 1.0, 0.5], [[0.3, -0.5, 1.1], [0.9, -1.0, 0.2]]],
}


def lbfgs_pair(start, dtype, **kw):
    ps = [np.array(a, dtype=dtype) for a in STARTS[start]]
    tp = [torch.tensor(np.array(a, dtype=dtype), requires_grad=True) for a in STARTS[start]]
    opt = fastopt.LBFGS(ps, **kw)
    topt = torch.optim.LBFGS(tp, **kw)

    def tclosure():
        topt.zero_grad()
        loss = rosenbrock(tp)
        loss.backward()
        return loss

    return ps, opt, np_closure(rosenbrock, ps), tp, topt, tclosure


def flat_np(x):
    return np.concatenate([np.asarray(a).reshape(-1) for a in x])


def assert_lbfgs_state(opt, topt, rtol, atol):
    st, tst = opt.state[0], topt.state[topt.param_groups[0]["params"][0]]
    assert st["n_iter"] == tst["n_iter"]
    assert st["func_evals"] == tst["func_evals"]
    assert len(st["old_dirs"]) == len(tst["old_dirs"])
    np.testing.assert_allclose(st["d"], tst["d"].numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(st["prev_flat_grad"], tst["prev_flat_grad"].numpy(), rtol=rtol, atol=atol)
    for a, b in zip(st["old_dirs"] + st["old_stps"], tst["old_dirs"] + tst["old_stps"]):
        np.testing.assert_allclose(a, b.numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose([float(r) for r in st["ro"]], [float(r) for r in tst["ro"]], rtol=rtol * 100)
    np.testing.assert_allclose(float(st["H_diag"]), float(tst["H_diag"]), rtol=rtol * 100)
    np.testing.assert_allclose(float(st["t"]), float(tst["t"]), rtol=rtol * 100)


# Dot products sum in a different order than torch's BLAS, so iterates agree
# to a few ulps at first; on Rosenbrock's curved valley, line-search runs
# amplify that to ~1e-7 relative over a few steps (then converge together).
LBFGS_OPTIONS = [
    ("2d", dict(lr=1, max_iter=5, line_search_fn="strong_wolfe")),
    ("2d", dict(lr=0.002, max_iter=5)),
    ("11d", dict(lr=1, history_size=5, line_search_fn="strong_wolfe")),
    ("11d", dict(lr=0.0005, history_size=3, max_iter=7)),
    ("11d", dict(lr=0.8, max_iter=4, max_eval=6, line_search_fn="strong_wolfe")),
]
LBFGS_RTOL = {"2d": 1e-9, "11d": 1e-6}


@pytest.mark.parametrize("start,kw", LBFGS_OPTIONS)
def test_lbfgs_matches_torch_float64(start, kw):
    ps, opt, clos, tp, topt, tclos = lbfgs_pair(start, np.float64, **kw)
    rtol = LBFGS_RTOL[start]
    for k in range(25):
        l1, l2 = opt.step(clos), topt.step(tclos)
        np.testing.assert_allclose(float(l1), float(l2.detach()), rtol=rtol, atol=1e-12, err_msg=f"loss, step {k}")
        np.testing.assert_allclose(flat_np(ps), flat_np([t.detach() for t in tp]), rtol=rtol, atol=rtol,
                                   err_msg=f"params after step {k}")
    assert_lbfgs_state(opt, topt, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("start,kw", [o for o in LBFGS_OPTIONS if "line_search_fn" not in o[1]])
def test_lbfgs_matches_torch_float32_fixed_step(start, kw):
    ps, opt, clos, tp, topt, tclos = lbfgs_pair(start, np.float32, **kw)
    for k in range(20):
        opt.step(clos)
        topt.step(tclos)
        np.testing.assert_allclose(flat_np(ps), flat_np([t.detach() for t in tp]), rtol=1e-5, atol=1e-6,
                                   err_msg=f"params after step {k}")
    assert_lbfgs_state(opt, topt, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("start", ["2d", "11d"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lbfgs_strong_wolfe_reaches_minimum(start, dtype):
    # float32 trajectories drift from torch's (float32 dot products round
    # differently and Rosenbrock amplifies it) but both reach the minimum.
    ps, opt, clos, tp, topt, tclos = lbfgs_pair(start, dtype, lr=1, line_search_fn="strong_wolfe")
    for _ in range(20):
        opt.step(clos)
        topt.step(tclos)
    tol = 1e-5 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(flat_np(ps), 1.0, atol=tol)
    np.testing.assert_allclose(flat_np([t.detach() for t in tp]), 1.0, atol=tol)


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_lbfgs_resume_from_state_dict(ls):
    kw = dict(lr=1 if ls else 0.0005, history_size=4, max_iter=6, line_search_fn=ls)
    ps, opt, clos, *_ = lbfgs_pair("11d", np.float64, **kw)
    for _ in range(3):
        opt.step(clos)
    sd = copy.deepcopy(opt.state_dict())
    saved = [p.copy() for p in ps]
    for _ in range(3):
        opt.step(clos)
    ps2 = [p.copy() for p in saved]
    opt2 = fastopt.LBFGS(ps2, **kw)
    opt2.load_state_dict(sd)
    clos2 = np_closure(rosenbrock, ps2)
    for _ in range(3):
        opt2.step(clos2)
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(a, b)


def test_lbfgs_loads_torch_state_dict():
    kw = dict(lr=1, history_size=4, max_iter=6, line_search_fn="strong_wolfe")
    ps, opt, clos, tp, topt, tclos = lbfgs_pair("11d", np.float64, **kw)
    for _ in range(2):
        topt.step(tclos)
    for p, t in zip(ps, tp):
        p[...] = t.detach().numpy()
    opt.load_state_dict(topt.state_dict())
    for k in range(3):
        opt.step(clos)
        topt.step(tclos)
        np.testing.assert_allclose(flat_np(ps), flat_np([t.detach() for t in tp]), rtol=1e-9, atol=1e-9)


def quad_closure(params, target):
    weights = [(1 + np.arange(p.size).reshape(p.shape) % 5).astype(p.dtype) for p in params]

    def closure():
        grads = [p.dtype.type(2) * (p - q) * w for p, q, w in zip(params, target, weights)]
        loss = sum(float((((p - q) ** 2) * w).sum()) for p, q, w in zip(params, target, weights))
        return loss, grads
    return closure


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lbfgs_independent_of_threads_and_isa(dtype, parallel):
    rng = np.random.default_rng(0)
    shapes = [(_engine.BLOCK + 17,), (300, 7), (5,)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    target = [rng.standard_normal(s).astype(dtype) for s in shapes]
    results = []
    for isa in fastopt.available_cpus():
        for nt in (1, 2):
            with fastopt.use_cpu(isa):
                ps = [a.copy() for a in start]
                opt = fastopt.LBFGS(ps, history_size=5, max_iter=8, line_search_fn="strong_wolfe", n_threads=nt)
                for _ in range(2):
                    opt.step(quad_closure(ps, target))
                results.append(ps)
    for r in results[1:]:
        for a, b in zip(results[0], r):
            np.testing.assert_array_equal(a, b)


def test_lbfgs_errors():
    w = np.zeros(3)
    with pytest.raises(ValueError, match="parameter groups"):
        fastopt.LBFGS([{"params": [w]}, {"params": [np.zeros(2)]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        fastopt.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="lr"):
        fastopt.LBFGS([w], lr=-1)
    with pytest.raises(ValueError, match="history_size"):
        fastopt.LBFGS([w], history_size=0)
    with pytest.raises(TypeError, match="max_iter"):
        fastopt.LBFGS([w], max_iter=2.5)
    opt = fastopt.LBFGS([w])
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    with pytest.raises(TypeError, match="one dtype"):
        fastopt.LBFGS([w, np.zeros(2, np.float32)]).step(lambda: (0.0, [np.ones(3), np.ones(2, np.float32)]))
    with pytest.raises(ValueError, match="shape"):
        opt.step(lambda: (1.0, [np.ones(4)]))
    with pytest.raises(ValueError, match="is None"):
        opt.step(lambda: (1.0, [None]))


# ---------------------------------------------------------------- SparseAdam
SPARSE_SHAPES = [(40, 3), (7,), (20, 2, 3), (_engine.BLOCK // 8 + 3, 9)]


def sparse_grads(rng, shapes, dtype, dup, step):
    """One RowSparseGrad per param (None for a param skipped this step; an
    empty one now and then), with repeated rows when `dup`."""
    out = []
    for j, s in enumerate(shapes):
        if (step + j) % 5 == 4:
            out.append(None)
            continue
        k = 0 if (step + j) % 7 == 6 else int(rng.integers(1, s[0] + 1))
        idx = rng.integers(0, s[0], size=k) if dup else rng.permutation(s[0])[:k]
        vals = (rng.standard_normal((k,) + s[1:]) * 0.5 + 0.1).astype(dtype)
        out.append(fastopt.RowSparseGrad(idx, vals))
    return out


def to_torch_sparse(g, shape):
    return torch.sparse_coo_tensor(torch.from_numpy(g.indices.astype(np.int64))[None], torch.from_numpy(g.values),
                                   shape)


SPARSE_OPTIONS = [dict(), dict(lr=0.01), dict(lr=0.02, betas=(0.5, 0.9), eps=1e-6, maximize=True),
                  dict(lr=0.005, betas=(0.0, 0.99))]


@pytest.mark.parametrize("kw", SPARSE_OPTIONS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dup", [False, True])
def test_sparse_adam_matches_torch(kw, dtype, dup):
    rng = np.random.default_rng(3)
    ps = [rng.standard_normal(s).astype(dtype) for s in SPARSE_SHAPES]
    tp = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
    opt = fastopt.SparseAdam(ps, **kw)
    topt = torch.optim.SparseAdam(tp, **kw)
    for step in range(20):
        grads = sparse_grads(rng, SPARSE_SHAPES, dtype, dup, step)
        opt.step(grads)
        for t, g, s in zip(tp, grads, SPARSE_SHAPES):
            t.grad = None if g is None else to_torch_sparse(g, s)
        topt.step()
    # Same op order as torch, but torch's CPU sqrt (MKL VML) is not correctly
    # rounded (1 ulp off on ~2% of inputs, float32 and float64), and repeated
    # rows are summed in another order than torch's coalesce: a tolerance.
    # The moments do not involve sqrt: bitwise with unique rows.
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    atol = 1e-6 if dtype == np.float32 else 1e-12
    for i, (p, t) in enumerate(zip(ps, tp)):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"param {i}")
        st, tst = opt.state[i], topt.state[t]
        assert st["step"] == tst["step"]
        for key in ("exp_avg", "exp_avg_sq"):
            if dup:
                np.testing.assert_allclose(st[key], tst[key].numpy(), rtol=rtol, atol=atol, err_msg=f"{key} {i}")
            else:
                # moments depend on params only through the grads: exact
                np.testing.assert_array_equal(st[key], tst[key].numpy(), err_msg=f"{key} {i}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dup", [False, True])
def test_sparse_adam_matches_reference_bitwise(dtype, n_threads, dup, isa, parallel):
    rng = np.random.default_rng(5)
    ps = [rng.standard_normal(s).astype(dtype) for s in SPARSE_SHAPES]
    rps = [p.copy() for p in ps]
    kw = dict(lr=0.02, betas=(0.8, 0.95), maximize=dup)
    opt = fastopt.SparseAdam(ps, n_threads=n_threads, **kw)
    ref = reference.SparseAdam(rps, **kw)
    for step in range(10):
        grads = sparse_grads(rng, SPARSE_SHAPES, dtype, dup, step)
        opt.step(grads)
        ref.step(grads)
    for i in range(len(ps)):
        np.testing.assert_array_equal(ps[i], rps[i])
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(opt.state[i][key], ref.state[i][key])
        assert opt.state[i]["step"] == ref.state[i]["step"]


def test_sparse_adam_untouched_rows_and_functional():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((10, 4))
    w0 = w.copy()
    opt = fastopt.SparseAdam([w], lr=0.1)
    opt.step([fastopt.RowSparseGrad(np.array([7, 2, 7]), np.ones((3, 4)))])
    untouched = [r for r in range(10) if r not in (2, 7)]
    np.testing.assert_array_equal(w[untouched], w0[untouched])
    assert not np.array_equal(w[[2, 7]], w0[[2, 7]])
    assert np.all(opt.state[0]["exp_avg"][untouched] == 0)
    # functional form gives the same bits
    w2, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    fastopt.functional.sparse_adam_([w2], [fastopt.RowSparseGrad([7, 2, 7], np.ones((3, 4)))], [m], [v], step=1,
                                    lr=0.1)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(m, opt.state[0]["exp_avg"])


def test_sparse_adam_errors():
    w = np.zeros((5, 2))
    opt = fastopt.SparseAdam([w])
    before = w.copy()
    with pytest.raises(TypeError, match="RowSparseGrad"):
        opt.step([np.ones((5, 2))])
    with pytest.raises(ValueError, match="out of range"):
        opt.step([fastopt.RowSparseGrad([0, 5], np.ones((2, 2)))])
    with pytest.raises(ValueError, match="out of range"):
        opt.step([fastopt.RowSparseGrad([-1], np.ones((1, 2)))])
    with pytest.raises(TypeError, match="integer"):
        opt.step([fastopt.RowSparseGrad([0.0], np.ones((1, 2)))])
    with pytest.raises(TypeError, match="dtype"):
        opt.step([fastopt.RowSparseGrad([0], np.ones((1, 2), np.float32))])
    with pytest.raises(ValueError, match="shape"):
        opt.step([fastopt.RowSparseGrad([0], np.ones((1, 3)))])
    with pytest.raises(ValueError, match="share memory"):
        opt.step([fastopt.RowSparseGrad([0], w[1:2])])
    np.testing.assert_array_equal(w, before)
    assert 0 not in opt.state
    with pytest.raises(ValueError, match="lr"):
        fastopt.SparseAdam([w], lr=0.0)
    with pytest.raises(ValueError, match="eps"):
        fastopt.SparseAdam([w], eps=0.0)
    with pytest.raises(ValueError, match="betas"):
        fastopt.SparseAdam([w], betas=(1.0, 0.9))


def test_sparse_adam_state_dict_resume():
    rng = np.random.default_rng(2)
    shapes = [(30, 4), (9,)]
    ps = [rng.standard_normal(s) for s in shapes]
    opt = fastopt.SparseAdam(ps, lr=0.01)
    grads = [sparse_grads(rng, shapes, np.float64, True, k) for k in range(8)]
    for g in grads[:4]:
        opt.step(g)
    sd = copy.deepcopy(opt.state_dict())
    ps2 = [p.copy() for p in ps]
    for g in grads[4:]:
        opt.step(g)
    opt2 = fastopt.SparseAdam(ps2, lr=0.01)
    opt2.load_state_dict(sd)
    for g in grads[4:]:
        opt2.step(g)
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- Muon
MUON_SHAPES = [(5, 8), (16, 16), (40, 24), (1, 7), (9, 1), (33, 70)]
MUON_OPTIONS = [
    dict(lr=0.02),
    dict(lr=0.02, nesterov=False, weight_decay=0.0),
    dict(lr=0.05, momentum=0.3, adjust_lr_fn="match_rms_adamw"),
    dict(lr=0.01, momentum=0.6, nesterov=False, adjust_lr_fn="original", weight_decay=0.3, ns_steps=3,
         ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3),
]


def muon_grads(rng, shapes, dtype):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("kw", MUON_OPTIONS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_muon_matches_torch(kw, dtype):
    rng = np.random.default_rng(11)
    ps = [rng.standard_normal(s).astype(dtype) for s in MUON_SHAPES]
    tp = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
    opt = fastopt.Muon(ps, **kw)
    topt = torch.optim.Muon(tp, **kw)
    for _ in range(25):
        grads = muon_grads(rng, MUON_SHAPES, dtype)
        opt.step(grads)
        for t, g in zip(tp, grads):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    # The momentum buffer sees only the grads: it differs from torch only where
    # torch's vectorised lerp uses an FMA (1 ulp). The params go through the
    # bfloat16 Newton-Schulz solve, which fastopt emulates with float32 BLAS +
    # rounding to bfloat16; a float32 sum over a long row may land on the other
    # side of a bfloat16 rounding boundary than in torch's MKL, so some elements
    # of O are one bfloat16 ulp (<= 2^-8, |O| <~ 1) off and that spreads through
    # the iteration. Bound: that much per step on every element, times the
    # largest adjusted lr, over the steps. Measured (25 steps): max |diff| 2.0e-4
    # (lr 0.02) and 5.1e-4 (match_rms_adamw, lr 0.05) in both dtypes, 5.6e-17
    # (float64, where every O matched torch bitwise) -- bounds 1.2e-2 and 8.2e-3.
    steps = 25
    lr_max = max(fastopt.muon.adjusted_lr(kw["lr"], kw.get("adjust_lr_fn"), s) for s in MUON_SHAPES)
    atol = steps * lr_max * 2.0 ** -8
    for i, (p, t) in enumerate(zip(ps, tp)):
        np.testing.assert_allclose(opt.state[i]["momentum_buffer"], topt.state[t]["momentum_buffer"].numpy(),
                                   rtol=1e-6 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-14, err_msg=f"momentum_buffer {i}")
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=0, atol=atol, err_msg=f"param {i}")
    assert "step" not in opt.state_dict()["state"][0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5), (16, 16), (40, 24), (24, 40), (1, 7), (7, 1), (0, 4)])
def test_muon_newton_schulz_bitwise_as_torch(shape, dtype):
    """The bfloat16 emulation gives torch's bits where no float32 sum is long
    enough to round across a bfloat16 boundary in another order (these shapes);
    float64 input goes through float32 first, as torch's cast does."""
    zp = pytest.importorskip("torch.optim._muon")._zeropower_via_newtonschulz
    rng = np.random.default_rng(2)
    U = (rng.standard_normal(shape) * 0.3).astype(dtype)
    want = zp(torch.from_numpy(U), (3.4445, -4.775, 2.0315), 5, 1e-7).float().numpy()
    got = fastopt.muon.newton_schulz(U, (3.4445, -4.775, 2.0315), 5, 1e-7)
    np.testing.assert_array_equal(got, want)
    ref = reference.muon.orthogonalize(U, (3.4445, -4.775, 2.0315), 5, 1e-7, "bfloat16")
    np.testing.assert_array_equal(got, ref)


def test_muon_bf16_rounding():
    x = np.array([1.0, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -9, -3.0e38, 3.4e38, np.inf, -np.inf, np.nan, 0.0,
                  -0.0, 1e-40, 1.00390625 + 2.0 ** -20], dtype=np.float32)
    want = torch.from_numpy(x.copy()).bfloat16().float().numpy()
    got = fastopt.muon._round_bf16(x.copy())
    # NaN stays NaN (torch's vectorised cast gives 0xFFFF, its scalar one 0x7FC0: bits not compared)
    ok = ~np.isnan(want)
    assert np.isnan(got[~ok]).all() and np.isnan(reference.muon.to_bf16(x)[~ok]).all()
    np.testing.assert_array_equal(got[ok].view(np.uint32), want[ok].view(np.uint32))
    np.testing.assert_array_equal(reference.muon.to_bf16(x)[ok].view(np.uint32), want[ok].view(np.uint32))
    r = np.random.default_rng(0)
    y = (r.standard_normal(100000) * 10.0 ** r.integers(-40, 38, 100000)).astype(np.float32)
    want = torch.from_numpy(y.copy()).bfloat16().float().numpy()
    np.testing.assert_array_equal(fastopt.muon._round_bf16(y.copy()).view(np.uint32), want.view(np.uint32))


MUON_REF_OPTIONS = MUON_OPTIONS + [
    dict(lr=0.02, ns_dtype="float32"),
    dict(lr=0.03, momentum=0.95, nesterov=False, ns_dtype="float64", adjust_lr_fn="match_rms_adamw"),
    dict(lr=0.02, momentum=1.2, weight_decay=0.5),  # momentum > 1: both lerps in their other form
]


@pytest.mark.parametrize("kw", MUON_REF_OPTIONS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_muon_matches_reference_bitwise(kw, dtype, n_threads, isa, parallel):
    rng = np.random.default_rng(7)
    shapes = MUON_SHAPES + [(60, 300)]  # 18,000 elements: more than one span
    ps = [rng.standard_normal(s).astype(dtype) for s in shapes]
    rps = [p.copy() for p in ps]
    opt = fastopt.Muon(ps, n_threads=n_threads, **kw)
    ref = reference.Muon(rps, **kw)
    for _ in range(4):
        grads = muon_grads(rng, shapes, dtype)
        opt.step(grads)
        ref.step(grads)
    for i in range(len(ps)):
        np.testing.assert_array_equal(ps[i], rps[i], err_msg=f"param {i}")
        np.testing.assert_array_equal(opt.state[i]["momentum_buffer"], ref.state[i]["momentum_buffer"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_muon_functional_resume_and_mixed(dtype):
    rng = np.random.default_rng(4)
    kw = dict(lr=0.02, momentum=0.9, weight_decay=0.05)
    ps = [rng.standard_normal((6, 4)).astype(dtype), rng.standard_normal((3, 9)).astype(np.float32)]
    fs = [p.copy() for p in ps]
    bufs = [np.zeros_like(p) for p in fs]
    opt = fastopt.Muon(ps, **kw)
    gs = [[rng.standard_normal(p.shape).astype(p.dtype) for p in ps] for _ in range(8)]
    for g in gs[:4]:
        opt.step(g)
        fastopt.functional.muon_(fs, g, bufs, **kw)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"momentum_buffer"}
    qs = [p.copy() for p in ps]
    opt2 = fastopt.Muon(qs, **kw)
    opt2.load_state_dict(sd)
    for g in gs[4:]:
        opt.step(g)
        opt2.step(g)
        fastopt.functional.muon_(fs, g, bufs, **kw)
    for i in range(2):
        np.testing.assert_array_equal(ps[i], fs[i])
        np.testing.assert_array_equal(ps[i], qs[i])
        np.testing.assert_array_equal(opt.state[i]["momentum_buffer"], bufs[i])
    # a param without a grad is skipped: its values and state stay
    before, buf_before = ps[1].copy(), opt.state[1]["momentum_buffer"].copy()
    opt.step([gs[0][0], None])
    np.testing.assert_array_equal(ps[1], before)
    np.testing.assert_array_equal(opt.state[1]["momentum_buffer"], buf_before)


def test_muon_errors():
    w = np.zeros((3, 4))
    with pytest.raises(ValueError, match="2-D"):
        fastopt.Muon([w, np.zeros(3)])
    with pytest.raises(ValueError, match="'b'.*2-D"):
        fastopt.Muon({"a": np.zeros((3, 4)), "b": np.zeros((2, 2, 2))})
    opt = fastopt.Muon([w])
    with pytest.raises(ValueError, match="2-D"):
        opt.add_param_group({"params": [np.zeros(5)]})
    assert len(opt.param_groups) == 1
    with pytest.raises(ValueError, match="2-D"):
        fastopt.functional.muon_([np.zeros(3)], [np.zeros(3)], [np.zeros(3)])
    for key, bad, exc in [("lr", -1.0, ValueError), ("momentum", -0.1, ValueError), ("weight_decay", -1, ValueError),
                          ("eps", 0.0, ValueError), ("ns_steps", 100, ValueError), ("ns_steps", 2.0, TypeError),
                          ("adjust_lr_fn", "foo", ValueError), ("ns_coefficients", (1.0, 2.0), ValueError),
                          ("ns_dtype", "float16", ValueError), ("nesterov", "yes", TypeError)]:
        with pytest.raises(exc, match=key):
            fastopt.Muon([np.zeros((2, 2))], **{key: bad})
    opt.param_groups[0]["ns_steps"] = -1
    with pytest.raises(ValueError, match="ns_steps"):
        opt.step([np.ones((3, 4))])
    opt.param_groups[0]["ns_steps"] = 5
    with pytest.raises(ValueError, match="shape"):
        opt.step([np.ones((4, 3))])
    assert (w == 0).all() and len(opt.state) == 0
