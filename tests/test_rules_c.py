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
