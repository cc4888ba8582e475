"""torch parity for Adafactor: params and every state buffer (row_var/col_var
of params with 2+ dims, variance of 0-d/1-d params, step) after 20+ steps,
float64 tight and float32 to float32 rounding (torch's norms and means are
float32 reductions, fastopt's are double)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastopt  # noqa: E402

SHAPES = [(), (1,), (7,), (300,), (5, 4), (33, 17), (1, 9), (9, 1), (3, 6, 11), (2, 2, 3, 5)]
OPTIONS = [
    dict(),
    dict(lr=0.5),                                  # rho = 1/sqrt(t) after step 4
    dict(lr=0.05, weight_decay=0.1),
    dict(maximize=True),
    dict(eps=(1e-3, 1e-2)),                        # eps1 given (guards den and V)
    dict(eps=(None, 0.0), d=1.5),
    dict(beta2_decay=-0.3),                        # w >= 0.5 for the first 10 steps
    dict(beta2_decay=-1.0, d=3.0, weight_decay=0.2, maximize=True, eps=(1e-5, 1e-4), lr=0.02),
]


def run(dtype, kw, steps=25, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    params = [np.asarray(rng.standard_normal(s) * scale).astype(dtype) for s in SHAPES]
    tparams = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
    opt = fastopt.Adafactor(params, **kw)
    topt = torch.optim.Adafactor(tparams, **kw)
    for _ in range(steps):
        grads = [np.asarray(rng.standard_normal(s) * 0.5 + 0.1).astype(dtype) for s in SHAPES]
        opt.step(grads)
        for t, g in zip(tparams, grads):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    return params, opt, tparams, topt


def compare(params, opt, tparams, topt, rtol, atol):
    worst = 0.0
    for i, (p, t) in enumerate(zip(params, tparams)):
        tp = t.detach().numpy()
        np.testing.assert_allclose(p, tp, rtol=rtol, atol=atol, err_msg=f"param {i} {p.shape}")
        worst = max(worst, float(np.max(np.abs(p - tp), initial=0.0)))
        tst, st = topt.state[t], opt.state[i]
        assert set(tst) == set(st), (i, set(tst), set(st))
        assert int(tst["step"]) == st["step"]
        for k, v in tst.items():
            if k == "step":
                continue
            assert st[k].shape == tuple(v.shape) and st[k].dtype == p.dtype
            np.testing.assert_allclose(st[k], v.numpy(), rtol=rtol, atol=atol, err_msg=f"{k} of param {i}")
    return worst


@pytest.mark.parametrize("kw", OPTIONS, ids=str)
def test_adafactor_matches_torch_float64(kw):
    compare(*run(np.float64, kw), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", OPTIONS, ids=str)
def test_adafactor_matches_torch_float32(kw):
    compare(*run(np.float32, kw), rtol=1e-5, atol=1e-6)


def test_adafactor_tiny_params_use_eps2():
    # RMS(p) < eps2: alpha is eps2 * rho (the max picks eps2).
    compare(*run(np.float64, dict(eps=(None, 1e-2)), scale=1e-4), rtol=1e-10, atol=1e-14)


def test_adafactor_loads_torch_state_dict_and_continues():
    rng = np.random.default_rng(3)
    params = [np.asarray(rng.standard_normal(s)) for s in SHAPES]
    tparams = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
    topt = torch.optim.Adafactor(tparams, lr=0.05, weight_decay=0.1)

    def grads():
        return [np.asarray(rng.standard_normal(s) * 0.5 + 0.1) for s in SHAPES]

    def tstep(gs):
        for t, g in zip(tparams, gs):
            t.grad = torch.from_numpy(g.copy())
        topt.step()

    for _ in range(5):
        tstep(grads())
    mine = [t.detach().numpy().copy() for t in tparams]
    opt = fastopt.Adafactor(mine, lr=0.05, weight_decay=0.1)
    opt.load_state_dict(topt.state_dict())
    for _ in range(20):
        gs = grads()
        opt.step(gs)
        tstep(gs)
    compare(mine, opt, tparams, topt, rtol=1e-10, atol=1e-12)
