"""fastopt.testfunctions: gradients against centered differences (with
fastopt.gradcheck), known minima, batched and structured evaluation, and the
seeded statistics of the noise prototypes."""

import numpy as np
import pytest

from fastopt import testfunctions as T
from fastopt.gradcheck import gradcheck

SMOOTH = [
    T.Rosenbrock(), T.Rosenbrock(n=5), T.Rosenbrock(n=3, a=0.5, b=20), T.Beale(), T.Saddle(),
    T.IllConditionedQuadratic(), T.IllConditionedQuadratic(n=6, condition=1e4, seed=1),
    T.IllConditionedQuadratic(condition=50, angle=0.5),
    T.Line(slope=-2.0, dim=3), T.QuadraticBowl(curvature=3.0, dim=2), T.GaussianBowl(width=0.7, dim=3),
]
KINKED = [T.AbsoluteValue(slope=2.0, dim=3), T.RectifiedLinear(dim=2), T.Cliff(dim=3), T.LaplaceBowl(dim=2)]
ALL = SMOOTH + KINKED


def _points(fn, n=4, seed=0):
    """The start and random points in the bounds, kept away from the kinks at 0."""
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in fn.bounds])
    hi = np.array([b[1] for b in fn.bounds])
    pts = [fn.start]
    for _ in range(n):
        p = rng.uniform(lo, hi)
        p = np.where(np.abs(p) < 1e-2, 0.1, p)
        pts.append(p)
    return pts


@pytest.mark.parametrize("fn", ALL, ids=repr)
def test_gradient_matches_centered_differences(fn):
    for x in _points(fn):
        res = gradcheck(fn.value, x, fn.grad(x), n_samples=None)
        assert res.verdict == "good", f"{fn!r} at {x}:\n{res}"


@pytest.mark.parametrize("fn", ALL, ids=repr)
def test_value_and_grad_agree_with_value_and_grad(fn):
    x = _points(fn)[-1]
    v, g = fn.value_and_grad(x)
    assert isinstance(v, float) and v == fn.value(x) == fn(x)
    assert g.shape == (fn.dim,) and np.array_equal(g, fn.grad(x))


@pytest.mark.parametrize("fn", ALL, ids=repr)
def test_batched_evaluation_equals_pointwise(fn):
    pts = np.stack(_points(fn, n=5), axis=1)              # (dim, 6)
    grid = np.stack([pts, pts[:, ::-1]], axis=1)          # (dim, 2, 6)
    v, g = fn.value_and_grad(grid)
    assert v.shape == (2, 6) and g.shape == grid.shape
    for i in range(2):
        for j in range(6):
            p = grid[:, i, j]
            assert v[i, j] == pytest.approx(fn.value(p), rel=1e-14, abs=1e-14)
            np.testing.assert_allclose(g[:, i, j], fn.grad(p), rtol=1e-14, atol=1e-14)


def test_structured_points_return_grads_in_the_same_structure():
    f = T.Rosenbrock(n=5)
    x = f.start
    parts = [x[:2].copy(), x[2:].reshape(3, 1).copy()]
    v, g = f.value_and_grad(parts)
    assert v == f.value(x)
    assert isinstance(g, list) and g[0].shape == (2,) and g[1].shape == (3, 1)
    np.testing.assert_array_equal(np.concatenate([g[0], g[1].ravel()]), f.grad(x))
    d = f.grad({"a": parts[0], "b": parts[1]})
    assert list(d) == ["a", "b"] and np.array_equal(d["b"], g[1])
    assert isinstance(f.grad(tuple(parts)), tuple)
    # an optimizer can take the grads as they come
    import fastopt

    params = [f.start]
    opt = fastopt.Adam(params, lr=0.05)
    for _ in range(50):
        opt.step(f.grad(params))
    assert f.value(params) < f.value(f.start)


def test_meshgrid_tuple_is_a_batch():
    f = T.Beale()
    X, Y = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(0, 2, 5))
    v, g = f.value_and_grad((X, Y))
    np.testing.assert_array_equal(v, f.value(np.stack([X, Y])))
    assert g.shape == (2, 5, 7)
    # two 1-element params of a 2-D function are still params
    g = f.grad([np.array([3.0]), np.array([0.5])])
    assert isinstance(g, list) and g[0].shape == (1,)


def test_scalars_and_lists_of_numbers_are_points():
    assert T.QuadraticBowl().value(2.0) == 2.0
    assert T.Beale().value([3.0, 0.5]) == 0.0
    with pytest.raises(ValueError, match="scalar"):
        T.Beale().value(1.0)
    with pytest.raises(ValueError, match="coordinate"):
        T.Rosenbrock(n=3).value(np.zeros(2))


# --------------------------------------------------------------------------- minima and starts


@pytest.mark.parametrize("fn", [f for f in ALL if f.minimum is not None], ids=repr)
def test_known_minimum_is_a_minimum(fn):
    m = fn.minimum
    assert fn.value(m.x) == pytest.approx(m.value, abs=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(200):
        d = rng.standard_normal(fn.dim) * rng.choice([1e-3, 1e-1, 1.0])
        assert fn.value(m.x + d) >= m.value - 1e-12


@pytest.mark.parametrize("fn", [f for f in SMOOTH if f.minimum is not None], ids=repr)
def test_gradient_vanishes_at_smooth_minima(fn):
    np.testing.assert_allclose(fn.grad(fn.minimum.x), 0.0, atol=1e-12)


def test_classic_values():
    r = T.Rosenbrock()
    assert np.array_equal(r.start, [-1.2, 1.0]) and r.value(r.start) == pytest.approx(24.2)
    assert np.array_equal(r.minimum.x, [1.0, 1.0]) and r.minimum.value == 0.0
    assert np.array_equal(T.Rosenbrock(n=4).start, [-1.2, 1.0, -1.2, 1.0])
    assert np.array_equal(T.Rosenbrock(a=2.0).minimum.x, [2.0, 4.0])
    assert T.Rosenbrock(n=3, a=2.0).minimum is None
    b = T.Beale()
    assert b.value([0.0, 0.0]) == pytest.approx(1.5 ** 2 + 2.25 ** 2 + 2.625 ** 2)
    assert np.array_equal(b.minimum.x, [3.0, 0.5])
    s = T.Saddle()
    assert s.minimum is None and np.array_equal(s.start, [-1.0, 1e-3])
    np.testing.assert_array_equal(s.grad([0.0, 0.0]), [0.0, 0.0])
    assert s.value([0.0, 2.0]) == -4.0 and s.value([2.0, 0.0]) == 4.0
    assert T.Line().minimum is None
    assert T.GaussianBowl(width=2.0).start[0] == 4.0


def test_start_is_a_fresh_copy():
    f = T.Rosenbrock()
    s = f.start
    s[0] = 99.0
    assert f.start[0] == -1.2


@pytest.mark.parametrize("n, kappa, kw", [(2, 100.0, {}), (5, 1e3, {"seed": 3}), (2, 10.0, {"angle": 1.0}),
                                          (1, 1.0, {})])
def test_ill_conditioned_quadratic_spectrum(n, kappa, kw):
    f = T.IllConditionedQuadratic(n=n, condition=kappa, **kw)
    ev = np.linalg.eigvalsh(f.A)
    np.testing.assert_allclose(ev, np.sort(f.eigenvalues), rtol=1e-12)
    assert ev.max() / ev.min() == pytest.approx(kappa)
    x = np.random.default_rng(0).standard_normal(n)
    assert f.value(x) == pytest.approx(0.5 * x @ f.A @ x)


def test_rotation_moves_the_eigenvectors():
    f = T.IllConditionedQuadratic(condition=100.0, angle=np.pi / 4)
    assert abs(f.A[0, 1]) > 1.0


@pytest.mark.parametrize("call, match", [
    (lambda: T.Rosenbrock(n=1), "n must be"),
    (lambda: T.IllConditionedQuadratic(condition=0.5), "condition"),
    (lambda: T.IllConditionedQuadratic(angle=0.1, seed=1), "not both"),
    (lambda: T.IllConditionedQuadratic(n=3, angle=0.1), "n = 2"),
    (lambda: T.QuadraticBowl(curvature=0.0), "curvature"),
    (lambda: T.Cliff(steepness=0.5), "steepness"),
    (lambda: T.GaussianBowl(width=-1.0), "width"),
    (lambda: T.AbsoluteValue(dim=0), "dim"),
    (lambda: T.Noisy(T.QuadraticBowl(), "uniform"), "kind"),
    (lambda: T.Noisy(T.QuadraticBowl(), "maskout", scale=1.0), r"\[0, 1\)"),
    (lambda: T.Noisy(T.QuadraticBowl(), "additive", scale=-1.0), "scale"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_grid_for_contours():
    X, Y, Z = T.Rosenbrock().grid(50)
    assert X.shape == Y.shape == Z.shape == (50, 50)
    assert X.min() == -2.0 and Y.max() == 3.0
    assert Z[0, 0] == T.Rosenbrock().value([X[0, 0], Y[0, 0]])
    with pytest.raises(ValueError, match="2-D"):
        T.Rosenbrock(n=3).grid()


# --------------------------------------------------------------------------- the prototypes' shapes


def test_prototype_shapes():
    x = np.array([-2.0, -0.5, 0.5, 2.0])[None, :]
    np.testing.assert_allclose(T.AbsoluteValue().grad(x)[0], [-1, -1, 1, 1])
    np.testing.assert_allclose(T.RectifiedLinear().grad(x)[0], [0, 0, 1, 1])
    np.testing.assert_allclose(T.Cliff().grad(x)[0], [-10, -10, 1, 1])
    np.testing.assert_allclose(T.Cliff().value(x), [20, 5, 0.5, 2])
    np.testing.assert_allclose(T.Line(slope=3.0).grad(x)[0], [3, 3, 3, 3])
    # flat tails: the Gaussian bowl's gradient at 4 widths is < 0.2 % of its peak
    g = T.GaussianBowl()
    peak = g.grad(1.0)[0]
    assert g.grad(4.0)[0] < 2e-3 * peak * 4
    assert T.LaplaceBowl().grad(0.0)[0] == 0.0 and T.AbsoluteValue().grad(0.0)[0] == 0.0


def test_separable_sum_over_coordinates():
    f = T.GaussianBowl(dim=3)
    x = np.array([0.3, -1.0, 2.0])
    phi, dphi = f.elementwise(x)
    one = T.GaussianBowl()
    np.testing.assert_allclose(phi, [one.value(v) for v in x])
    assert f.value(x) == pytest.approx(phi.sum())
    np.testing.assert_allclose(dphi, f.grad(x))


# --------------------------------------------------------------------------- noise prototypes

N = 20000


def _grads(f, x, n=N):
    return np.array([f.grad(x) for _ in range(n)])


def test_additive_noise_statistics():
    base = T.QuadraticBowl(curvature=2.0, dim=2)
    f = T.Noisy(base, "additive", scale=0.5, seed=1)
    x = np.array([1.0, -0.5])
    g = _grads(f, x)
    true = base.grad(x)
    se = 0.5 / np.sqrt(N)
    np.testing.assert_allclose(g.mean(0), true, atol=5 * se)
    np.testing.assert_allclose(g.std(0), 0.5, rtol=0.03)
    assert abs(np.corrcoef(g.T)[0, 1]) < 0.03               # independent per coordinate


def test_multiplicative_noise_statistics():
    base = T.QuadraticBowl(dim=2)
    f = T.Noisy(base, "multiplicative", scale=0.3, seed=2)
    x = np.array([1.0, -2.0])
    ratio = _grads(f, x) / base.grad(x)
    assert np.all(ratio > 0)                                  # the scale varies, never the sign
    np.testing.assert_allclose(ratio.mean(0), 1.0, atol=0.01)  # unbiased
    np.testing.assert_allclose(np.log(ratio).std(0), 0.3, rtol=0.03)


def test_cauchy_noise_statistics():
    base = T.AbsoluteValue()
    f = T.Noisy(base, "cauchy", scale=0.2, seed=3)
    g = _grads(f, 1.0)[:, 0]
    q1, med, q3 = np.percentile(g, [25, 50, 75])
    assert med == pytest.approx(1.0, abs=0.01)
    assert q3 - q1 == pytest.approx(0.4, rel=0.05)             # IQR of a Cauchy = 2 * scale
    assert np.abs(g - 1).max() > 50 * 0.2                       # heavy tails


def test_maskout_noise_statistics():
    base = T.LaplaceBowl(dim=3)
    f = T.Noisy(base, "maskout", scale=0.3, seed=4)
    x = np.array([0.5, -1.0, 2.0])
    g = _grads(f, x)
    zero = g == 0
    assert zero.mean() == pytest.approx(0.3, abs=0.01)
    true = base.grad(x)
    assert np.all((g == true) | zero)                          # kept coordinates are exact


def test_noise_is_seeded_and_resettable():
    def draws(f):
        return [f.value_and_grad(np.array([0.3, 0.7])) for _ in range(5)]

    a = draws(T.Noisy(T.QuadraticBowl(dim=2), "additive", seed=9))
    b = draws(T.Noisy(T.QuadraticBowl(dim=2), "additive", seed=9))
    c = draws(T.Noisy(T.QuadraticBowl(dim=2), "additive", seed=10))
    assert all(va == vb and np.array_equal(ga, gb) for (va, ga), (vb, gb) in zip(a, b))
    assert not all(va == vc for (va, _), (vc, _) in zip(a, c))
    f = T.Noisy(T.QuadraticBowl(dim=2), "additive", seed=9)
    draws(f)
    f.reset()
    assert draws(f)[0][0] == a[0][0]


@pytest.mark.parametrize("kind, scale", [("additive", 0.5), ("cauchy", 0.1), ("multiplicative", 0.5),
                                         ("maskout", 0.5)])
@pytest.mark.parametrize("base", [T.GaussianBowl(dim=3), T.Rosenbrock(n=3)], ids=repr)
def test_a_realization_is_a_consistent_function(kind, scale, base):
    f = T.Noisy(base, kind, scale=scale, seed=5)
    r = f.sample()
    x = base.start + 0.1
    res = gradcheck(r.value, x, r.grad(x), n_samples=None)
    assert res.verdict == "good", str(res)
    # value_and_grad's value and gradient belong to the same draw
    f.reset()
    v, g = f.value_and_grad(x)
    f.reset()
    r = f.sample()
    assert v == r.value(x) and np.array_equal(g, r.grad(x))


def test_additive_draw_is_a_random_linear_term():
    base = T.QuadraticBowl(dim=2)
    r = T.Noisy(base, "additive", scale=1.0, seed=0).sample()
    x = np.array([0.4, -1.3])
    v, g = r.value_and_grad(x)
    assert v == pytest.approx(base.value(x) + r.xi @ x)
    np.testing.assert_allclose(g, base.grad(x) + r.xi)


def test_noisy_keeps_the_objective_s_minimum_start_and_bounds():
    base = T.QuadraticBowl(dim=2)
    f = T.Noisy(base, "additive", seed=0)
    assert f.minimum is base.minimum and np.array_equal(f.start, base.start) and f.bounds == base.bounds
    assert "additive" in repr(f)
