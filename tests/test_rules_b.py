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
    s1 = (1 - b2) * g1 ** 2 + er
    p1 = p0 - lr * (m1 / (1 - b1)) / (math.sqrt(s1 / (1 - b2)) + eps)
    m2 = (1 - b1) * g2 + b1 * m1
    s2 = (1 - b2) * (g2 - m1) ** 2 + b2 * s1 + er  # prediction error against the previous m (optax)
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
