"""fastopt.functional: the stateless rules give the classes' results bit for bit,
take per-param step counts, and validate everything before writing."""
import copy

import numpy as np
import pytest

import fastopt
from fastopt import functional as F
from cases import CASES

DTYPES = [np.float32, np.float64]
SHAPES = [(5,), (3, 4), (), (0,), (40,)]


def params_for(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(s)).astype(dtype) for s in shapes]


def grads_for(params, rng):
    return [np.asarray(rng.standard_normal(p.shape) * 0.5 + 0.1).astype(p.dtype) for p in params]


def bitwise(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def functional_kwargs(case):
    kw = dict(case.kwargs)
    if "betas" in kw:
        kw["beta1"], kw["beta2"] = kw.pop("betas")
    return kw


#: The rules this file drives generically; the other rules' functional forms
#: are tested with their rules (tests/test_torch_rules_*.py, test_rules_*.py).
FCASES = [c for c in CASES if c.name in ("sgd", "adam", "adamw")]


class FunctionalRunner:
    """Holds the buffers a framework would own and calls the functional rule."""

    def __init__(self, case, params, garbage=False):
        self.case, self.params = case, params
        self.kw = functional_kwargs(case)
        fill = np.nan if garbage else 0.0
        if case.name == "sgd":
            self.bufs = {"momentum_buffer": [np.full_like(p, fill) for p in params]}
        else:
            self.bufs = {k: [np.zeros_like(p) for p in params] for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}

    def step(self, grads, step, params=None, idx=None):
        params = self.params if params is None else params
        pick = (lambda lst: lst) if idx is None else (lambda lst: [lst[i] for i in idx])
        if self.case.name == "sgd":
            mb = pick(self.bufs["momentum_buffer"]) if self.kw.get("momentum", 0) else None
            F.sgd_(params, grads, mb, step=step, **self.kw)
        else:
            fn = F.adam_ if self.case.name == "adam" else F.adamw_
            fn(params, grads, pick(self.bufs["exp_avg"]), pick(self.bufs["exp_avg_sq"]),
               pick(self.bufs["max_exp_avg_sq"]) if self.kw.get("amsgrad") else None, step=step, **self.kw)


@pytest.mark.parametrize("case", FCASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_functional_matches_class_bitwise(case, dtype, rng):
    pa, pb = params_for(SHAPES, dtype), params_for(SHAPES, dtype)
    opt = case.cls(pa, **case.kwargs)
    fn = FunctionalRunner(case, pb, garbage=True)  # SGD's first step overwrites the buffers
    for t in range(1, 21):
        g = grads_for(pa, rng)
        opt.step(g)
        fn.step(g, t)
    for i, (a, b) in enumerate(zip(pa, pb)):
        assert bitwise(a, b), f"param {i}"
    for k in case.state_keys:
        for i in range(len(pa)):
            assert bitwise(opt.state[i][k], fn.bufs[k][i]), f"{k} of param {i}"


def test_functional_mixed_dtypes_and_threads(rng, parallel):
    case = next(c for c in CASES if c.name == "adam" and c.kwargs.get("amsgrad"))
    shapes = [(20000,), (7,), (3, 3)]
    pa = params_for(shapes, np.float32)
    pa[1] = pa[1].astype(np.float64)
    pb = [p.copy() for p in pa]
    opt = case.cls(pa, n_threads=1, **case.kwargs)
    fn = FunctionalRunner(case, pb)
    fn.kw["n_threads"] = 2
    for t in range(1, 6):
        g = grads_for(pa, rng)
        opt.step(g)
        fn.step(g, t)
    assert all(bitwise(a, b) for a, b in zip(pa, pb))


def test_adamw_defaults_match_class(rng):
    pa, pb = params_for([(9,)], np.float64), params_for([(9,)], np.float64)
    opt = fastopt.AdamW(pa)
    m, v = [np.zeros(9)], [np.zeros(9)]
    for t in range(1, 6):
        g = grads_for(pa, rng)
        opt.step(g)
        F.adamw_(pb, g, m, v, step=t)
    assert bitwise(pa[0], pb[0])


@pytest.mark.parametrize("case", [c for c in FCASES if c.state_keys], ids=lambda c: c.id)
def test_per_param_step_lists(case, rng):
    """Param 1 misses the first two steps, so the params run at different step
    counts: the class's per-param counts vs a step list."""
    shapes = [(6,), (4,), (3,)]
    pa, pb = params_for(shapes, np.float64), params_for(shapes, np.float64)
    opt = case.cls(pa, **case.kwargs)
    fn = FunctionalRunner(case, pb)
    for t in range(1, 8):
        g = grads_for(pa, rng)
        if t <= 2:
            opt.step([g[0], None, g[2]])
            fn.step([g[0], g[2]], t, params=[pb[0], pb[2]], idx=[0, 2])
        else:
            opt.step(g)
            steps = [t, t - 2, t]
            fn.step(g, np.array(steps) if t % 2 else tuple(steps))
    for i, (a, b) in enumerate(zip(pa, pb)):
        assert bitwise(a, b), f"param {i}"
    for k in case.state_keys:
        for i in range(3):
            assert bitwise(opt.state[i][k], fn.bufs[k][i]), f"{k} of param {i}"
    if case.cls.step_in_state:
        assert [opt.state[i]["step"] for i in range(3)] == [7, 5, 7]


def test_step_list_equals_separate_calls(rng):
    pa, pb = params_for([(5,), (5,)], np.float32), params_for([(5,), (5,)], np.float32)
    ma, va = [np.zeros(5, np.float32) for _ in pa], [np.zeros(5, np.float32) for _ in pa]
    mb, vb = copy.deepcopy(ma), copy.deepcopy(va)
    g = grads_for(pa, rng)
    F.adam_(pa, g, ma, va, step=[3, 11], lr=0.1)
    F.adam_(pb[:1], g[:1], mb[:1], vb[:1], step=3, lr=0.1)
    F.adam_(pb[1:], g[1:], mb[1:], vb[1:], step=np.int64(11), lr=0.1)
    assert all(bitwise(a, b) for a, b in zip(pa + ma + va, pb + mb + vb))
    # and a different step count really changes the result
    pc, mc, vc = params_for([(5,)], np.float32), [np.zeros(5, np.float32)], [np.zeros(5, np.float32)]
    F.adam_(pc, g[1:], mc, vc, step=3, lr=0.1)
    assert not bitwise(pc[0], pa[1])


# ---------------------------------------------------------------- validation
def _adam_setup():
    params = [np.linspace(-1, 1, 4), np.linspace(0, 1, 3)]
    grads = [np.full(4, 0.5), np.full(3, -0.5)]
    m = [np.zeros(4), np.zeros(3)]
    v = [np.zeros(4), np.zeros(3)]
    vmax = [np.zeros(4), np.zeros(3)]
    return params, grads, m, v, vmax


def _ro(a):
    a = a.copy()
    a.flags.writeable = False
    return a


ADAM_ERRORS = [
    # (id, mutate(params, grads, m, v, vmax, kw) -> args tuple, kw; exception, regex)
    ("grads-too-few", lambda p, g, m, v, x, kw: ((p, g[:1], m, v), kw), ValueError, r"grads: expected 2 arrays, got 1"),
    ("exp_avgs-too-many", lambda p, g, m, v, x, kw: ((p, g, m + [np.zeros(2)], v), kw), ValueError,
     r"exp_avg: expected 2 arrays, got 3"),
    ("exp_avg_sqs-too-few", lambda p, g, m, v, x, kw: ((p, g, m, v[:1]), kw), ValueError,
     r"exp_avg_sq: expected 2 arrays, got 1"),
    ("amsgrad-without-max", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "amsgrad": True}), ValueError,
     r"max_exp_avg_sqs: required when amsgrad=True"),
    ("max-too-few", lambda p, g, m, v, x, kw: ((p, g, m, v, x[:1]), {**kw, "amsgrad": True}), ValueError,
     r"max_exp_avg_sq: expected 2 arrays"),
    ("step-0", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "step": 0}), ValueError,
     r"step: step numbers are 1-based and must be >= 1"),
    ("step-negative-in-list", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "step": [3, -1]}), ValueError,
     r"step: .*>= 1"),
    ("step-list-length", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "step": [1, 2, 3]}), ValueError,
     r"step: expected an int or 2 counts, got 3"),
    ("grad-is-param", lambda p, g, m, v, x, kw: ((p, [g[0], p[1]], m, v), kw), ValueError,
     r"grads for params\[1\]: shares memory with params\[1\]"),
    ("grad-is-state", lambda p, g, m, v, x, kw: ((p, [v[0], g[1]], m, v), kw), ValueError,
     r"grads for params\[0\]: shares memory with exp_avg_sq\[0\]"),
    ("exp_avg-is-param", lambda p, g, m, v, x, kw: ((p, g, [p[0], m[1]], v), kw), ValueError,
     r"exp_avg\[0\]: shares memory with params\[0\]|params\[0\]: shares memory with exp_avg\[0\]"),
    ("exp_avg-is-exp_avg_sq", lambda p, g, m, v, x, kw: ((p, g, m, [v[0], m[1]]), kw), ValueError,
     r"exp_avg(_sq)?\[1\]: shares memory with exp_avg(_sq)?\[1\]"),
    ("param-twice", lambda p, g, m, v, x, kw: (([p[0], p[0]], [g[0], g[0]], [m[0], m[1][:0]], v), kw), ValueError,
     r"params\[1\]: shares memory with params\[0\]"),
    ("buffer-shape", lambda p, g, m, v, x, kw: ((p, g, [m[0], np.zeros(4)], v), kw), ValueError,
     r"exp_avg\[1\]: shape/dtype \(4,\)/float64 does not match params\[1\] \(3,\)/float64"),
    ("buffer-dtype", lambda p, g, m, v, x, kw: ((p, g, m, [v[0], np.zeros(3, np.float32)]), kw), ValueError,
     r"exp_avg_sq\[1\]: shape/dtype"),
    ("buffer-read-only", lambda p, g, m, v, x, kw: ((p, g, [_ro(m[0]), m[1]], v), kw), ValueError,
     r"exp_avg\[0\]: must be writeable"),
    ("buffer-strided", lambda p, g, m, v, x, kw: ((p, g, m, [v[0], np.zeros(6)[::2]]), kw), ValueError,
     r"exp_avg_sq\[1\]: must be C-contiguous"),
    ("param-int", lambda p, g, m, v, x, kw: (([p[0], np.arange(3)], g, m, v), kw), TypeError,
     r"params\[1\]: dtype must be float32 or float64"),
    ("grad-none", lambda p, g, m, v, x, kw: ((p, [g[0], None], m, v), kw), ValueError,
     r"grads: entry for params\[1\] is None"),
    ("grad-shape", lambda p, g, m, v, x, kw: ((p, [g[0], np.zeros(4)], m, v), kw), ValueError,
     r"grads for params\[1\]: shape \(4,\)"),
    ("grad-dtype", lambda p, g, m, v, x, kw: ((p, [g[0], g[1].astype(np.float32)], m, v), kw), TypeError,
     r"grads for params\[1\]: dtype float32"),
    ("lr<0", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "lr": -1.0}), ValueError, r"lr: expected a value >= 0"),
    ("beta1=1", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "beta1": 1.0}), ValueError, r"betas\[0\]"),
    ("beta2<0", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "beta2": -0.5}), ValueError, r"betas\[1\]"),
    ("eps=0", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "eps": 0.0}), ValueError, r"eps"),
    ("n_threads=0", lambda p, g, m, v, x, kw: ((p, g, m, v), {**kw, "n_threads": 0}), ValueError, r"n_threads"),
]


@pytest.mark.parametrize("fn", [F.adam_, F.adamw_], ids=["adam_", "adamw_"])
@pytest.mark.parametrize("mutate,exc,regex", [r[1:] for r in ADAM_ERRORS], ids=[r[0] for r in ADAM_ERRORS])
def test_adam_validation_writes_nothing(fn, mutate, exc, regex):
    params, grads, m, v, vmax = _adam_setup()
    # a few valid steps first so that every buffer holds non-zero values
    for t in (1, 2):
        fn(params, grads, m, v, vmax, step=t, lr=0.1, amsgrad=True)
    everything = params + grads + m + v + vmax
    before = [a.copy() for a in everything]
    args, kw = mutate(params, grads, m, v, vmax, dict(step=3, lr=0.1))
    with pytest.raises(exc, match=regex):
        fn(*args, **kw)
    for i, (a, b) in enumerate(zip(everything, before)):
        assert bitwise(a, b), f"array {i} was written by a rejected call"
    fn(params, grads, m, v, vmax, step=3, lr=0.1, amsgrad=True)  # still usable
    assert not bitwise(params[0], before[0])


SGD_ERRORS = [
    ("momentum-without-buffers", dict(momentum=0.9), None, ValueError, r"momentum_buffers: required when momentum != 0"),
    ("buffers-too-few", dict(momentum=0.9), "short", ValueError, r"momentum_buffer: expected 2 arrays, got 1"),
    ("buffer-is-param", dict(momentum=0.9), "alias", ValueError, r"shares memory"),
    ("nesterov-without-momentum", dict(nesterov=True), "ok", ValueError, r"nesterov"),
    ("nesterov-with-dampening", dict(momentum=0.9, nesterov=True, dampening=0.1), "ok", ValueError, r"nesterov"),
    ("momentum<0", dict(momentum=-0.1), "ok", ValueError, r"momentum: expected a value >= 0"),
    ("weight_decay<0", dict(weight_decay=-0.1), "ok", ValueError, r"weight_decay"),
    ("maximize-str", dict(maximize="yes"), "ok", TypeError, r"maximize: expected a bool"),
    ("step-0", dict(momentum=0.9, step=0), "ok", ValueError, r"step: .*>= 1"),
]


@pytest.mark.parametrize("kw,bufs,exc,regex", [r[1:] for r in SGD_ERRORS], ids=[r[0] for r in SGD_ERRORS])
def test_sgd_validation_writes_nothing(kw, bufs, exc, regex):
    params = [np.linspace(-1, 1, 4), np.linspace(0, 1, 3)]
    grads = [np.full(4, 0.5), np.full(3, -0.5)]
    mb = [np.ones(4), np.ones(3)]
    buffers = {None: None, "ok": mb, "short": mb[:1], "alias": [params[0], mb[1]]}[bufs]
    before = [a.copy() for a in params + mb]
    with pytest.raises(exc, match=regex):
        F.sgd_(params, grads, buffers, **{"lr": 0.1, "step": 2, **kw})
    assert all(bitwise(a, b) for a, b in zip(params + mb, before))


def test_sgd_without_momentum_needs_no_buffers():
    p = np.ones(3)
    F.sgd_([p], [np.full(3, 2.0)], lr=0.25)
    np.testing.assert_array_equal(p, np.full(3, 0.5))


def test_fractional_step_rejected():
    p, m, v = [np.ones(3)], [np.zeros(3)], [np.zeros(3)]
    with pytest.raises((TypeError, ValueError), match=r"step"):
        F.adam_(p, [np.ones(3)], m, v, step=[2.5])
