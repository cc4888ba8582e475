"""Params and grads structures, param groups, lazily allocated state,
state_dict / load_state_dict / save / load, closures, hooks and ``opt.state``.

Every numerical check is bitwise against fastopt.reference (same op order,
same dtype) or against an uninterrupted fastopt run: no tolerances here.
"""
import copy
import os

import numpy as np
import pytest

import fastopt
from fastopt import reference
from cases import CASES, ONE_PER_RULE

DTYPES = [np.float32, np.float64]
SHAPES = [(5,), (3, 4), (), (17,)]

ADAM = next(c for c in CASES if c.name == "adam" and c.kwargs.get("amsgrad"))
SGD_MOM = next(c for c in CASES if c.name == "sgd" and c.kwargs.get("nesterov"))
#: ONE_PER_RULE plus SGD with momentum (ONE_PER_RULE's SGD keeps no state).
RESUME_CASES = ONE_PER_RULE + [SGD_MOM]


# ---------------------------------------------------------------- helpers
def rand(shapes, dtype, rng):
    return [np.asarray(rng.standard_normal(s)).astype(dtype) for s in shapes]


def grads_for(params, rng):
    return [np.asarray(rng.standard_normal(p.shape) * 0.5 + 0.1).astype(p.dtype) for p in params]


def assert_bitwise(a, b, what=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    assert a.tobytes() == b.tobytes(), f"{what}: values differ\n{a}\n{b}"


def assert_matches_ref(opt, params, refs, ref_params, keys):
    """params and every state buffer bitwise equal to the reference.

    refs: list of (reference optimizer, list of flat indices it owns)."""
    for i, (p, rp) in enumerate(zip(params, ref_params)):
        assert_bitwise(p, rp, f"param {i}")
    for ref, idx in refs:
        for j, i in enumerate(idx):
            rst = ref.state[j]
            if not rst:
                assert i not in opt.state, f"param {i} has state but never had a grad"
                continue
            st = opt.state[i]
            for k in keys:
                assert_bitwise(st[k], rst[k].reshape(st[k].shape), f"{k} of param {i}")
            if "step" in rst:
                assert st["step"] == rst["step"], f"step of param {i}"


def snapshot(opt, params):
    """Deep copies of params and of the state_dict (for bitwise comparison)."""
    return [p.copy() for p in params], copy.deepcopy(opt.state_dict())


def assert_same_snapshot(s1, s2):
    (p1, sd1), (p2, sd2) = s1, s2
    for i, (a, b) in enumerate(zip(p1, p2)):
        assert_bitwise(a, b, f"param {i}")
    assert sorted(sd1["state"]) == sorted(sd2["state"])
    for i in sd1["state"]:
        e1, e2 = sd1["state"][i], sd2["state"][i]
        assert sorted(e1) == sorted(e2), f"state keys of param {i}"
        for k in e1:
            if isinstance(e1[k], np.ndarray):
                assert_bitwise(e1[k], e2[k], f"{k} of param {i}")
            else:
                assert e1[k] == e2[k], f"{k} of param {i}"
    g1 = [{k: v for k, v in g.items()} for g in sd1["param_groups"]]
    g2 = [{k: v for k, v in g.items()} for g in sd2["param_groups"]]
    assert g1 == g2


# ---------------------------------------------------------------- params structures
def _structures(arrays):
    names = [f"w{i}" for i in range(len(arrays))]
    return {
        "list": (list(arrays), False),
        "tuple": (tuple(arrays), False),
        "pairs": (list(zip(names, arrays)), True),
        "dict": (dict(zip(names, arrays)), True),
        "group-of-list": ([{"params": list(arrays)}], False),
        "group-of-dict": ([{"params": dict(zip(names, arrays))}], True),
        "single-group-dict": ({"params": list(arrays)}, False),
    }


@pytest.mark.parametrize("kind", list(_structures([])))
@pytest.mark.parametrize("case", [SGD_MOM, ADAM], ids=lambda c: c.id)
def test_params_structures(kind, case, rng):
    params = rand(SHAPES, np.float64, rng)
    ref_params = [p.copy() for p in params]
    structure, named = _structures(params)[kind]
    opt = case.cls(structure, **case.kwargs)
    ref = case.ref(ref_params, **case.kwargs)
    assert len(opt.param_groups) == 1
    assert all(a is b for a, b in zip(opt.param_groups[0]["params"], params))
    if named:
        assert opt.param_groups[0]["param_names"] == [f"w{i}" for i in range(len(params))]
    else:
        assert "param_names" not in opt.param_groups[0]
    for _ in range(4):
        grads = grads_for(params, rng)
        ref.step(grads)
        opt.step(dict(zip([f"w{i}" for i in range(len(params))], grads)) if named else grads)
    assert_matches_ref(opt, params, [(ref, range(len(params)))], ref_params, case.state_keys)


@pytest.mark.parametrize("grads_kind", ["tuple", "generator", "dict"])
def test_grads_structures_give_identical_results(grads_kind, rng):
    base = rand(SHAPES, np.float32, rng)
    names = [f"p{i}" for i in range(len(base))]
    gs = [grads_for(base, rng) for _ in range(3)]
    results = []
    for kind in ("list", grads_kind):
        params = [p.copy() for p in base]
        opt = fastopt.Adam(list(zip(names, params)), lr=0.01)
        for g in gs:
            if kind == "list":
                opt.step(list(g))
            elif kind == "tuple":
                opt.step(tuple(g))
            elif kind == "generator":
                opt.step(x for x in g)
            else:
                opt.step(dict(zip(reversed(names), reversed(g))))  # order of keys is irrelevant
        results.append(params)
    for a, b, p0 in zip(*results, base):
        assert_bitwise(a, b)
        assert a.size == 0 or not np.array_equal(a, p0)


def test_dict_grads_across_named_groups(rng):
    a, b, c = rand([(4,), (3,), (2, 2)], np.float64, rng)
    ra, rb, rc = a.copy(), b.copy(), c.copy()
    opt = fastopt.SGD([{"params": {"a": a, "b": b}}, {"params": [("c", c)], "lr": 0.5}], lr=0.1, momentum=0.9)
    r1 = reference.SGD([ra, rb], lr=0.1, momentum=0.9)
    r2 = reference.SGD([rc], lr=0.5, momentum=0.9)
    for _ in range(3):
        ga, gb, gc = grads_for([a, b, c], rng)
        opt.step({"c": gc, "a": ga, "b": gb})
        r1.step([ga, gb])
        r2.step([gc])
    assert_matches_ref(opt, [a, b, c], [(r1, [0, 1]), (r2, [2])], [ra, rb, rc], ("momentum_buffer",))


# ---------------------------------------------------------------- param groups
def test_group_options_override_defaults(rng):
    a, b, c = rand([(6,), (5,), (3,)], np.float64, rng)
    refs_p = [a.copy(), b.copy(), c.copy()]
    opt = fastopt.Adam([{"params": [a, b], "lr": 0.5, "betas": (0.5, 0.9)},
                        {"params": [c], "weight_decay": 0.1}], lr=0.01, amsgrad=True)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.5 and g0["betas"] == (0.5, 0.9) and g0["weight_decay"] == 0.0 and g0["amsgrad"] is True
    assert g1["lr"] == 0.01 and g1["betas"] == (0.9, 0.999) and g1["weight_decay"] == 0.1 and g1["amsgrad"] is True
    assert opt.defaults["lr"] == 0.01
    r1 = reference.Adam(refs_p[:2], lr=0.5, betas=(0.5, 0.9), amsgrad=True)
    r2 = reference.Adam(refs_p[2:], lr=0.01, weight_decay=0.1, amsgrad=True)
    for _ in range(5):
        g = grads_for([a, b, c], rng)
        opt.step(g)
        r1.step(g[:2])
        r2.step(g[2:])
    assert_matches_ref(opt, [a, b, c], [(r1, [0, 1]), (r2, [2])], refs_p, ADAM.state_keys)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_change_lr_through_param_groups(case, rng):
    params = rand([(9,), (4, 3)], np.float32, rng)
    ref_params = [p.copy() for p in params]
    opt = case.cls(params, **case.kwargs)
    ref = case.ref(ref_params, **case.kwargs)
    lr0 = opt.param_groups[0]["lr"]
    for step in range(8):
        if step == 3:
            opt.param_groups[0]["lr"] = lr0 * 0.25
            ref.hyper["lr"] = lr0 * 0.25
        if step == 6:
            opt.param_groups[0]["lr"] = 0.0  # lr 0 is valid: params stay, state moves
            ref.hyper["lr"] = 0.0
        g = grads_for(params, rng)
        opt.step(g)
        ref.step(g)
    assert_matches_ref(opt, params, [(ref, range(2))], ref_params, case.state_keys)


def test_change_other_options_through_param_groups(rng):
    params = rand([(9,)], np.float64, rng)
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adam(params, lr=0.01)
    ref = reference.Adam(ref_params, lr=0.01)
    for step in range(6):
        if step == 2:
            opt.param_groups[0].update(betas=(0.8, 0.99), weight_decay=0.1, maximize=True)
            ref.hyper.update(betas=(0.8, 0.99), weight_decay=0.1, maximize=True)
        if step == 4:
            opt.param_groups[0]["decoupled_weight_decay"] = True
            ref.hyper["decoupled_weight_decay"] = True
        g = grads_for(params, rng)
        opt.step(g)
        ref.step(g)
    assert_matches_ref(opt, params, [(ref, [0])], ref_params, ("exp_avg", "exp_avg_sq"))


def _toggle_amsgrad(opt, ref, params, ref_params):
    opt.param_groups[0]["amsgrad"] = True
    ref.hyper["amsgrad"] = True
    for i, rp in enumerate(ref_params):
        ref.state[i]["max_exp_avg_sq"] = np.zeros_like(rp)


def _append_param(opt, ref, params, ref_params):
    # torch allows editing a group's params list; the new param starts at step 0
    new = np.linspace(-1, 1, 5)
    params.append(new)
    ref_params.append(new.copy())
    opt.param_groups[0]["params"].append(new)
    ref.params.append(ref_params[-1])
    ref.state.append({})


def _momentum_off_and_on(opt, ref, params, ref_params):
    # run with momentum 0 once: the buffers stay in the state, as in torch
    for o in (opt.param_groups[0], ref.hyper):
        o["momentum"] = 0.0


@pytest.mark.parametrize("change", ["amsgrad_on", "append_param", "momentum_off_on"])
def test_rebuilt_runtime_keeps_step_counts(change, rng):
    """Anything that rebuilds the cached runtime must keep each param's step
    (Adam's bias corrections, SGD's first-step momentum rule). No ``opt.state``
    access in between: that would sync the counts and hide the problem."""
    params = rand([(9,), (4,)], np.float64, rng)
    ref_params = [p.copy() for p in params]
    if change == "momentum_off_on":
        opt = fastopt.SGD(params, lr=0.05, momentum=0.9)
        ref = reference.SGD(ref_params, lr=0.05, momentum=0.9)
        keys = ("momentum_buffer",)
    else:
        opt = fastopt.Adam(params, lr=0.01)
        ref = reference.Adam(ref_params, lr=0.01)
        keys = ("exp_avg", "exp_avg_sq")
    edit = {"amsgrad_on": _toggle_amsgrad, "append_param": _append_param,
            "momentum_off_on": _momentum_off_and_on}[change]
    for t in range(7):
        if t == 3:
            edit(opt, ref, params, ref_params)
        if t == 4 and change == "momentum_off_on":
            opt.param_groups[0]["momentum"] = ref.hyper["momentum"] = 0.9
        g = grads_for(params, rng)
        opt.step(g)
        ref.step(g)
    assert_matches_ref(opt, params, [(ref, range(len(params)))], ref_params, keys)


@pytest.mark.parametrize("case", ONE_PER_RULE, ids=lambda c: c.id)
def test_add_param_group_after_steps(case, rng):
    if case.name == "noisy_sgd":
        pytest.skip("NoisySGD keys its noise on the flat param index, which two split references cannot reproduce")
    a, b, c = rand([(7,), (5,), (2, 3)], np.float64, rng)
    ra, rb, rc = a.copy(), b.copy(), c.copy()
    opt = case.cls([a], **case.kwargs)
    r1 = case.ref([ra], **case.kwargs)
    for _ in range(3):
        (g,) = grads_for([a], rng)
        opt.step([g])
        r1.step([g])
    new_lr = case.kwargs.get("lr", case.cls([np.zeros(1)]).defaults["lr"]) * 3
    opt.add_param_group({"params": [b, c], "lr": new_lr})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["lr"] == new_lr
    for k, v in case.kwargs.items():
        if k != "lr":
            assert opt.param_groups[1][k] == v, k
    assert 1 not in opt.state and 2 not in opt.state
    r2 = case.ref([rb, rc], **{**case.kwargs, "lr": new_lr})
    for _ in range(4):
        g = grads_for([a, b, c], rng)
        opt.step(g)
        r1.step(g[:1])
        r2.step(g[1:])
    assert_matches_ref(opt, [a, b, c], [(r1, [0]), (r2, [1, 2])], [ra, rb, rc], case.state_keys)
    if case.cls.step_in_state and case.state_keys:
        sd = opt.state_dict()
        assert [sd["state"][i]["step"] for i in range(3)] == [7, 4, 4]
        assert sd["param_groups"][1]["params"] == [1, 2]


# ---------------------------------------------------------------- None grads
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_none_grads_skip_params(case, rng):
    params = rand([(6,), (3, 2), (), (11,)], np.float64, rng)
    ref_params = [p.copy() for p in params]
    opt = case.cls(params, **case.kwargs)
    ref = case.ref(ref_params, **case.kwargs)
    # param 1 gets no grad on the very first step, param 3 none on steps 3 and 4
    patterns = [{1}, set(), {3}, {3, 0}, set(), {2}]
    for step, skip in enumerate(patterns):
        g = [None if i in skip else x for i, x in enumerate(grads_for(params, rng))]
        before = snapshot(opt, params)
        opt.step(g)
        ref.step(g)
        if step == 0:
            assert 1 not in opt.state_dict()["state"]  # no state for a param never stepped
            assert 1 not in opt.state
        for i in skip:  # the skipped params and their state are untouched
            assert_bitwise(params[i], before[0][i], f"skipped param {i}")
            if i in before[1]["state"]:
                for k, v in before[1]["state"][i].items():
                    after = opt.state_dict()["state"][i][k]
                    if isinstance(v, np.ndarray):
                        assert_bitwise(after, v, f"{k} of skipped param {i}")
                    else:
                        assert after == v
    assert_matches_ref(opt, params, [(ref, range(len(params)))], ref_params, case.state_keys)


def test_none_grads_in_dict_and_across_groups(rng):
    a, b, c = rand([(4,), (5,), (6,)], np.float32, rng)
    ra, rb, rc = a.copy(), b.copy(), c.copy()
    opt = fastopt.Adam([{"params": {"a": a, "b": b}}, {"params": {"c": c}, "lr": 0.1}], lr=0.01)
    r1 = reference.Adam([ra, rb], lr=0.01)
    r2 = reference.Adam([rc], lr=0.1)
    for skip in ("b", "c", "", "a"):
        ga, gb, gc = grads_for([a, b, c], rng)
        g = {"a": ga, "b": gb, "c": gc}
        if skip:
            g[skip] = None
        opt.step(g)
        r1.step([g["a"], g["b"]])
        r2.step([g["c"]])
    assert_matches_ref(opt, [a, b, c], [(r1, [0, 1]), (r2, [2])], [ra, rb, rc], ("exp_avg", "exp_avg_sq"))
    assert [opt.state[i]["step"] for i in range(3)] == [3, 3, 3]


# ---------------------------------------------------------------- dtypes and shapes
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_mixed_float32_float64_in_one_group(case, rng):
    shapes = [(5,), (7,), (3, 3), (), (40,)]
    dtypes = [np.float32, np.float64, np.float64, np.float32, np.float32]
    params = [rand([s], d, rng)[0] for s, d in zip(shapes, dtypes)]
    ref_params = [p.copy() for p in params]
    opt = case.cls(params, **case.kwargs)
    ref = case.ref(ref_params, **case.kwargs)
    for _ in range(5):
        g = grads_for(params, rng)
        opt.step(g)
        ref.step(g)
    assert_matches_ref(opt, params, [(ref, range(len(params)))], ref_params, case.state_keys)
    for i, (p, d) in enumerate(zip(params, dtypes)):
        assert p.dtype == d
        for k in case.state_keys:
            assert opt.state[i][k].dtype == d


@pytest.mark.parametrize("case", ONE_PER_RULE, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_zero_d_and_size_zero_params(case, dtype, rng):
    shapes = [(), (0,), (0, 3), (1,), ()]
    params = rand(shapes, dtype, rng)
    ref_params = [p.copy() for p in params]
    opt = case.cls(params, **case.kwargs)
    ref = case.ref(ref_params, **case.kwargs)
    for _ in range(4):
        g = grads_for(params, rng)
        opt.step(g)
        ref.step(g)
    assert_matches_ref(opt, params, [(ref, range(len(params)))], ref_params, case.state_keys)
    for i, p in enumerate(params):
        assert p.shape == shapes[i]
        for k in case.state_keys:
            assert opt.state[i][k].shape == shapes[i]
    assert params[0] is opt.param_groups[0]["params"][0]


def test_zero_d_param_is_updated(rng):
    p = np.array(1.0)
    opt = fastopt.SGD([p], lr=0.5)
    opt.step([np.array(2.0)])
    assert p.shape == () and float(p) == 0.0


@pytest.mark.parametrize("case", [c for c in CASES if c.state_keys], ids=lambda c: c.id)
def test_state_allocated_once_in_param_dtype(case, rng):
    params = rand([(5,), (3,)], np.float32, rng) + rand([(4,), ()], np.float64, rng)
    opt = case.cls(params, **case.kwargs)
    assert len(opt.state) == 0 and opt.state_dict()["state"] == {}
    opt.step(grads_for(params, rng))
    first = {i: {k: opt.state[i][k] for k in case.state_keys} for i in range(len(params))}
    for _ in range(5):
        opt.step(grads_for(params, rng))
        sd = opt.state_dict()
    for i, p in enumerate(params):
        assert set(case.state_keys) <= set(opt.state[i])
        for k in case.state_keys:
            buf = opt.state[i][k]
            assert buf is first[i][k], f"{k} of param {i} was reallocated"
            assert sd["state"][i][k] is buf
            assert buf.dtype == p.dtype and buf.shape == p.shape and buf.flags.c_contiguous
            assert not np.shares_memory(buf, p)


# ---------------------------------------------------------------- state_dict layout
def test_state_dict_layout_adam(rng):
    a, b, c = rand([(3,), (2, 2), ()], np.float32, rng)
    opt = fastopt.Adam([{"params": [a, b], "amsgrad": True}, {"params": [c], "lr": 0.1}], lr=0.01)
    for _ in range(3):
        opt.step(grads_for([a, b, c], rng))
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert list(sd["state"]) == [0, 1, 2]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert set(sd["state"][2]) == {"step", "exp_avg", "exp_avg_sq"}
    for i in range(3):
        assert sd["state"][i]["step"] == 3 and isinstance(sd["state"][i]["step"], int)
    assert sd["state"][1]["exp_avg"].shape == (2, 2)
    groups = sd["param_groups"]
    assert [g["params"] for g in groups] == [[0, 1], [2]]
    assert groups[0]["amsgrad"] is True and groups[1]["amsgrad"] is False
    assert groups[1]["lr"] == 0.1 and groups[0]["lr"] == 0.01
    for g in groups:
        assert set(g) >= {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                          "decoupled_weight_decay"}
        assert "param_names" not in g
    # the original groups keep their arrays: the state_dict holds indices only
    assert opt.param_groups[0]["params"][0] is a


def test_state_dict_layout_sgd(rng):
    a, b = rand([(3,), (4,)], np.float64, rng)
    opt = fastopt.SGD({"x": a, "y": b}, lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.step(grads_for([a, b], rng))
    sd = opt.state_dict()
    assert list(sd["state"]) == [0, 1]
    for i in range(2):
        assert set(sd["state"][i]) == {"momentum_buffer"}, "torch's SGD state has no 'step'"
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["param_names"] == ["x", "y"]
    plain = fastopt.SGD([a.copy()], lr=0.1)
    plain.step([np.ones(3)])
    assert plain.state_dict()["state"] == {}, "SGD without momentum keeps no state"


# ---------------------------------------------------------------- resume
def _resume_setup(case, dtype, rng):
    shapes = [(7,), (3, 5), (), (33,)]
    params = rand(shapes, dtype, rng)

    def make(ps):
        return case.cls([{"params": ps[:2]}, {"params": ps[2:], "lr": case.kwargs.get("lr", case.cls([np.zeros(1)]).defaults["lr"]) * 2}], **case.kwargs)

    # grads: param 1 skipped at step 1 and param 3 at step 3, so per-param
    # step counts differ at the save point
    grads = []
    for t in range(9):
        g = grads_for(params, rng)
        if t == 0:
            g[1] = None
        if t == 2:
            g[3] = None
        grads.append(g)
    return params, make, grads


@pytest.mark.parametrize("case", RESUME_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_state_dict_round_trip_bitwise(case, dtype, rng):
    params, make, grads = _resume_setup(case, dtype, rng)
    opt = make(params)
    n = 4
    for g in grads[:n]:
        opt.step(g)
    saved_params = [p.copy() for p in params]
    saved = copy.deepcopy(opt.state_dict())
    for g in grads[n:]:
        opt.step(g)
    want = snapshot(opt, params)

    params2 = [p.copy() for p in saved_params]
    opt2 = make(params2)
    opt2.load_state_dict(saved)
    for i, entry in saved["state"].items():
        for k, v in entry.items():
            if isinstance(v, np.ndarray):
                assert not np.shares_memory(opt2.state[i][k], v), "load must copy the saved arrays"
    for g in grads[n:]:
        opt2.step(g)
    assert_same_snapshot(want, snapshot(opt2, params2))


@pytest.mark.parametrize("case", RESUME_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_save_load_round_trip_bitwise(case, dtype, rng, tmp_path):
    params, make, grads = _resume_setup(case, dtype, rng)
    opt = make(params)
    n = 4
    for g in grads[:n]:
        opt.step(g)
    saved_params = [p.copy() for p in params]
    path = tmp_path / "opt.npz"
    fastopt.save(path, opt)
    assert os.listdir(tmp_path) == ["opt.npz"], "save left temporary files behind"
    for g in grads[n:]:
        opt.step(g)
    want = snapshot(opt, params)

    params2 = [p.copy() for p in saved_params]
    opt2 = make(params2)
    sd = fastopt.load(str(path), opt2)
    assert set(sd) == {"state", "param_groups"}
    assert opt2.param_groups[0]["params"][0] is params2[0]
    assert opt2.param_groups[1]["lr"] == case.kwargs.get("lr", case.cls([np.zeros(1)]).defaults["lr"]) * 2
    if "betas" in opt2.param_groups[0]:
        assert isinstance(opt2.param_groups[0]["betas"], tuple)
    for g in grads[n:]:
        opt2.step(g)
    assert_same_snapshot(want, snapshot(opt2, params2))
    assert os.listdir(tmp_path) == ["opt.npz"]


def test_load_state_dict_casts_buffers_to_param_dtype(rng):
    (a,) = rand([(5,)], np.float64, rng)
    src = fastopt.Adam([a], lr=0.1)
    src.step(grads_for([a], rng))
    sd = copy.deepcopy(src.state_dict())
    b = a.astype(np.float32)
    dst = fastopt.Adam([b], lr=0.1)
    dst.load_state_dict(sd)
    for k in ("exp_avg", "exp_avg_sq"):
        assert dst.state[0][k].dtype == np.float32
        np.testing.assert_array_equal(dst.state[0][k], sd["state"][0][k].astype(np.float32))
    dst.step(grads_for([b], rng))
    assert b.dtype == np.float32 and dst.state[0]["step"] == 2


def test_load_without_optimizer_returns_state_dict(rng, tmp_path):
    (a,) = rand([(4,)], np.float32, rng)
    opt = fastopt.Adam([a], lr=0.1)
    opt.step(grads_for([a], rng))
    fastopt.save(tmp_path / "s.npz", opt)
    sd = fastopt.load(tmp_path / "s.npz")
    assert sd["state"][0]["step"] == 1
    assert_bitwise(sd["state"][0]["exp_avg"], opt.state[0]["exp_avg"])
    assert sd["param_groups"][0]["params"] == [0]


def test_save_is_atomic(rng, tmp_path, monkeypatch):
    (a,) = rand([(6,)], np.float64, rng)
    opt = fastopt.Adam([a], lr=0.1)
    opt.step(grads_for([a], rng))
    path = tmp_path / "ckpt.npz"
    fastopt.save(path, opt)
    original = path.read_bytes()

    opt.step(grads_for([a], rng))

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        fastopt.save(path, opt)
    assert path.read_bytes() == original, "a failed save damaged the existing file"
    assert os.listdir(tmp_path) == ["ckpt.npz"], "a failed save left a temporary file"
    with pytest.raises(OSError):
        fastopt.save(tmp_path / "new.npz", opt)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    monkeypatch.undo()

    assert fastopt.load(path)["state"][0]["step"] == 1
    fastopt.save(path, opt)  # a successful save replaces the file
    assert fastopt.load(path)["state"][0]["step"] == 2
    assert os.listdir(tmp_path) == ["ckpt.npz"]


# ---------------------------------------------------------------- closure and hooks
def test_step_with_closure_returns_loss(rng):
    a, b = rand([(4,), (3,)], np.float64, rng)
    ra, rb = a.copy(), b.copy()
    g = grads_for([a, b], rng)
    calls = []

    def closure():
        calls.append(1)
        return 2.5, g

    opt = fastopt.Adam([a, b], lr=0.1)
    ref = fastopt.Adam([ra, rb], lr=0.1)
    assert opt.step(closure=closure) == 2.5
    assert calls == [1]
    assert ref.step(g) is None
    assert_bitwise(a, ra)
    assert_bitwise(b, rb)
    with pytest.raises(TypeError, match="closure"):
        opt.step(closure=lambda: g)


def test_step_hooks(rng):
    (a,) = rand([(5,)], np.float64, rng)
    before = a.copy()
    opt = fastopt.SGD([a], lr=1.0)
    seen = []

    def pre(o, args, kwargs):
        assert o is opt
        seen.append(("pre", a.copy()))
        return ([np.full(5, 2.0)],), kwargs  # replace the grads

    def post(o, args, kwargs):
        seen.append(("post", a.copy()))

    h_pre = opt.register_step_pre_hook(pre)
    h_post = opt.register_step_post_hook(post)
    opt.step([np.zeros(5)])
    assert [s[0] for s in seen] == ["pre", "post"]
    assert_bitwise(seen[0][1], before)  # pre runs before the update
    assert_bitwise(seen[1][1], before - 2.0)  # post after; the pre hook's grads were used
    h_pre.remove()
    h_post.remove()
    h_post.remove()  # removing twice is harmless
    opt.step([np.ones(5)])
    assert len(seen) == 2
    assert_bitwise(a, before - 3.0)


def test_state_dict_hooks(rng):
    (a,) = rand([(3,)], np.float32, rng)
    opt = fastopt.Adam([a], lr=0.1)
    opt.step(grads_for([a], rng))
    log = []
    h1 = opt.register_state_dict_pre_hook(lambda o: log.append("pre"))

    def post(o, sd):
        log.append("post")
        sd = dict(sd)
        sd["extra"] = 1
        return sd

    h2 = opt.register_state_dict_post_hook(post)
    sd = opt.state_dict()
    assert log == ["pre", "post"] and sd["extra"] == 1
    h1.remove()
    h2.remove()
    sd = copy.deepcopy(opt.state_dict())
    assert log == ["pre", "post"] and "extra" not in sd

    def load_pre(o, state_dict):
        log.append("load_pre")
        state_dict = copy.deepcopy(state_dict)
        state_dict["param_groups"][0]["lr"] = 0.25
        return state_dict

    h3 = opt.register_load_state_dict_pre_hook(load_pre)
    h4 = opt.register_load_state_dict_post_hook(lambda o: log.append(("load_post", o.param_groups[0]["lr"])))
    opt.load_state_dict(sd)
    assert log[2:] == ["load_pre", ("load_post", 0.25)]
    assert opt.param_groups[0]["lr"] == 0.25
    h3.remove()
    h4.remove()
    opt.load_state_dict(sd)
    assert len(log) == 4 and opt.param_groups[0]["lr"] == 0.1


def test_hook_prepend_order(rng):
    (a,) = rand([(3,)], np.float32, rng)
    opt = fastopt.SGD([a], lr=0.1)
    log = []
    opt.register_state_dict_pre_hook(lambda o: log.append(1))
    opt.register_state_dict_pre_hook(lambda o: log.append(0), prepend=True)
    opt.state_dict()
    assert log == [0, 1]


# ---------------------------------------------------------------- opt.state
def test_state_by_array_and_by_index(rng):
    a, b = rand([(4,), (3,)], np.float64, rng)
    opt = fastopt.Adam([a, b], lr=0.1)
    with pytest.raises(KeyError):
        opt.state[0]
    opt.step(grads_for([a, b], rng))
    assert opt.state[a] is opt.state[0]
    assert opt.state[b] is opt.state[1]
    assert opt.state[np.int64(1)] is opt.state[b]
    assert list(opt.state) == [0, 1] and len(opt.state) == 2
    with pytest.raises(KeyError):
        opt.state[a.copy()]


@pytest.mark.parametrize("edit", ["inplace", "replace", "step"])
def test_editing_state_takes_effect(edit, rng):
    a, b = rand([(6,), (4,)], np.float64, rng)
    ra, rb = a.copy(), b.copy()
    opt = fastopt.Adam([a, b], lr=0.05, amsgrad=True)
    ref = reference.Adam([ra, rb], lr=0.05, amsgrad=True)
    for t in range(6):
        if t == 3:
            if edit == "inplace":
                opt.state[a]["exp_avg"][...] = 0.5
                ref.state[0]["exp_avg"][...] = 0.5
            elif edit == "replace":
                opt.state[1]["exp_avg_sq"] = np.full(4, 2.0)
                ref.state[1]["exp_avg_sq"] = np.full(4, 2.0)
            else:
                opt.state[0]["step"] = 0
                ref.state[0]["step"] = 0
        g = grads_for([a, b], rng)
        opt.step(g)
        ref.step(g)
    assert_matches_ref(opt, [a, b], [(ref, [0, 1])], [ra, rb], ADAM.state_keys)


def test_state_dict_entry_replaced_after_holding_it(rng):
    (a,) = rand([(4,)], np.float64, rng)
    (ra,) = [a.copy()]
    opt = fastopt.Adam([a], lr=0.1)
    ref = reference.Adam([ra], lr=0.1)
    g = grads_for([a], rng)
    opt.step(g)
    ref.step(g)
    st = opt.state[0]           # held, as torch users do
    g = grads_for([a], rng)
    opt.step(g)
    ref.step(g)
    st["exp_avg"] = np.zeros(4)  # torch: takes effect at the next step
    ref.state[0]["exp_avg"] = np.zeros(4)
    g = grads_for([a], rng)
    opt.step(g)
    ref.step(g)
    assert_bitwise(a, ra)
