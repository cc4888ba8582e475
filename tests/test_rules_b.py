"""Rule-specific checks for Lion, AdaBelief, NoisySGD and DiagonalLM beyond the
generic reference tests: hand-computed steps from the papers' formulas,
optax parity when optax is importable, the functional forms, validation."""
import math

import numpy as np
import pytest

import fastopt
from fastopt import functional as F


# ---------------------------------------------------------------- AdaBelief
def test_adabelief_two_steps_by_hand():
    lr, b1, b2, eps, er = 0.1, 0.9, 0.999, 1e-16, 1e-16
    g1, g2, p0 = 0.5, -0.25, 1.0
    w = np.array([p0])
    opt = fastopt.AdaBelief([w], lr=lr)
    opt.step([np.array([g1])])
    opt.step([np.array([g2])])
    m1 = (1 - b1) * g1
    s1 = (1 - b2) * (g1 - m1) ** 2 + er
    p1 = p0 - lr * (m1 / (1 - b1)) / (math.sqrt(s1 / (1 - b2)) + eps)
    m2 = (1 - b1) * g2 + b1 * m1
    s2 = (1 - b2) * (g2 - m2) ** 2 + b2 * s1 + er  # prediction error against the new m (paper, optax)
    p2 = p1 - lr * (m2 / (1 - b1 ** 2)) / (math.sqrt(s2 / (1 - b2 ** 2)) + eps)
    assert w[0] == pytest.approx(p2, rel=1e-14)
    assert opt.state[0]["exp_avg_var"][0] == pytest.approx(s2, rel=1e-14)


def test_adabelief_matches_optax():
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(0)
    p = rng.standard_normal(100).astype(np.float32)
    opt = fastopt.AdaBelief([p], lr=0.01)
    tx = optax.adabelief(0.01)
    jp = jnp.asarray(p)
    st = tx.init(jp)
    for _ in range(20):
        g = rng.standard_normal(100).astype(np.float32)
        opt.step([g])
        u, st = tx.update(jnp.asarray(g), st, jp)
        jp = optax.apply_updates(jp, u)
    np.testing.assert_allclose(p, np.asarray(jp), rtol=1e-5, atol=1e-6)


def test_adabelief_functional_matches_class(rng):
    p = rng.standard_normal(37)
    q = p.copy()
    opt = fastopt.AdaBelief([p], lr=0.01, weight_decay=0.1)
    m, s = np.zeros_like(q), np.zeros_like(q)
    for t in range(1, 6):
        g = rng.standard_normal(37)
        opt.step([g])
        F.adabelief_([q], [g], [m], [s], step=t, lr=0.01, weight_decay=0.1)
    np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(opt.state[0]["exp_avg_var"], s)


@pytest.mark.parametrize("kw, match", [(dict(eps=0.0), "eps"), (dict(eps_root=-1.0), "eps_root"),
                                       (dict(betas=(1.0, 0.9)), "betas"), (dict(lr=-1.0), "lr")])
def test_adabelief_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        fastopt.AdaBelief([np.zeros(3)], **kw)


# ---------------------------------------------------------------- Lion
def test_lion_two_steps_by_hand():
    lr, b1, b2, wd = 0.1, 0.9, 0.99, 0.5
    w = np.array([1.0, -2.0, 3.0])
    opt = fastopt.Lion([w], lr=lr, weight_decay=wd)
    g1, g2 = np.array([0.5, 0.0, -1.0]), np.array([-0.04, 0.3, 0.2])
    opt.step([g1])
    p1 = np.array([1.0, -2.0, 3.0])
    p1 = p1 - lr * (np.sign((1 - b1) * g1) + wd * p1)  # sign(0) = 0: the middle element only decays
    m1 = (1 - b2) * g1
    opt.step([g2])
    p2 = p1 - lr * (np.sign((1 - b1) * g2 + b1 * m1) + wd * p1)
    np.testing.assert_allclose(w, p2, rtol=1e-15)
    np.testing.assert_allclose(opt.state[0]["exp_avg"], (1 - b2) * g2 + b2 * m1, rtol=1e-15)


def test_lion_zero_gradient_moves_nothing_without_decay():
    w = np.array([1.0, 2.0, 3.0])
    fastopt.Lion([w], lr=0.1).step([np.zeros(3)])
    np.testing.assert_array_equal(w, [1.0, 2.0, 3.0])


def test_lion_matches_optax():
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(1)
    p = rng.standard_normal(100).astype(np.float32)
    opt = fastopt.Lion([p], lr=0.01, weight_decay=0.1)
    tx = optax.lion(0.01, weight_decay=0.1)
    jp = jnp.asarray(p)
    st = tx.init(jp)
    for _ in range(20):
        g = rng.standard_normal(100).astype(np.float32)
        opt.step([g])
        u, st = tx.update(jnp.asarray(g), st, jp)
        jp = optax.apply_updates(jp, u)
    np.testing.assert_allclose(p, np.asarray(jp), rtol=1e-5, atol=1e-6)


def test_lion_functional_matches_class(rng):
    p = rng.standard_normal(37).astype(np.float32)
    q = p.copy()
    opt = fastopt.Lion([p], lr=0.01, betas=(0.8, 0.95), weight_decay=0.2, maximize=True)
    m = np.zeros_like(q)
    for _ in range(5):
        g = rng.standard_normal(37).astype(np.float32)
        opt.step([g])
        F.lion_([q], [g], [m], lr=0.01, beta1=0.8, beta2=0.95, weight_decay=0.2, maximize=True)
    np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], m)


# ---------------------------------------------------------------- DiagonalLM
def test_diag_lm_by_hand_with_running_average():
    w = np.array([1.0, 2.0])
    opt = fastopt.DiagonalLM([w], lr=0.5, mu=0.1, hessian_decay=0.75)
    opt.step([np.array([1.0, -2.0])], [np.array([1.0, 3.0])])
    a = np.array([1.0, 3.0])  # the average starts at the first estimate
    p = np.array([1.0, 2.0]) - 0.5 * np.array([1.0, -2.0]) / (a + 0.1)
    opt.step([np.array([0.5, 0.5])], [np.array([3.0, 1.0])])
    a = 0.75 * a + 0.25 * np.array([3.0, 1.0])
    p = p - 0.5 * np.array([0.5, 0.5]) / (a + 0.1)
    np.testing.assert_allclose(w, p, rtol=1e-15)
    np.testing.assert_allclose(opt.state[0]["hessian_avg"], a, rtol=1e-15)
    assert opt.state[0]["step"] == 2


def test_diag_lm_dicts_closure_and_none():
    w = {"a": np.array([1.0, 2.0]), "b": np.array([3.0])}
    opt = fastopt.DiagonalLM(w, lr=1.0, mu=1.0)
    opt.step({"a": np.array([1.0, 1.0]), "b": None}, {"a": np.array([1.0, 3.0]), "b": np.array([1.0])})
    np.testing.assert_allclose(w["a"], [0.5, 1.75])
    assert w["b"][0] == 3.0
    loss = opt.step(closure=lambda: (7.0, {"a": np.zeros(2), "b": np.array([2.0])},
                                     {"a": np.zeros(2), "b": np.array([0.0])}))
    assert loss == 7.0 and w["b"][0] == 1.0


def test_diag_lm_errors_name_the_input():
    w = np.zeros(3)
    opt = fastopt.DiagonalLM([w])
    with pytest.raises(TypeError, match="hessian_diag"):
        opt.step([np.ones(3)])
    with pytest.raises(ValueError, match="hessian_diag"):
        opt.step([np.ones(3)], [np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match="hessian_diag"):
        opt.step([np.ones(3)], [np.ones(4)])
    with pytest.raises(ValueError, match="mu"):
        fastopt.DiagonalLM([w], mu=0.0)
    with pytest.raises(ValueError, match="hessian_decay"):
        fastopt.DiagonalLM([w], hessian_decay=1.0)
    np.testing.assert_array_equal(w, 0)


def test_diag_lm_functional_matches_class(rng):
    p = rng.standard_normal(19)
    q = p.copy()
    opt = fastopt.DiagonalLM([p], lr=0.1, hessian_decay=0.9)
    avg = np.zeros_like(q)
    for t in range(1, 5):
        g, h = rng.standard_normal(19), rng.random(19)
        opt.step([g], [h])
        F.diag_lm_([q], [g], [h], [avg], step=t, lr=0.1, hessian_decay=0.9)
    np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(opt.state[0]["hessian_avg"], avg)


# ---------------------------------------------------------------- NoisySGD
@pytest.mark.parametrize("step, eta, gamma", [(1, 0.3, 0.55), (7, 1.0, 0.55), (50, 0.01, 1.0)])
def test_noisy_sgd_noise_statistics(step, eta, gamma):
    n = 1_000_000
    p = np.zeros(n)
    F.noisy_sgd_([p], [np.zeros(n)], step=step, lr=1.0, noise_eta=eta, noise_gamma=gamma, seed=11)
    var = eta / step ** gamma  # sigma_t^2 = eta / (1 + t)^gamma with t = step - 1
    z = -p / math.sqrt(var)
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs((z ** 4).mean() - 3) < 0.05  # Gaussian kurtosis
    assert np.mean(np.abs(z) < 1) == pytest.approx(0.682689, abs=0.002)


def test_noisy_sgd_reproducible_and_keyed():
    def run(seed, **kw):
        ps = [np.zeros(100), np.zeros(50)]
        opt = fastopt.NoisySGD(ps, lr=1.0, noise_eta=1.0, seed=seed, **kw)
        for _ in range(3):
            opt.step([np.zeros(100), np.zeros(50)])
        return ps
    a, b, c = run(5), run(5), run(6)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.any(a[0] == c[0])
    assert not np.any(a[0][:50] == a[1])  # each param its own stream
    np.testing.assert_array_equal(run(5, n_threads=2)[1], a[1])


def test_noisy_sgd_noise_keyed_by_flat_index_across_groups_and_none():
    p1 = [np.zeros(8), np.zeros(8)]
    opt1 = fastopt.NoisySGD([{"params": [p1[0]]}, {"params": [p1[1]]}], lr=1.0, seed=1)
    opt1.step([np.zeros(8), np.zeros(8)])
    p2 = [np.zeros(8), np.zeros(8)]
    opt2 = fastopt.NoisySGD(p2, lr=1.0, seed=1)
    opt2.step([None, np.zeros(8)])  # param 0 skipped: param 1 still draws the noise of flat index 1
    np.testing.assert_array_equal(p1[1], p2[1])
    assert not np.any(p1[0] == p1[1])
    assert np.all(p2[0] == 0)


def test_noisy_sgd_step_survives_state_access_and_state_dict():
    w = np.zeros(5)
    opt = fastopt.NoisySGD([w], lr=1.0, seed=2)
    opt.step([np.zeros(5)])
    assert opt.state[0]["step"] == 1  # kept even without a momentum buffer
    opt.step([np.zeros(5)])
    sd = opt.state_dict()
    assert sd["state"][0]["step"] == 2
    v = w.copy()
    opt2 = fastopt.NoisySGD([v], lr=1.0, seed=2)
    opt2.load_state_dict(sd)
    opt.step([np.zeros(5)])
    opt2.step([np.zeros(5)])
    np.testing.assert_array_equal(w, v)


def test_noisy_sgd_without_noise_is_sgd(rng):
    p = rng.standard_normal(33)
    q = p.copy()
    a = fastopt.NoisySGD([p], lr=0.1, momentum=0.9, nesterov=True, noise_eta=0.0)
    b = fastopt.SGD([q], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(4):
        g = rng.standard_normal(33)
        a.step([g])
        b.step([g])
    np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kw, exc, match", [(dict(seed=-1), ValueError, "seed"), (dict(seed=2 ** 64), ValueError, "seed"),
                                            (dict(seed=1.5), TypeError, "seed"),
                                            (dict(noise_eta=-1.0), ValueError, "noise_eta"),
                                            (dict(nesterov=True), ValueError, "nesterov")])
def test_noisy_sgd_validation(kw, exc, match):
    with pytest.raises(exc, match=match):
        fastopt.NoisySGD([np.zeros(3)], **kw)
