"""torch parity for the rules-b optimizers that torch has: Rprop and ASGD.

Params and every state buffer are compared elementwise after 25 steps of
random gradients, float64 (rtol 1e-10) and float32 (rtol 1e-5), with torch
running on copies of the same arrays.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastopt  # noqa: E402

SHAPES = [(7,), (33, 3), (1023,), ()]
STEPS = 25


def _grads(rng, dtype):
    return [np.asarray(rng.standard_normal(s) * 0.5 + 0.1, dtype=dtype) for s in SHAPES]


def _run(fo_cls, th_cls, kwargs, dtype, rng, grad_fn=None, steps=STEPS):
    params = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    tparams = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    opt = fo_cls(params, **kwargs)
    topt = th_cls(tparams, **kwargs)
    for k in range(steps):
        grads = grad_fn(rng, dtype, k) if grad_fn else _grads(rng, dtype)
        opt.step(grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g.copy())
        topt.step()
    return opt, params, topt, tparams


def _compare(opt, params, topt, tparams, keys, rtol, atol):
    diff = 0.0
    for i, (p, tp) in enumerate(zip(params, tparams)):
        t = tp.detach().numpy()
        np.testing.assert_allclose(p, t, rtol=rtol, atol=atol, err_msg=f"param {i}")
        diff = max(diff, float(np.max(np.abs(p - t), initial=0)))
        st, tst = opt.state[i], topt.state[tp]
        assert int(st["step"]) == int(tst["step"].item())
        for key in keys:
            a, b = np.asarray(st[key]), tst[key].detach().numpy()
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{key} of param {i}")
            diff = max(diff, float(np.max(np.abs(a - b), initial=0)))
    return diff


TOL = {np.float64: (1e-10, 1e-12), np.float32: (1e-5, 1e-6)}

RPROP = [
    dict(),
    dict(lr=0.05, maximize=True),
    dict(lr=0.01, etas=(0.3, 1.7), step_sizes=(1e-3, 0.2)),
]


def _sign_heavy(rng, dtype, k):
    # Small, sign-flipping gradients with exact zeros: exercises all three factors.
    out = []
    for s in SHAPES:
        g = rng.choice([-1.0, 0.0, 1.0], size=s) * rng.random(s)
        out.append(np.asarray(g, dtype=dtype))
    return out


@pytest.mark.parametrize("kwargs", RPROP, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("grads", ["normal", "signs"])
def test_rprop_matches_torch(kwargs, dtype, grads, rng):
    opt, params, topt, tparams = _run(fastopt.Rprop, torch.optim.Rprop, kwargs, dtype, rng,
                                      _sign_heavy if grads == "signs" else None)
    rtol, atol = TOL[dtype]
    _compare(opt, params, topt, tparams, ("prev", "step_size"), rtol, atol)


ASGD = [
    dict(),
    dict(lr=0.05, t0=5, weight_decay=0.1),
    dict(lr=0.1, lambd=0.01, alpha=0.5, t0=3, maximize=True),
    dict(lr=0.05, t0=-2.5, weight_decay=0.05, maximize=True),
]


@pytest.mark.parametrize("kwargs", ASGD, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_asgd_matches_torch(kwargs, dtype, rng):
    opt, params, topt, tparams = _run(fastopt.ASGD, torch.optim.ASGD, kwargs, dtype, rng)
    rtol, atol = TOL[dtype]
    _compare(opt, params, topt, tparams, ("ax", "eta", "mu"), rtol, atol)
    for a, tp in zip(opt.averaged_params(), tparams):
        np.testing.assert_allclose(a, topt.state[tp]["ax"].numpy(), rtol=rtol, atol=atol)


def test_asgd_state_dict_round_trip_with_torch(rng):
    # A torch state_dict loads into fastopt (eta/mu are recomputed from step) and continues identically.
    params = [np.asarray(rng.standard_normal(s), dtype=np.float64) for s in SHAPES]
    tparams = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    topt = torch.optim.ASGD(tparams, lr=0.05, t0=3)
    for _ in range(6):
        for tp in tparams:
            tp.grad = torch.from_numpy(np.asarray(rng.standard_normal(tp.shape), dtype=np.float64))
        topt.step()
    sd = topt.state_dict()
    params = [tp.detach().numpy().copy() for tp in tparams]
    opt = fastopt.ASGD(params, lr=0.05, t0=3)
    opt.load_state_dict({"state": {k: {n: (v.numpy() if n == "ax" else v) for n, v in st.items()}
                                   for k, st in sd["state"].items()},
                         "param_groups": [{k: v for k, v in g.items() if k in ("params", "lr", "lambd", "alpha",
                                                                               "t0", "weight_decay", "maximize")}
                                          for g in sd["param_groups"]]})
    for _ in range(5):
        grads = _grads(rng, np.float64)
        opt.step(grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g.copy())
        topt.step()
    _compare(opt, params, topt, tparams, ("ax", "eta", "mu"), *TOL[np.float64])
