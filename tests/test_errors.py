"""Rejected inputs: a table of (input, exception type, message regex).

Constructor errors must name the argument and the param / group. Step errors
must be raised before a single byte is written: for every rejected step the
params and the whole state (buffers, step counts, and on the very first step
the absence of any state) are bitwise unchanged, and a following valid step
gives exactly what it gives on an optimizer that never saw the bad step. The
bad input sits in the SECOND param group, so a first group updated before
the check would show.
"""
import copy
import math

import numpy as np
import pytest

import fastopt


def f64(*shape):
    return np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)


def f32(*shape):
    return f64(*shape).astype(np.float32)


# ---------------------------------------------------------------- constructor table
def _views_of_one_buffer():
    buf = f64(10)
    return [buf[:6], buf[4:]]


def _same_array_in_two_groups():
    a = f64(3)
    return [{"params": [f64(2)]}, {"params": [a, f64(4)]}, {"params": [a]}]


def _overlap_across_groups():
    buf = f64(10)
    return [{"params": [buf[:5]]}, {"params": [buf[3:8]]}]


def _read_only():
    a = f64(3)
    a.flags.writeable = False
    return [f64(2), a]


def _non_contiguous():
    return [f64(2), f64(10)[::2]]


def _fortran():
    return [f64(2), np.asfortranarray(f64(3, 4))]


CTOR_ERRORS = [
    # (id, optimizer class, params factory, kwargs, exception, regex)
    ("list-param", fastopt.SGD, lambda: [f64(2), [1.0, 2.0]], {}, TypeError,
     r"params\[1\]: expected a numpy\.ndarray, got list"),
    ("scalar-param", fastopt.Adam, lambda: [1.5], {}, TypeError, r"params\[0\]: expected a numpy\.ndarray"),
    ("int-param", fastopt.SGD, lambda: [f64(2), np.arange(3)], {}, TypeError,
     r"params\[1\]: dtype must be float32 or float64, got int64"),
    ("complex-param", fastopt.Adam, lambda: [f64(2), np.ones(3, np.complex128)], {}, TypeError,
     r"params\[1\]: dtype must be float32 or float64, got complex128"),
    ("float16-param", fastopt.Adam, lambda: [np.ones(3, np.float16)], {}, TypeError,
     r"params\[0\]: dtype must be float32 or float64, got float16"),
    ("bool-param", fastopt.SGD, lambda: [np.ones(3, bool)], {}, TypeError, r"params\[0\]: dtype"),
    ("non-contiguous", fastopt.SGD, _non_contiguous, {}, ValueError, r"params\[1\]: must be C-contiguous"),
    ("fortran-2d", fastopt.Adam, _fortran, {}, ValueError, r"params\[1\]: must be C-contiguous"),
    ("read-only", fastopt.AdamW, _read_only, {}, ValueError, r"params\[1\]: must be writeable"),
    ("overlapping-views", fastopt.SGD, _views_of_one_buffer, {}, ValueError,
     r"params\[1\]: shares memory with params\[0\]"),
    ("same-array-twice", fastopt.Adam, lambda: (lambda a: [a, f64(2), a])(f64(3)), {}, ValueError,
     r"params\[2\]: the same array appears twice \(params\[0\]\)"),
    ("same-array-two-groups", fastopt.Adam, _same_array_in_two_groups, {}, ValueError,
     r"params\[3\]: the same array appears twice \(params\[1\]\)"),
    ("overlap-across-groups", fastopt.SGD, _overlap_across_groups, {}, ValueError,
     r"params\[1\]: shares memory with params\[0\]"),
    ("same-array-two-names", fastopt.Adam, lambda: (lambda a: {"a": a, "b": a})(f64(3)), {}, ValueError,
     r"param 'b': the same array appears twice \(param 'a'\)"),
    ("empty-list", fastopt.SGD, lambda: [], {}, ValueError, r"params: optimizer got an empty parameter list"),
    ("empty-iterator", fastopt.Adam, lambda: iter([]), {}, ValueError, r"empty parameter list"),
    ("single-ndarray", fastopt.SGD, lambda: f64(3), {}, TypeError, r"single ndarray"),
    ("not-iterable", fastopt.SGD, lambda: 3.0, {}, TypeError, r"params: expected an iterable"),
    ("mixed-dicts-and-arrays", fastopt.SGD, lambda: [{"params": [f64(2)]}, f64(3)], {}, TypeError,
     r"params: mix of param-group dicts and arrays"),
    ("group-without-params", fastopt.SGD, lambda: [{"params": [f64(2)]}, {"lr": 0.1}], {}, ValueError,
     r"param group 1: missing the 'params' key"),
    ("named-and-unnamed-groups", fastopt.SGD, lambda: [{"params": {"a": f64(2)}}, {"params": [f64(3)]}], {},
     ValueError, r"param group 1: all param groups must be named or all unnamed"),
    ("duplicate-name", fastopt.Adam, lambda: [{"params": {"a": f64(2)}}, {"params": [("a", f64(3))]}], {},
     ValueError, r"param group 1: parameter name 'a' is used twice"),
    ("non-str-name", fastopt.Adam, lambda: {1: f64(2)}, {}, TypeError, r"parameter names must be str"),
    # hyperparameters
    ("lr<0", fastopt.SGD, lambda: [f64(2)], dict(lr=-0.1), ValueError, r"lr: expected a value >= 0, got -0\.1"),
    ("lr-nan", fastopt.Adam, lambda: [f64(2)], dict(lr=math.nan), ValueError, r"lr: expected a finite number"),
    ("lr-inf", fastopt.AdamW, lambda: [f64(2)], dict(lr=math.inf), ValueError, r"lr: expected a finite number"),
    ("lr-str", fastopt.SGD, lambda: [f64(2)], dict(lr="0.1"), TypeError, r"lr: expected a real number, got str"),
    ("lr-none", fastopt.Adam, lambda: [f64(2)], dict(lr=None), TypeError, r"lr: expected a real number"),
    ("beta1=1", fastopt.Adam, lambda: [f64(2)], dict(betas=(1.0, 0.9)), ValueError,
     r"betas\[0\]: expected a value in \[0, 1\)"),
    ("beta2=1", fastopt.Adam, lambda: [f64(2)], dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
    ("beta1<0", fastopt.AdamW, lambda: [f64(2)], dict(betas=(-0.1, 0.9)), ValueError, r"betas\[0\]"),
    ("beta2-nan", fastopt.Adam, lambda: [f64(2)], dict(betas=(0.9, math.nan)), ValueError, r"betas\[1\]"),
    ("betas-len1", fastopt.Adam, lambda: [f64(2)], dict(betas=(0.9,)), ValueError, r"betas: expected 2 values"),
    ("betas-float", fastopt.Adam, lambda: [f64(2)], dict(betas=0.9), TypeError, r"betas: expected a tuple"),
    ("eps=0", fastopt.Adam, lambda: [f64(2)], dict(eps=0.0), ValueError, r"eps: expected a value > 0"),
    ("eps<0", fastopt.AdamW, lambda: [f64(2)], dict(eps=-1e-8), ValueError, r"eps: expected a value > 0"),
    ("adam-wd<0", fastopt.Adam, lambda: [f64(2)], dict(weight_decay=-0.1), ValueError, r"weight_decay: expected"),
    ("adamw-wd<0", fastopt.AdamW, lambda: [f64(2)], dict(weight_decay=-0.1), ValueError, r"weight_decay"),
    ("sgd-wd<0", fastopt.SGD, lambda: [f64(2)], dict(weight_decay=-1e-4), ValueError, r"weight_decay"),
    ("momentum<0", fastopt.SGD, lambda: [f64(2)], dict(momentum=-0.5), ValueError, r"momentum: expected a value >= 0"),
    ("dampening-inf", fastopt.SGD, lambda: [f64(2)], dict(dampening=math.inf), ValueError, r"dampening"),
    ("nesterov-no-momentum", fastopt.SGD, lambda: [f64(2)], dict(nesterov=True), ValueError,
     r"nesterov: Nesterov momentum requires momentum > 0 and dampening = 0"),
    ("nesterov-dampening", fastopt.SGD, lambda: [f64(2)], dict(nesterov=True, momentum=0.9, dampening=0.1),
     ValueError, r"nesterov"),
    ("n_threads=0", fastopt.SGD, lambda: [f64(2)], dict(n_threads=0), ValueError, r"n_threads: expected a positive"),
    ("n_threads<0", fastopt.Adam, lambda: [f64(2)], dict(n_threads=-2), ValueError, r"n_threads"),
    ("n_threads-float", fastopt.Adam, lambda: [f64(2)], dict(n_threads=2.0), ValueError, r"n_threads"),
    ("n_threads-bool", fastopt.SGD, lambda: [f64(2)], dict(n_threads=True), ValueError, r"n_threads"),
    ("n_threads-str", fastopt.AdamW, lambda: [f64(2)], dict(n_threads="2"), ValueError, r"n_threads"),
    ("amsgrad-str", fastopt.Adam, lambda: [f64(2)], dict(amsgrad="yes"), TypeError, r"amsgrad: expected a bool"),
    ("amsgrad-2", fastopt.AdamW, lambda: [f64(2)], dict(amsgrad=2), TypeError, r"amsgrad: expected a bool"),
    ("maximize-none", fastopt.SGD, lambda: [f64(2)], dict(maximize=None), TypeError, r"maximize: expected a bool"),
    ("nesterov-str", fastopt.SGD, lambda: [f64(2)], dict(nesterov="no", momentum=0.9), TypeError, r"nesterov"),
    ("decoupled-float", fastopt.Adam, lambda: [f64(2)], dict(decoupled_weight_decay=0.5), TypeError,
     r"decoupled_weight_decay: expected a bool"),
    # an invalid option in the second group is reported with the group's index
    ("group1-lr", fastopt.Adam, lambda: [{"params": [f64(2)]}, {"params": [f64(3)], "lr": -1.0}], {}, ValueError,
     r"lr: expected a value >= 0, got -1\.0 \(param group 1\)"),
    ("group1-betas", fastopt.Adam, lambda: [{"params": [f64(2)]}, {"params": [f64(3)], "betas": (0.9, 2)}], {},
     ValueError, r"betas\[1\].*\(param group 1\)"),
    ("group1-momentum", fastopt.SGD, lambda: [{"params": [f64(2)]}, {"params": [f64(3)], "momentum": -1}], {},
     ValueError, r"momentum.*\(param group 1\)"),
]


@pytest.mark.parametrize("cls,factory,kwargs,exc,regex", [r[1:] for r in CTOR_ERRORS],
                         ids=[r[0] for r in CTOR_ERRORS])
def test_constructor_rejects(cls, factory, kwargs, exc, regex):
    with pytest.raises(exc, match=regex):
        cls(factory(), **kwargs)


def test_constructor_rejects_empty_dict():
    with pytest.raises(ValueError, match=r"empty parameter list"):
        fastopt.Adam({})


def test_constructor_rejects_non_bool_flush_denormals():
    with pytest.raises(TypeError, match=r"flush_denormals"):
        fastopt.Adam([f64(2)], flush_denormals="no")


def test_numpy_bool_flag_accepted():
    p = f64(3)
    opt = fastopt.Adam([p], amsgrad=np.True_, maximize=np.False_)
    opt.step([np.ones(3)])
    assert "max_exp_avg_sq" in opt.state[0]


def test_numpy_int_n_threads_accepted():
    p = f64(3)
    fastopt.Adam([p], n_threads=np.int64(2)).step([np.ones(3)])


def test_numpy_scalar_hyperparameters_accepted():
    p, q = f64(3), f64(3)
    fastopt.Adam([p], lr=np.float32(0.5), betas=(np.float64(0.9), 0.99), eps=np.float64(1e-6)).step([np.ones(3)])
    fastopt.Adam([q], lr=0.5, betas=(0.9, 0.99), eps=1e-6).step([np.ones(3)])
    assert np.array_equal(p, q)


def test_lr_zero_and_int_hyperparameters_accepted():
    p = f64(3)
    before = p.copy()
    fastopt.SGD([p], lr=0, momentum=1, nesterov=True).step([np.ones(3)])
    assert np.array_equal(p, before)


@pytest.mark.parametrize("bad,exc,regex", [
    ({"params": [f64(2)], "lr": -1}, ValueError, r"lr: .*\(param group 1\)"),
    ({"params": [np.arange(3)]}, TypeError, r"params\[1\]: dtype"),
    ({"params": "self"}, ValueError, r"params\[1\]: the same array appears twice \(params\[0\]\)"),
    ({"params": {"x": f64(2)}}, ValueError, r"param group 1: all param groups must be named"),
])
def test_add_param_group_rejects_and_leaves_optimizer_unchanged(bad, exc, regex):
    p = f64(4)
    opt = fastopt.Adam([p], lr=0.1)
    opt.step([np.ones(4)])
    if bad["params"] == "self":
        bad = {"params": [p]}
    before = p.copy(), copy.deepcopy(opt.state_dict())
    with pytest.raises(exc, match=regex):
        opt.add_param_group(bad)
    assert len(opt.param_groups) == 1
    assert np.array_equal(p, before[0])
    opt.step([np.ones(4)])
    assert opt.state[0]["step"] == 2


# ---------------------------------------------------------------- step table
#
# The optimizer under test has two groups, the second holding two halves of one
# buffer (adjacent, not overlapping: allowed):
#   group 0: params[0] (6,) f64, params[1] (3, 4) f32
#   group 1: params[2] (6,) f64, params[3] (6,) f64   (views of one 12-element buffer)
# Named variant: the same arrays as 'a', 'b', 'c', 'd'.

NAMES = ["a", "b", "c", "d"]
RULES = {
    "sgd": (fastopt.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01), "momentum_buffer"),
    "adam": (fastopt.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01), "exp_avg"),
}


def build(rule, named=False):
    cls, kw, _ = RULES[rule]
    buf = f64(12) + 0.5
    params = [f64(6), f32(3, 4), buf[:6], buf[6:]]
    if named:
        groups = [{"params": dict(zip(NAMES[:2], params[:2]))},
                  {"params": dict(zip(NAMES[2:], params[2:])), "lr": kw["lr"] / 2}]
    else:
        groups = [{"params": params[:2]}, {"params": params[2:], "lr": kw["lr"] / 2}]
    return cls(groups, **kw), params, buf


def good_grads(params, t):
    return [np.cos(np.arange(p.size) + t).reshape(p.shape).astype(p.dtype) for p in params]


def _set(gi, key, value):
    def make(opt, params, buf, g):
        opt.param_groups[gi][key] = value
        return g
    return make


def _grad(i, fn):
    def make(opt, params, buf, g):
        g = list(g)
        g[i] = fn(opt, params, buf, g)
        return g
    return make


# (id, rules, named, make_bad(opt, params, buf, grads) -> grads, needs_state, exception, regex)
STEP_ERRORS = [
    ("too-few-grads", ("sgd", "adam"), False, lambda o, p, b, g: g[:3], False, ValueError,
     r"grads: expected 4 arrays \(one per param\), got 3"),
    ("too-many-grads", ("adam",), False, lambda o, p, b, g: g + [g[0]], False, ValueError,
     r"grads: expected 4 arrays.*got 5"),
    ("grads-ndarray", ("sgd",), False, lambda o, p, b, g: g[0], False, TypeError, r"grads: .*single ndarray"),
    ("grads-not-iterable", ("adam",), False, lambda o, p, b, g: 1.0, False, TypeError, r"grads: expected a list"),
    ("no-grads", ("sgd",), False, lambda o, p, b, g: None, False, TypeError, r"pass grads"),
    ("wrong-shape", ("sgd", "adam"), False, _grad(3, lambda o, p, b, g: np.zeros((2, 3))), False, ValueError,
     r"grads for params\[3\]: shape \(2, 3\) does not match the param's \(6,\)"),
    ("wrong-shape-0d", ("adam",), False, _grad(2, lambda o, p, b, g: np.float64(1.0)), False, ValueError,
     r"grads for params\[2\]: shape \(\) does not match"),
    ("wrong-dtype", ("sgd", "adam"), False, _grad(3, lambda o, p, b, g: g[3].astype(np.float32)), False,
     TypeError, r"grads for params\[3\]: dtype float32 does not match the param's float64"),
    ("int-grad", ("adam",), False, _grad(2, lambda o, p, b, g: np.arange(6)), False, TypeError,
     r"grads for params\[2\]: dtype int64"),
    ("str-grad", ("sgd",), False, _grad(3, lambda o, p, b, g: "abc"), False, TypeError, r"grads for params\[3\]"),
    ("grad-is-param", ("sgd", "adam"), False, _grad(3, lambda o, p, b, g: p[3]), False, ValueError,
     r"grads for params\[3\]: shares memory with params\[3\], which the step writes"),
    ("grad-is-other-param", ("sgd", "adam"), False, _grad(3, lambda o, p, b, g: p[0]), False, ValueError,
     r"grads for params\[3\]: shares memory with params\[0\]"),
    ("grad-straddles-params", ("adam",), False, _grad(3, lambda o, p, b, g: b[3:9]), False, ValueError,
     r"grads for params\[3\]: shares memory with params\[[23]\]"),
    ("grad-read-only-view-of-param", ("sgd",), False,
     _grad(2, lambda o, p, b, g: np.lib.stride_tricks.as_strided(p[2], writeable=False)), False, ValueError,
     r"grads for params\[2\]: shares memory with params\[2\]"),
    ("grad-is-state-buffer", ("sgd", "adam"), False,
     _grad(2, lambda o, p, b, g: o.state[0][RULES["adam" if isinstance(o, fastopt.Adam) else "sgd"][2]]), True,
     ValueError, r"grads for params\[2\]: shares memory with state '(exp_avg|momentum_buffer)' of params\[0\]"),
    ("grad-is-exp-avg-sq", ("adam",), False, _grad(3, lambda o, p, b, g: o.state[3]["max_exp_avg_sq"]), True,
     ValueError, r"grads for params\[3\]: shares memory with state 'max_exp_avg_sq' of params\[3\]"),
    # named params and dict grads
    ("dict-grads-unnamed-params", ("sgd", "adam"), False, lambda o, p, b, g: dict(zip(NAMES, g)), False,
     TypeError, r"grads: a dict of grads needs named params"),
    ("dict-missing-key", ("sgd", "adam"), True, lambda o, p, b, g: dict(zip(NAMES[:3], g[:3])), False, ValueError,
     r"grads: missing the grad of param 'd'"),
    ("dict-extra-key", ("adam",), True, lambda o, p, b, g: {**dict(zip(NAMES, g)), "zz": g[0]}, False,
     ValueError, r"grads: 'zz' is not the name of a param"),
    ("dict-wrong-shape", ("sgd",), True, lambda o, p, b, g: {**dict(zip(NAMES, g)), "d": np.zeros(5)}, False,
     ValueError, r"grads for param 'd': shape \(5,\)"),
    ("dict-alias", ("adam",), True, lambda o, p, b, g: {**dict(zip(NAMES, g)), "c": p[2]}, False,
     ValueError, r"grads for param 'c': shares memory with param 'c'"),
    # hyperparameters made invalid through param_groups (checked again at every step)
    ("group1-lr<0", ("sgd", "adam"), False, _set(1, "lr", -0.1), False, ValueError,
     r"lr: expected a value >= 0, got -0\.1 \(param group 1\)"),
    ("group1-lr-nan", ("adam",), False, _set(1, "lr", math.nan), False, ValueError,
     r"lr: expected a finite number.*\(param group 1\)"),
    ("group1-lr-str", ("sgd",), False, _set(1, "lr", "big"), False, TypeError, r"lr: .*\(param group 1\)"),
    ("group1-betas", ("adam",), False, _set(1, "betas", (0.9, 1.0)), False, ValueError,
     r"betas\[1\]: .*\(param group 1\)"),
    ("group1-eps", ("adam",), False, _set(1, "eps", 0.0), False, ValueError, r"eps: .*\(param group 1\)"),
    ("group1-wd", ("sgd", "adam"), False, _set(1, "weight_decay", -1.0), False, ValueError,
     r"weight_decay: .*\(param group 1\)"),
    ("group1-amsgrad", ("adam",), False, _set(1, "amsgrad", "on"), False, TypeError, r"amsgrad: .*\(param group 1\)"),
    ("group1-momentum", ("sgd",), False, _set(1, "momentum", -0.9), False, ValueError,
     r"momentum: .*\(param group 1\)"),
    ("group1-nesterov-dampening", ("sgd",), False,
     lambda o, p, b, g: (o.param_groups[1].update(nesterov=True, dampening=0.5), g)[1], False, ValueError,
     r"nesterov: .*\(param group 1\)"),
    ("group0-maximize", ("sgd", "adam"), False, _set(0, "maximize", None), False, TypeError,
     r"maximize: .*\(param group 0\)"),
]

STEP_CASES = [
    pytest.param(rule, named, make, needs_state, exc, regex, when, id=f"{name}-{rule}-{when}")
    for name, rules, named, make, needs_state, exc, regex in STEP_ERRORS
    for rule in rules
    for when in ("first-step", "after-steps")
    if not (needs_state and when == "first-step")
]


def _state_snapshot(opt):
    return copy.deepcopy(opt.state_dict())


def _assert_same_state(sd1, sd2):
    assert sorted(sd1["state"]) == sorted(sd2["state"])
    for i, e1 in sd1["state"].items():
        e2 = sd2["state"][i]
        assert sorted(e1) == sorted(e2)
        for k, v in e1.items():
            if isinstance(v, np.ndarray):
                assert v.dtype == e2[k].dtype and v.tobytes() == e2[k].tobytes(), f"state {k!r} of param {i} changed"
            else:
                assert v == e2[k], f"state {k!r} of param {i} changed: {v} -> {e2[k]}"


@pytest.mark.parametrize("rule,named,make_bad,needs_state,exc,regex,when", STEP_CASES)
def test_rejected_step_changes_nothing(rule, named, make_bad, needs_state, exc, regex, when):
    opt, params, buf = build(rule, named)
    twin, twin_params, _ = build(rule, named)  # takes only the valid steps
    n_before = 0 if when == "first-step" else 2
    for t in range(n_before):
        for o, ps in ((opt, params), (twin, twin_params)):
            o.step(good_grads(ps, t))
    groups_before = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    params_before = [p.copy() for p in params]
    state_before = _state_snapshot(opt)

    bad = make_bad(opt, params, buf, good_grads(params, n_before))
    with pytest.raises(exc, match=regex):
        opt.step(bad)

    for i, (p, q) in enumerate(zip(params, params_before)):
        assert p.tobytes() == q.tobytes(), f"params[{i}] changed by a rejected step"
    _assert_same_state(state_before, _state_snapshot(opt))
    if when == "first-step":
        assert opt.state_dict()["state"] == {}
        assert len(opt.state) == 0

    # undo any hyperparameter edit, then a valid step behaves as if the bad one never happened
    for g, before in zip(opt.param_groups, groups_before):
        g.update(before)
    for t in range(n_before, n_before + 2):
        opt.step(good_grads(params, t))
        twin.step(good_grads(twin_params, t))
    for i, (p, q) in enumerate(zip(params, twin_params)):
        assert p.tobytes() == q.tobytes(), f"params[{i}] differs from a run without the rejected step"
    _assert_same_state(_state_snapshot(twin), _state_snapshot(opt))


@pytest.mark.parametrize("rule", list(RULES))
def test_rejected_step_with_none_grads_changes_nothing(rule):
    """The slow path (some grads None) checks everything before writing too."""
    opt, params, buf = build(rule)
    opt.step(good_grads(params, 0))
    before = [p.copy() for p in params], _state_snapshot(opt)
    g = good_grads(params, 1)
    g[1] = None
    g[3] = g[3][:5]
    with pytest.raises(ValueError, match=r"grads for params\[3\]: shape"):
        opt.step(g)
    assert all(p.tobytes() == q.tobytes() for p, q in zip(params, before[0]))
    _assert_same_state(before[1], _state_snapshot(opt))


@pytest.mark.parametrize("rule", list(RULES))
def test_load_state_dict_rejects_and_changes_nothing(rule):
    opt, params, buf = build(rule)
    opt.step(good_grads(params, 0))
    sd = _state_snapshot(opt)
    before = _state_snapshot(opt), [dict(g) for g in opt.param_groups]

    bad_shape = copy.deepcopy(sd)
    key = RULES[rule][2]
    bad_shape["state"][3][key] = np.zeros(5)
    bad_shape["param_groups"][0]["lr"] = 123.0  # must not be applied either
    bad_groups = copy.deepcopy(sd)
    bad_groups["param_groups"] = bad_groups["param_groups"][:1]
    bad_count = copy.deepcopy(sd)
    bad_count["param_groups"][1]["params"] = [2]
    bad_lr = copy.deepcopy(sd)
    bad_lr["param_groups"][1]["lr"] = -1.0
    bad_key = copy.deepcopy(sd)
    bad_key["state"][7] = bad_key["state"][0]
    for bad, regex in [(bad_shape, rf"'{key}' of params\[3\] has shape \(5,\)"),
                       (bad_groups, r"has 1 param groups, the optimizer has 2"),
                       (bad_count, r"param group 1 has 1 params"),
                       (bad_lr, r"lr: .*\(param group 1\)"),
                       (bad_key, r"state key 7"),
                       ({"state": {}}, r"expected a mapping with 'state' and 'param_groups'")]:
        with pytest.raises(ValueError, match=regex):
            opt.load_state_dict(bad)
        _assert_same_state(before[0], _state_snapshot(opt))
        assert [dict(g) for g in opt.param_groups] == before[1]


@pytest.mark.parametrize("where", [0, 1, 17, 150, 299])
@pytest.mark.parametrize("kind", ["param", "state", "shape", "dtype", "strided"])
def test_bind_checks_every_grad_of_many(where, kind):
    """Plan.bind's fast path (hinted overlap search, prefetching ahead) must
    still find a bad grad anywhere in a long list, and take the slow path for
    a grad it has to copy."""
    params = [f32(7) for _ in range(300)]
    opt = fastopt.Adam(params)
    grads = [np.full(7, 1e-2, np.float32) for _ in range(300)]
    opt.step(grads)
    before = [p.copy() for p in params]
    bad = list(grads)
    if kind == "param":
        bad[where] = params[(where + 1) % 300]
        exc, regex = ValueError, "shares memory with params"
    elif kind == "state":
        bad[where] = opt.state[params[(where * 7) % 300]]["exp_avg_sq"]
        exc, regex = ValueError, "shares memory with state 'exp_avg_sq'"
    elif kind == "shape":
        bad[where] = np.zeros((7, 1), np.float32)
        exc, regex = ValueError, "shape"
    elif kind == "dtype":
        bad[where] = np.zeros(7, np.float64)
        exc, regex = TypeError, "dtype"
    else:
        strided = np.full(14, 1e-2, np.float32)[::2]
        bad[where] = strided
        twin = fastopt.Adam([p.copy() for p in params])
        twin.load_state_dict(copy.deepcopy(opt.state_dict()))
        opt.step(bad)  # copied to a contiguous temporary: accepted, same result
        good = list(bad)
        good[where] = np.ascontiguousarray(strided)
        twin.step(good)
        for p, q in zip(params, twin.param_groups[0]["params"]):
            np.testing.assert_array_equal(p, q)
        return
    with pytest.raises(exc, match=fr"grads for params\[{where}\]: {regex}"):
        opt.step(bad)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p, b)
