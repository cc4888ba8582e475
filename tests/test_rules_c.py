"""Rule-specific tests of LAMB, LARS, SAM, Lookahead (trust ratios, wrappers)."""
import numpy as np
import pytest

import fastopt
from fastopt import functional as F
from fastopt import reference


def _lamb_f64(p, g, m, v, t, lr, b1, b2, eps, wd):
    """Textbook LAMB with np.linalg.norm: an independent check of the trust ratio."""
    m[...] = b1 * m + (1 - b1) * g
    v[...] = b2 * v + (1 - b2) * g * g
    u = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps) + wd * p
    wn, un = np.linalg.norm(p), np.linalg.norm(u)
    r = wn / un if wn > 0 and un > 0 else 1.0
    p -= lr * r * u


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_lamb_matches_textbook_formula(wd, rng):
    shapes = [(5, 3), (40000,), (1,)]
    params = [rng.standard_normal(s) for s in shapes]
    mine = [p.copy() for p in params]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    opt = fastopt.LAMB(mine, lr=0.05, weight_decay=wd, n_threads=2)
    for t in range(1, 11):
        grads = [rng.standard_normal(s) for s in shapes]
        opt.step(grads)
        for p, g, m, v in zip(params, grads, ms, vs):
            _lamb_f64(p, g, m, v, t, 0.05, 0.9, 0.999, 1e-6, wd)
    for a, b in zip(mine, params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_lamb_zero_norms_give_ratio_one():
    # ||w|| = 0: plain Adam-direction step of size lr (ratio 1), not 0.
    w = np.zeros(4)
    fastopt.LAMB([w], lr=0.1).step([np.array([1.0, -1.0, 2.0, -2.0])])
    np.testing.assert_allclose(w, [-0.1, 0.1, -0.1, 0.1], rtol=1e-5)
    # ||u|| = 0 (zero grad, no decay): nothing moves, no NaN.
    w = np.array([1.0, 2.0])
    fastopt.LAMB([w], lr=0.1).step([np.zeros(2)])
    np.testing.assert_array_equal(w, [1.0, 2.0])


def test_lamb_ratio_is_per_tensor(rng):
    # Scaling one tensor scales its step, leaves the other's unchanged.
    a, b = np.full(8, 1.0), np.full(8, 1.0)
    a2, b2 = np.full(8, 10.0), np.full(8, 1.0)
    g = [np.ones(8), np.ones(8)]
    fastopt.LAMB([a, b], lr=0.01).step(g)
    fastopt.LAMB([a2, b2], lr=0.01).step(g)
    np.testing.assert_allclose(10.0 - a2, 10 * (1.0 - a), rtol=1e-6)
    np.testing.assert_array_equal(b, b2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lamb_functional_equals_class(dtype, rng):
    shapes = [(7,), (3, 4)]
    p1 = [rng.standard_normal(s).astype(dtype) for s in shapes]
    p2 = [p.copy() for p in p1]
    ms = [np.zeros_like(p) for p in p1]
    vs = [np.zeros_like(p) for p in p1]
    opt = fastopt.LAMB(p1, lr=0.01, weight_decay=0.1)
    for t in range(1, 6):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt.step(grads)
        F.lamb_(p2, grads, ms, vs, step=t, lr=0.01, weight_decay=0.1)
    for i in range(len(shapes)):
        np.testing.assert_array_equal(p1[i], p2[i])
        np.testing.assert_array_equal(opt.state[i]["exp_avg_sq"], vs[i])


def test_lamb_thread_count_does_not_change_bits(rng, parallel):
    shapes = [(3 * fastopt._engine.BLOCK + 11,), (100,)]
    out = []
    for nt in (1, 2):
        r = np.random.default_rng(3)
        ps = [r.standard_normal(s).astype(np.float32) for s in shapes]
        opt = fastopt.LAMB(ps, lr=0.01, n_threads=nt)
        for _ in range(3):
            opt.step([r.standard_normal(s).astype(np.float32) for s in shapes])
        out.append(ps)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_lamb_validation():
    w = np.zeros(3)
    with pytest.raises(ValueError, match="eps"):
        fastopt.LAMB([w], eps=0.0)
    with pytest.raises(ValueError, match="betas"):
        fastopt.LAMB([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="weight_decay"):
        fastopt.LAMB([w], weight_decay=-1)


def _lars_f64(p, g, b, lr, mu, wd, eta, eps, first):
    wn, gn = np.linalg.norm(p), np.linalg.norm(g)
    r = eta * wn / (gn + wd * wn + eps) if wn > 0 and gn > 0 else 1.0
    d = r * (g + wd * p)
    b[...] = d if first else mu * b + d
    p -= lr * b


def test_lars_matches_textbook_formula(rng):
    shapes = [(6, 2), (40000,), (3,)]
    params = [rng.standard_normal(s) for s in shapes]
    mine = [p.copy() for p in params]
    bufs = [np.zeros_like(p) for p in params]
    opt = fastopt.LARS(mine, lr=0.5, weight_decay=0.01, trust_coefficient=0.02, n_threads=2)
    for t in range(8):
        grads = [rng.standard_normal(s) for s in shapes]
        opt.step(grads)
        for p, g, b in zip(params, grads, bufs):
            _lars_f64(p, g, b, 0.5, 0.9, 0.01, 0.02, 1e-8, t == 0)
    for a, b in zip(mine, params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_lars_exclude_group_is_momentum_sgd(rng):
    w, bias = rng.standard_normal(10), rng.standard_normal(3)
    w2, bias2 = w.copy(), bias.copy()
    opt = fastopt.LARS([{"params": [w]}, {"params": [bias], "lars_exclude": True}], lr=0.1, weight_decay=0.01)
    sgd = fastopt.SGD([bias2], lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(5):
        g = [rng.standard_normal(10), rng.standard_normal(3)]
        opt.step(g)
        sgd.step([g[1]])
    np.testing.assert_array_equal(bias, bias2)
    assert not np.allclose(w, w2)


def test_lars_zero_weights_ratio_one():
    w = np.zeros(3)
    fastopt.LARS([w], lr=0.1, momentum=0.0).step([np.array([1.0, 2.0, 3.0])])
    np.testing.assert_allclose(w, [-0.1, -0.2, -0.3])


def test_lars_noncontiguous_grads_and_missing_grad(rng):
    a, b = rng.standard_normal((4, 4)), rng.standard_normal(5)
    a2, b2 = a.copy(), b.copy()
    g = rng.standard_normal((4, 8))[:, ::2]
    fastopt.LARS([a, b], lr=0.1).step([g, None])
    fastopt.LARS([a2], lr=0.1).step([np.ascontiguousarray(g)])
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)


def test_lars_functional_equals_class(rng):
    shapes = [(7,), (3, 4)]
    p1 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    p2 = [p.copy() for p in p1]
    bufs = [np.zeros_like(p) for p in p1]
    opt = fastopt.LARS(p1, lr=0.1, weight_decay=0.01, nesterov=True)
    for t in range(1, 6):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        opt.step(grads)
        F.lars_(p2, grads, bufs, lr=0.1, weight_decay=0.01, nesterov=True, step=t)
    for i in range(len(shapes)):
        np.testing.assert_array_equal(p1[i], p2[i])
        np.testing.assert_array_equal(opt.state[i]["momentum_buffer"], bufs[i])


def test_lars_validation():
    w = np.zeros(3)
    with pytest.raises(ValueError, match="trust_coefficient"):
        fastopt.LARS([w], trust_coefficient=0.0)
    with pytest.raises(ValueError, match="eps"):
        fastopt.LARS([w], eps=-1.0)
    with pytest.raises(TypeError, match="lars_exclude"):
        fastopt.LARS([{"params": [w], "lars_exclude": "yes"}])


# ---------------------------------------------------------------- SAM
def _quad(a, b):
    """f(w) = (a w0^2 + b w1^2) / 2 and its gradient."""
    def closure_for(w):
        return lambda: (0.5 * (a * w[0] ** 2 + b * w[1] ** 2), [np.array([a * w[0], b * w[1]])])
    return closure_for


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_two_dim_hand_computed(adaptive):
    a, b, lr, rho = 1.0, 10.0, 0.05, 0.1
    w = np.array([1.0, 0.5])
    opt = fastopt.SAM(fastopt.SGD([w], lr=lr), rho=rho, adaptive=adaptive)
    loss = opt.step(_quad(a, b)(w))
    # By hand: g = (a w0, b w1) = (1, 5).
    g0, g1 = 1.0, 5.0
    if adaptive:  # e = rho T^2 g / ||T g||, T = |w| = diag(1, 0.5)
        tg = np.hypot(1.0 * g0, 0.5 * g1)
        e = rho * np.array([1.0 * g0, 0.25 * g1]) / tg
    else:
        e = rho * np.array([g0, g1]) / np.hypot(g0, g1)
    wp = np.array([1.0, 0.5]) + e
    expected = np.array([1.0, 0.5]) - lr * np.array([a * wp[0], b * wp[1]])
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    assert loss == 0.5 * (1.0 + 10.0 * 0.25)
    # Plain SGD from the same point lands elsewhere.
    plain = np.array([1.0, 0.5]) - lr * np.array([g0, g1])
    assert np.abs(w - plain).max() > 1e-3


def _sam_numpy(params, grads_fn, base_ref, rho, adaptive, T):
    """NumPy SAM replica in the kernels' order (global norm over spans in plan order)."""
    from fastopt._multipass import BLOCK, combine, lane_sum
    grads = grads_fn(params)
    vals = []
    for p, g in zip(params, grads):
        x = (np.abs(p) * g if adaptive else g).reshape(-1).astype(np.float64)
        vals += [lane_sum(x[o:o + BLOCK] * x[o:o + BLOCK], 32) for o in range(0, x.size, BLOCK)]
    total = float(combine(np.array(vals), [0])[0]) if vals else 0.0
    scale = T(rho / (np.sqrt(total) + 1e-12))
    old = [p.copy() for p in params]
    for p, g in zip(params, grads):
        p[...] = p + (((p * p) * g) * scale if adaptive else g * scale)
    grads2 = grads_fn(params)
    for p, o in zip(params, old):
        p[...] = o
    base_ref.step(grads2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sam_bitwise_against_numpy(dtype, adaptive, n_threads, isa, parallel):
    r = np.random.default_rng(7)
    shapes = [(5,), (fastopt._engine.BLOCK + 9,), (3, 7), (0,)]
    params = [r.standard_normal(s).astype(dtype) for s in shapes]
    ref_params = [p.copy() for p in params]
    targets = [r.standard_normal(s).astype(dtype) for s in shapes]

    def grads_fn(ps):  # gradient of sum((p - t)^3 / 3): non-linear, so the perturbation matters
        return [(p - t) * (p - t) for p, t in zip(ps, targets)]

    opt = fastopt.SAM(fastopt.Adam(params, lr=0.01, n_threads=n_threads), rho=0.05, adaptive=adaptive)
    ref = reference.Adam(ref_params, lr=0.01)
    for _ in range(4):
        opt.step(lambda: (0.0, grads_fn(params)))
        _sam_numpy(ref_params, grads_fn, ref, 0.05, adaptive, np.dtype(dtype).type)
    for p, rp in zip(params, ref_params):
        np.testing.assert_array_equal(p, rp)


def test_sam_first_second_step_and_errors():
    w = np.array([1.0, -2.0])
    opt = fastopt.SAM(fastopt.SGD([w], lr=0.1), rho=0.5)
    with pytest.raises(RuntimeError, match="first_step"):
        opt.second_step([np.ones(2)])
    opt.first_step([np.array([3.0, 4.0])])
    np.testing.assert_allclose(w, [1.3, -1.6])
    with pytest.raises(RuntimeError, match="second_step"):
        opt.first_step([np.ones(2)])
    opt.second_step([np.array([1.0, 1.0])])
    np.testing.assert_allclose(w, [0.9, -2.1])  # restored exactly, then the SGD step
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="rho"):
        fastopt.SAM(fastopt.SGD([np.zeros(1)]), rho=-1.0)
    with pytest.raises(TypeError, match="base_optimizer"):
        fastopt.SAM(object())


def test_sam_maximize_and_missing_grads():
    w, v = np.array([1.0, 1.0]), np.array([5.0])
    opt = fastopt.SAM(fastopt.SGD([w, v], lr=0.1, maximize=True), rho=1.0)
    opt.first_step([np.array([0.0, 2.0]), None])
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-9)  # moved against the gradient: ascent for maximize
    np.testing.assert_array_equal(v, [5.0])
    opt.second_step([np.array([0.0, 1.0]), None])
    np.testing.assert_allclose(w, [1.0, 1.1])
    np.testing.assert_array_equal(v, [5.0])


def test_sam_shares_groups_and_state_dict():
    w = np.zeros(3)
    base = fastopt.Adam([w], lr=0.1)
    opt = fastopt.SAM(base, rho=0.2, adaptive=True)
    assert opt.param_groups is base.param_groups and base.param_groups[0]["rho"] == 0.2
    opt.step(lambda: (0.0, [np.ones(3)]))
    sd = opt.state_dict()
    assert sd["param_groups"][0]["adaptive"] is True and "exp_avg" in sd["state"][0]


# ---------------------------------------------------------------- Lookahead
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_lookahead_bitwise_against_numpy(dtype, n_threads, isa, parallel):
    r = np.random.default_rng(11)
    shapes = [(3,), (fastopt._engine.BLOCK + 3,), (4, 5)]
    params = [r.standard_normal(s).astype(dtype) for s in shapes]
    ref_params = [p.copy() for p in params]
    T = np.dtype(dtype).type
    opt = fastopt.Lookahead(fastopt.SGD(params, lr=0.05, momentum=0.9, n_threads=n_threads), k=3, alpha=0.6)
    ref = reference.SGD(ref_params, lr=0.05, momentum=0.9)
    slow = [p.copy() for p in ref_params]
    for t in range(1, 11):
        grads = [r.standard_normal(s).astype(dtype) for s in shapes]
        opt.step(grads)
        ref.step(grads)
        if t % 3 == 0:
            for p, s in zip(ref_params, slow):
                s[...] = s + T(0.6) * (p - s)
                p[...] = s
    for p, rp in zip(params, ref_params):
        np.testing.assert_array_equal(p, rp)
    for i, s in enumerate(slow):
        np.testing.assert_array_equal(opt.state_dict()["slow"][i], s)


def test_lookahead_state_dict_resume(rng):
    shapes = [(6,), (2, 3)]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(10)]
    w0 = [rng.standard_normal(s) for s in shapes]
    full = [w.copy() for w in w0]
    opt = fastopt.Lookahead(fastopt.Adam(full, lr=0.1), k=4)
    for g in grads:
        opt.step(g)
    part = [w.copy() for w in w0]
    opt1 = fastopt.Lookahead(fastopt.Adam(part, lr=0.1), k=4)
    for g in grads[:6]:
        opt1.step(g)
    sd = opt1.state_dict()
    assert set(sd["slow"]) == {0, 1} and sd["step"] == 6 and "exp_avg" in sd["base"]["state"][0]
    resumed = [w.copy() for w in part]
    opt2 = fastopt.Lookahead(fastopt.Adam(resumed, lr=0.1), k=1, alpha=0.9)
    opt2.load_state_dict({**sd, "slow": {k: v.copy() for k, v in sd["slow"].items()}})
    assert opt2.k == 4 and opt2.alpha == 0.5
    for g in grads[6:]:
        opt2.step(g)
    for a, b in zip(full, resumed):
        np.testing.assert_array_equal(a, b)


def test_lookahead_validation():
    base = fastopt.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="k"):
        fastopt.Lookahead(base, k=0)
    with pytest.raises(TypeError, match="k"):
        fastopt.Lookahead(base, k=2.5)
    with pytest.raises(ValueError, match="alpha"):
        fastopt.Lookahead(base, alpha=1.5)


# ---------------------------------------------------------------- optax parity
@pytest.mark.parametrize("rule, weight_decay", [("lamb", 0.0), ("lamb", 0.01), ("lars", 0.0)])
def test_trust_ratio_rules_match_optax(rule, weight_decay):
    """LAMB follows optax.lamb; LARS equals optax.lars without weight decay
    (with it, LARS keeps the paper's ||g|| + wd ||w|| where optax takes
    ||g + wd w||: see the LARS docstring). 20 float32 steps on two tensors
    agree to float32 rounding."""
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(4)
    params = [rng.standard_normal(s).astype(np.float32) for s in (100, (7, 9))]
    if rule == "lamb":
        opt = fastopt.LAMB(params, lr=0.01, weight_decay=weight_decay)
        tx = optax.lamb(0.01, weight_decay=weight_decay)
    else:
        opt = fastopt.LARS(params, lr=0.01, weight_decay=weight_decay)
        tx = optax.lars(0.01, weight_decay=weight_decay)
    jp = [jnp.asarray(p) for p in params]
    st = tx.init(jp)
    for _ in range(20):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        opt.step(grads)
        u, st = tx.update([jnp.asarray(g) for g in grads], st, jp)
        jp = optax.apply_updates(jp, u)
    for p, q in zip(params, jp):
        np.testing.assert_allclose(p, np.asarray(q), rtol=2e-5, atol=1e-6)
