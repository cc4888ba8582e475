"""Parity with torch.optim (CPU): same params, same random grads, >= 20 steps;
params and every state buffer compared elementwise.

Tolerances. fastopt follows torch's single-tensor op order, but torch's
vectorised CPU kernels contract ``a + alpha * b`` (``add_(..., alpha=)``,
``addcmul_``, ``addcdiv_``, ``lerp_``) into fused multiply-adds, while fastopt
is built with ``-ffp-contract=off`` (bitwise equal to its NumPy reference). So
the two differ in the last bits of each step, and the difference accumulates.
Measured over 25 steps on the option sets below (3 seeds, values of order 1):
float64 max |diff| ~1e-15, i.e. at most 0.04 of (atol=1e-14 + rtol=1e-12*|x|);
float32 max |diff| ~7e-7, at most 0.27 of (atol=1e-6 + rtol=1e-5*|x|). The
tolerances below leave a margin of >= 7x over that, and are still far tighter
than any real error (a wrong bias correction or op is off by >= 1e-3).
"""
import copy

import numpy as np
import pytest

import fastopt

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
DTYPES = [np.float32, np.float64]
SHAPES = [(257,), (33, 7), (5,), ()]
STEPS = 20

PAIRS = {"SGD": (torch.optim.SGD, fastopt.SGD), "Adam": (torch.optim.Adam, fastopt.Adam),
         "AdamW": (torch.optim.AdamW, fastopt.AdamW)}

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, foreach=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.9), eps=1e-6)),
    ("Adam", dict(lr=0.05, betas=(0.0, 0.99))),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, betas=(0.45, 0.95), amsgrad=True, maximize=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, foreach=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.2, 0.8), maximize=True)),
    ("AdamW", dict(lr=0.03, betas=(0.9, 0.99), weight_decay=0.5, eps=1e-4)),
]

TORCH_ONLY = ("foreach", "fused")


def cfg_id(cfg):
    name, kw = cfg
    return name + "[" + ",".join(f"{k}={v}" for k, v in kw.items()) + "]"


def fastopt_kwargs(kw):
    return {k: v for k, v in kw.items() if k not in TORCH_ONLY}


def make_params(dtype, seed, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(s)).astype(dtype) for s in shapes]


def make_grads(dtype, rng, shapes=SHAPES):
    return [np.asarray(rng.standard_normal(s) * 0.5 + 0.1).astype(dtype) for s in shapes]


def torch_params(params):
    return [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in params]


def torch_step(opt, tparams, grads):
    for t, g in zip(tparams, grads):
        t.grad = torch.from_numpy(g.copy())
    opt.step()


def assert_parity(fo, params, to, tparams, dtype, what=""):
    tol = TOL[dtype]
    for i, (p, t) in enumerate(zip(params, tparams)):
        tn = t.detach().numpy()
        assert p.dtype == tn.dtype
        np.testing.assert_allclose(p, tn, err_msg=f"param {i} {what}", **tol)
        tstate = to.state[t]
        fstate = fo.state[i] if i in fo.state else {}
        assert {k for k in tstate if k != "step"} == {k for k in fstate if k != "step"}, f"state keys {what}"
        for k, v in tstate.items():
            if k == "step":
                assert fstate["step"] == int(v.item()), what
                continue
            assert fstate[k].dtype == p.dtype
            np.testing.assert_allclose(fstate[k], v.numpy(), err_msg=f"{k} of param {i} {what}", **tol)


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_matches_torch(cfg, dtype):
    name, kw = cfg
    tcls, fcls = PAIRS[name]
    params = make_params(dtype, 0)
    tparams = torch_params(params)
    to = tcls(tparams, **kw)
    fo = fcls(params, **fastopt_kwargs(kw))
    rng = np.random.default_rng(1)
    for _ in range(STEPS):
        g = make_grads(dtype, rng)
        torch_step(to, tparams, g)
        fo.step(g)
    assert_parity(fo, params, to, tparams, dtype, cfg_id(cfg))


def to_numpy_state_dict(sd):
    """A torch state_dict with every tensor converted to a NumPy array."""
    def conv(v):
        if isinstance(v, torch.Tensor):
            return v.detach().numpy().copy()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return conv(sd)


@pytest.mark.parametrize("cfg", [("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
                                 ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                 ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
                                 ("AdamW", dict(lr=0.01, betas=(0.3, 0.95)))], ids=cfg_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_load_torch_state_dict_and_continue(cfg, dtype):
    name, kw = cfg
    tcls, fcls = PAIRS[name]
    shapes = [(40,), (3, 4)]
    tparams = torch_params(make_params(dtype, 2, shapes))
    groups = [{"params": tparams[:1]}, {"params": tparams[1:], "lr": kw["lr"] * 3}]
    to = tcls(groups, **kw)
    rng = np.random.default_rng(3)
    for _ in range(5):
        torch_step(to, tparams, make_grads(dtype, rng, shapes))

    sd = to_numpy_state_dict(to.state_dict())
    params = [t.detach().numpy().copy() for t in tparams]
    # fastopt built with other hyperparameters: the loaded groups must win
    fo = fcls([{"params": params[:1]}, {"params": params[1:]}], **{**fastopt_kwargs(kw), "lr": 0.5})
    fo.load_state_dict(copy.deepcopy(sd))
    assert [g["lr"] for g in fo.param_groups] == [kw["lr"], kw["lr"] * 3]
    assert fo.param_groups[1]["params"][0] is params[1]
    for i, t in enumerate(tparams):  # the state is loaded exactly
        for k, v in to.state[t].items():
            if k == "step":
                assert fo.state[i]["step"] == 5
            else:
                assert fo.state[i][k].dtype == np.dtype(dtype)
                np.testing.assert_array_equal(fo.state[i][k], v.numpy())
    for _ in range(STEPS):
        g = make_grads(dtype, rng, shapes)
        torch_step(to, tparams, g)
        fo.step(g)
    assert_parity(fo, params, to, tparams, dtype, cfg_id(cfg))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_fastopt_state_dict_loads_into_torch(name):
    """The other direction: fastopt's state_dict (torch's layout) drives torch."""
    dtype = np.float64
    kw = dict(lr=0.05, momentum=0.9) if name == "SGD" else dict(lr=0.01, amsgrad=True)
    tcls, fcls = PAIRS[name]
    shapes = [(30,), (2, 5)]
    params = make_params(dtype, 4, shapes)
    fo = fcls(params, **kw)
    rng = np.random.default_rng(5)
    for _ in range(4):
        fo.step(make_grads(dtype, rng, shapes))
    sd = copy.deepcopy(fo.state_dict())
    for entry in sd["state"].values():
        for k, v in entry.items():
            entry[k] = torch.tensor(float(v)) if k == "step" else torch.from_numpy(v)
    tparams = torch_params(params)
    to = tcls(tparams, **kw)
    to.load_state_dict(sd)
    for _ in range(STEPS):
        g = make_grads(dtype, rng, shapes)
        torch_step(to, tparams, g)
        fo.step(g)
    assert_parity(fo, params, to, tparams, dtype, name)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_several_param_groups(name, dtype):
    tcls, fcls = PAIRS[name]
    if name == "SGD":
        defaults = dict(lr=0.05, momentum=0.9)
        opts = [dict(), dict(lr=0.2, weight_decay=0.1, nesterov=True), dict(momentum=0.0, maximize=True),
                dict(dampening=0.4, weight_decay=0.01)]
    else:
        defaults = dict(lr=0.01)
        opts = [dict(), dict(lr=0.1, betas=(0.3, 0.9)), dict(amsgrad=True, weight_decay=0.2),
                dict(maximize=True, eps=1e-3, betas=(0.0, 0.5))]
    shapes = [(17,), (4, 4), (9,), (), (3,), (8, 2), (1,)]
    split = [[0, 1], [2], [3, 4], [5, 6]]
    params = make_params(dtype, 6, shapes)
    tparams = torch_params(params)
    to = tcls([{"params": [tparams[i] for i in idx], **o} for idx, o in zip(split, opts)], **defaults)
    fo = fcls([{"params": [params[i] for i in idx], **o} for idx, o in zip(split, opts)], **defaults)
    rng = np.random.default_rng(7)
    order = [i for idx in split for i in idx]
    for t in range(STEPS):
        g = make_grads(dtype, rng, shapes)
        if t == 10:  # an lr change through param_groups, on both sides
            to.param_groups[1]["lr"] = fo.param_groups[1]["lr"] = 0.02
        torch_step(to, tparams, g)
        fo.step([g[i] for i in order])
    fparams = [params[i] for i in order]
    assert_parity(fo, fparams, to, [tparams[i] for i in order], dtype, name)
    for tg, fg in zip(to.param_groups, fo.param_groups):
        for k, v in fg.items():
            if k != "params":
                assert tg[k] == v, k
