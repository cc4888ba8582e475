"""fastopt.gradcheck: finds planted errors, passes right gradients, handles the
both-zero and tiny-denominator cases, never touches the caller's arrays, warns
and upcasts below float64, and samples every parameter array."""

import math
import warnings

import numpy as np
import pytest

from fastopt.gradcheck import (
    GradcheckResult,
    ParamCheck,
    _rel_error,
    gradcheck,
    interpret,
)

RNG = np.random.default_rng(42)
X = RNG.standard_normal((16, 4))
Y = RNG.standard_normal(16)


def mlp_loss_and_grads(W, b, v):
    """A small tanh network with squared loss, its exact gradient by hand."""
    h = np.tanh(X @ W + b)
    r = h @ v - Y
    loss = 0.5 * np.mean(r ** 2)
    dout = r / len(Y)
    gv = h.T @ dout
    dz = np.outer(dout, v) * (1 - h ** 2)
    return loss, X.T @ dz, dz.sum(0), gv


def make_params(dtype=np.float64):
    rng = np.random.default_rng(7)
    return [rng.standard_normal((4, 3)).astype(dtype), (0.1 * rng.standard_normal(3)).astype(dtype),
            rng.standard_normal(3).astype(dtype)]


def loss_list(p):
    return mlp_loss_and_grads(*p)[0]


def grads_list(p):
    return list(mlp_loss_and_grads(*p)[1:])


# --------------------------------------------------------------------------- right and wrong


def test_right_gradient_passes_good():
    params = make_params()
    res = gradcheck(loss_list, params, grads_list(params))
    assert isinstance(res, GradcheckResult)
    assert res.passed and bool(res) and res.verdict == "good"
    assert res.worst_rel_error < 1e-7
    assert [p.name for p in res.params] == ["params[0]", "params[1]", "params[2]"]
    assert all(isinstance(p, ParamCheck) and p.verdict == "good" for p in res.params)


@pytest.mark.parametrize("which, coord", [(0, (2, 1)), (1, (1,)), (2, (0,))])
def test_planted_factor_two_in_one_coordinate_of_one_param_is_found(which, coord):
    params = make_params()
    grads = grads_list(params)
    grads[which][coord] *= 2.0
    res = gradcheck(loss_list, params, grads, n_samples=None)
    assert not res.passed and not res and res.verdict == "wrong"
    worst = res.worst
    assert worst.name == f"params[{which}]" and worst.worst_index == coord
    assert worst.worst_analytic == pytest.approx(2 * worst.worst_numeric, rel=1e-6)
    assert worst.worst_rel_error == pytest.approx(0.5, rel=1e-6)
    # the other params are still right
    assert all(p.verdict == "good" for p in res.params if p is not worst)
    text = str(res)
    assert "FAILED" in text and "wrong" in text and "analytic / numeric = 2" in text


def test_planted_error_in_small_param_found_next_to_a_big_one():
    big = np.random.default_rng(1).standard_normal(5000)
    small = np.array([0.5, -1.0, 2.0])

    def f(p):
        return 0.5 * np.sum(p["big"] ** 2) + np.sum(np.sin(p["small"]))

    grads = {"big": big.copy(), "small": np.cos(small)}
    grads["small"][2] *= 2
    res = gradcheck(f, {"big": big, "small": small}, grads, n_samples=5)
    assert res["big"].n_checked == 5 and res["small"].n_checked == 3
    assert not res.passed and res.worst.name == "small" and res.worst.worst_index == (2,)
    assert res["big"].verdict == "good"


def test_sign_error_is_wrong():
    x = np.array([0.3, -0.7])
    res = gradcheck(lambda p: float(np.sum(p ** 3)), x, -3 * x ** 2)
    assert res.worst_rel_error == pytest.approx(2.0) and res.verdict == "wrong"


# --------------------------------------------------------------------------- structures


def test_dict_pairs_and_param_groups_structures():
    W, b, v = make_params()
    g = grads_list([W, b, v])

    def f_dict(p):
        assert isinstance(p, dict) and list(p) == ["W", "b", "v"]
        return mlp_loss_and_grads(p["W"], p["b"], p["v"])[0]

    res = gradcheck(f_dict, {"W": W, "b": b, "v": v}, {"W": g[0], "b": g[1], "v": g[2]})
    assert res.passed and [p.name for p in res.params] == ["W", "b", "v"]
    # grads as a list in param order works for named params too
    assert gradcheck(f_dict, {"W": W, "b": b, "v": v}, g).passed

    def f_pairs(p):
        assert [n for n, _ in p] == ["W", "b", "v"]
        return mlp_loss_and_grads(*[a for _, a in p])[0]

    assert gradcheck(f_pairs, [("W", W), ("b", b), ("v", v)], g).passed

    def f_groups(groups):
        assert groups[1]["lr"] == 0.5
        arrays = [a for grp in groups for a in grp["params"]]
        return mlp_loss_and_grads(*arrays)[0]

    groups = [{"params": [W, b]}, {"params": [v], "lr": 0.5}]
    res = gradcheck(f_groups, groups, g)
    assert res.passed and len(res.params) == 3


def test_single_array_params():
    x = np.array([0.2, -1.5, 3.0])
    res = gradcheck(lambda z: float(np.sum(np.exp(z))), x, np.exp(x))
    assert res.passed and res.params[0].name == "x"


def test_grads_none_uses_f_returning_loss_and_grads_and_copies_reused_buffers():
    params = make_params()
    buf = [np.zeros((4, 3)), np.zeros(3), np.zeros(3)]

    def f(p):
        loss, *gs = mlp_loss_and_grads(*p)
        for dst, src in zip(buf, gs):          # a framework reusing its grad buffers
            dst[...] = src
        return loss, buf

    res = gradcheck(f, params)
    assert res.passed and res.verdict == "good"


def test_none_grad_counts_as_zero():
    x, y = np.array([1.0, 2.0]), np.array([3.0])

    def f(p):
        return float(np.sum(p[0] ** 2))          # does not depend on p[1]

    res = gradcheck(f, [x, y], [2 * x, None])
    assert res.passed and res.params[1].worst_rel_error == 0.0
    res = gradcheck(lambda p: float(np.sum(p[0] ** 2) + p[1][0]), [x, y], [2 * x, None])
    assert not res.passed and "no analytic gradient was given" in res.interpretation


# --------------------------------------------------------------------------- zeros and tiny numbers


def test_both_zero_is_no_error():
    x = np.array([1.0, 2.0, 3.0])

    def f(p):
        return float(p[0] ** 2 + p[1] ** 2)     # p[2] plays no part

    res = gradcheck(f, x, np.array([2.0, 4.0, 0.0]))
    k = res.params[0].coords.index((2,))
    assert res.params[0].numeric[k] == 0.0 and res.params[0].analytic[k] == 0.0
    assert res.params[0].rel_errors[k] == 0.0 and res.passed


def test_rel_error_definition_and_tiny_denominator_guard():
    assert _rel_error(0.0, 0.0, 1e-10) == 0.0
    assert _rel_error(2.0, 1.0, 1e-10) == 0.5
    assert _rel_error(-1.0, 1.0, 1e-10) == 2.0
    # two tiny numbers: their difference counts against the floor, not against themselves
    assert _rel_error(3e-15, -2e-15, 1e-10) == pytest.approx(5e-5)
    assert math.isnan(_rel_error(1.0, math.nan, 1e-10))
    assert _rel_error(1.0, math.inf, 1e-10) == math.inf


def test_round_off_on_a_tiny_gradient_is_not_reported_as_an_error():
    # f is ~1e4, so f(x+h) - f(x-h) is only known to ~1 ulp (1.8e-12): a true
    # derivative of 1e-9 comes out as 0 or as ~1e-7, a 100 % "relative error"
    # that is pure round-off
    x = np.array([0.37, 0.5])

    def f(p):
        return float(1e4 + 1e-9 * p[0] + p[1] ** 2)

    res = gradcheck(f, x, np.array([1e-9, 1.0]))
    a, n = res.params[0].analytic[0], res.params[0].numeric[0]
    assert abs(a - n) / max(abs(a), abs(n)) > 0.5          # the naive relative error
    assert res.params[0].rel_errors[0] < 1e-4 and res.passed, str(res)
    # a factor-2 error in a component well above the noise (~2e-7 here) is still caught
    res = gradcheck(f, x, np.array([1e-9, 2.0]))
    assert res.verdict == "wrong" and res.worst.worst_index == (1,)
    # ... and a factor 2 on a component of 1e-3 (~5000 times the noise) is "wrong",
    # on one of 1e-4 (~500 times) "suspicious": neither passes
    res = gradcheck(lambda p: float(1e4 + 1e-3 * p[0]), x[:1], np.array([2e-3]))
    assert res.verdict == "wrong"
    res = gradcheck(lambda p: float(1e4 + 1e-4 * p[0]), x[:1], np.array([2e-4]))
    assert res.verdict == "suspicious" and not res.passed


def test_nan_is_wrong():
    res = gradcheck(lambda p: float(np.sum(p ** 2)), np.array([1.0, 2.0]), np.array([2.0, np.nan]))
    assert not res.passed and res.verdict == "wrong" and math.isnan(res.worst_rel_error)
    assert res.worst.worst_index == (1,)


# --------------------------------------------------------------------------- dtypes and inputs untouched


def test_float32_warns_upcasts_and_leaves_inputs_unmodified():
    params = make_params(np.float32)
    before = [p.copy() for p in params]
    grads = [g.astype(np.float32) for g in grads_list([p.astype(np.float64) for p in params])]
    grads_before = [g.copy() for g in grads]
    seen = []

    def f(p):
        seen.append([a.dtype for a in p])
        assert all(a is not o for a, o in zip(p, params))
        return loss_list(p)

    with pytest.warns(UserWarning, match="float64"):
        res = gradcheck(f, params, grads)
    assert all(d == np.float64 for row in seen for d in row)
    for p, b in zip(params, before):
        assert p.dtype == np.float32 and np.array_equal(p, b)
    for g, b in zip(grads, grads_before):
        assert np.array_equal(g, b)
    # float32 analytic grads: right to float32 precision, not to float64's
    assert res.passed and res.verdict in ("ok", "good")
    assert res.upcast and "float32" in res.interpretation


def test_float64_inputs_bitwise_unchanged_and_no_warning():
    params = make_params()
    before = [p.copy() for p in params]
    grads = grads_list(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(loss_list, params, grads, n_samples=None)
    for p, b in zip(params, before):
        assert np.array_equal(p, b) and p.tobytes() == b.tobytes()


def test_read_only_and_non_contiguous_params_accepted():
    base = np.arange(12.0).reshape(3, 4) / 10
    x = base[:, ::2]                              # not contiguous
    x.flags.writeable = False
    res = gradcheck(lambda p: float(np.sum(np.sin(p))), x, np.cos(x))
    assert res.passed and res.params[0].shape == (3, 2)


def test_f_closing_over_the_originals_is_diagnosed():
    x = np.array([1.0, 2.0])
    res = gradcheck(lambda p: float(np.sum(x ** 2)), x, 2 * x)
    assert not res.passed and "copies" in res.interpretation


# --------------------------------------------------------------------------- sampling


def test_samples_every_array_min_n_samples_size():
    rng = np.random.default_rng(3)
    params = {"a": rng.standard_normal(1000), "b": rng.standard_normal(2), "c": rng.standard_normal((5, 5)),
              "d": np.array(0.7)}

    def f(p):
        return float(sum(np.sum(np.sin(a)) for a in p.values()))

    grads = {k: np.cos(v) for k, v in params.items()}
    res = gradcheck(f, params, grads, n_samples=7)
    assert [p.n_checked for p in res.params] == [7, 2, 7, 1]
    assert res["d"].coords == [()]
    for p in res.params:
        assert len(set(p.coords)) == p.n_checked            # without replacement
    assert res.n_evals == 1 + 2 * (7 + 2 + 7 + 1)
    res_all = gradcheck(f, params, grads, n_samples=None)
    assert [p.n_checked for p in res_all.params] == [1000, 2, 25, 1]


def test_sampling_is_seeded():
    x = np.random.default_rng(0).standard_normal(100)
    g = np.cos(x)

    def f(p):
        return float(np.sum(np.sin(p)))

    a = gradcheck(f, x, g, n_samples=5, seed=1).params[0].coords
    b = gradcheck(f, x, g, n_samples=5, seed=1).params[0].coords
    c = gradcheck(f, x, g, n_samples=5, seed=2).params[0].coords
    assert a == b and a != c


def test_empty_array_is_listed_with_nothing_checked():
    res = gradcheck(lambda p: float(np.sum(p[0] ** 2)), [np.array([1.0]), np.zeros(0)], [np.array([2.0]), np.zeros(0)])
    assert res.passed and res.params[1].n_checked == 0 and "0/0" in str(res)


# --------------------------------------------------------------------------- kinks, thresholds, report


def test_kink_within_eps_is_hinted():
    x = np.array([1e-6, 2.0])
    res = gradcheck(lambda p: float(np.sum(np.abs(p))), x, np.sign(x))
    assert not res.passed
    assert res.params[0].kinks[0] and not res.params[0].kinks[1]
    assert "kink" in res.interpretation


def test_smooth_failure_is_not_called_a_kink():
    params = make_params()
    grads = grads_list(params)
    grads[0][1, 1] += 0.3
    res = gradcheck(loss_list, params, grads, n_samples=None)
    assert not res.passed and not any(p.kinks.any() for p in res.params)
    assert "kink" not in res.interpretation


@pytest.mark.parametrize("err, verdict", [(0.0, "good"), (9.9e-8, "good"), (1e-7, "ok"), (5e-5, "ok"),
                                          (1e-4, "suspicious"), (1e-2, "wrong"), (0.5, "wrong"),
                                          (math.inf, "wrong"), (math.nan, "wrong")])
def test_interpret_thresholds(err, verdict):
    assert interpret(err) == verdict


def test_tol_sets_passed():
    x = np.array([0.5, 1.5])
    g = np.cos(x) * (1 + 1e-5)                       # relative error 1e-5: 'ok'
    res = gradcheck(lambda p: float(np.sum(np.sin(p))), x, g)
    assert res.verdict == "ok" and res.passed
    res = gradcheck(lambda p: float(np.sum(np.sin(p))), x, g, tol=1e-6)
    assert not res.passed


def test_str_is_a_readable_table():
    params = make_params()
    text = str(gradcheck(loss_list, params, grads_list(params)))
    lines = text.splitlines()
    assert lines[0].startswith("gradcheck passed")
    assert "worst rel err" in lines[1] and "analytic" in lines[1] and "numeric" in lines[1]
    assert "params[0]" in lines[2] and "(4, 3)" in lines[2] and "10/12" in lines[2]
    assert "good" in text and "< 1e-7" in text
    assert "passed=True" in repr(gradcheck(loss_list, params, grads_list(params)))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call, exc, match", [
    (lambda: gradcheck(loss_list, make_params(), [np.zeros(3)] * 3), ValueError, "shape"),
    (lambda: gradcheck(loss_list, make_params(), [np.zeros((4, 3))]), ValueError, "1 grads for 3 params"),
    (lambda: gradcheck(lambda p: np.ones(2), np.ones(2), np.ones(2)), TypeError, "scalar"),
    (lambda: gradcheck(lambda p: 1.0, np.ones(2)), TypeError, r"\(loss, grads\)"),
    (lambda: gradcheck(lambda p: 1.0, {"a": np.ones(2)}, {"b": np.ones(2)}), ValueError, "not params"),
    (lambda: gradcheck(lambda p: 1.0, [np.ones(2)], {"a": np.ones(2)}), TypeError, "unnamed"),
    (lambda: gradcheck(lambda p: 1.0, np.ones(2), np.ones(2), eps=0), ValueError, "eps"),
    (lambda: gradcheck(lambda p: 1.0, np.ones(2), np.ones(2), n_samples=0), ValueError, "n_samples"),
    (lambda: gradcheck(lambda p: 1.0, np.ones(2, complex), np.ones(2)), TypeError, "complex"),
    (lambda: gradcheck(lambda p: 1.0, [], []), ValueError, "empty"),
    (lambda: gradcheck(lambda p: 1.0, 3.0, 1.0), TypeError, "params must be"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
