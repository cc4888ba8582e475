"""torch.optim parity for Adagrad, RMSprop, Adadelta, Adamax, NAdam and RAdam.

fastopt and torch (single-tensor path, ``foreach=False``) start from the same
params and see the same gradients for N_STEPS steps; afterwards every param,
every state buffer and the step count must agree elementwise: to 1e-10
relative in float64 and float32 rounding in float32. The params must also
have moved well beyond the tolerance, so that agreement means something.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastopt  # noqa: E402

N_STEPS = 25
SHAPES = [(7,), (33, 3), (1,), ()]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}

# (fastopt class, torch class, kwargs for both, state buffers to compare)
TORCH_CASES = [
    (fastopt.Adagrad, "Adagrad", dict(lr=0.1), ("sum",)),
    (fastopt.Adagrad, "Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1), ("sum",)),
    (fastopt.Adagrad, "Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-4, maximize=True), ("sum",)),
    (fastopt.Adagrad, "Adagrad",
     dict(lr=0.05, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6, maximize=True),
     ("sum",)),
    (fastopt.RMSprop, "RMSprop", dict(lr=0.01), ("square_avg",)),
    (fastopt.RMSprop, "RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, maximize=True), ("square_avg",)),
    (fastopt.RMSprop, "RMSprop", dict(lr=0.01, momentum=0.9, eps=1e-4), ("square_avg", "momentum_buffer")),
    (fastopt.RMSprop, "RMSprop", dict(lr=0.01, centered=True), ("square_avg", "grad_avg")),
    (fastopt.RMSprop, "RMSprop", dict(lr=0.01, centered=True, alpha=0.3, weight_decay=0.05),
     ("square_avg", "grad_avg")),
    (fastopt.RMSprop, "RMSprop", dict(lr=0.005, alpha=0.9, weight_decay=0.05, momentum=0.8, centered=True,
                                      maximize=True), ("square_avg", "momentum_buffer", "grad_avg")),
    (fastopt.Adadelta, "Adadelta", dict(), ("square_avg", "acc_delta")),
    (fastopt.Adadelta, "Adadelta", dict(lr=0.5, rho=0.5, weight_decay=0.1), ("square_avg", "acc_delta")),
    (fastopt.Adadelta, "Adadelta", dict(lr=0.5, rho=0.95, eps=1e-3, maximize=True), ("square_avg", "acc_delta")),
    (fastopt.Adadelta, "Adadelta", dict(lr=0.3, rho=0.8, eps=1e-5, weight_decay=0.05, maximize=True),
     ("square_avg", "acc_delta")),
    (fastopt.Adamax, "Adamax", dict(), ("exp_avg", "exp_inf")),
    (fastopt.Adamax, "Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True), ("exp_avg", "exp_inf")),
    (fastopt.Adamax, "Adamax", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3), ("exp_avg", "exp_inf")),
    (fastopt.Adamax, "Adamax", dict(lr=0.005, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, maximize=True),
     ("exp_avg", "exp_inf")),
    (fastopt.RAdam, "RAdam", dict(), ("exp_avg", "exp_avg_sq")),
    (fastopt.RAdam, "RAdam", dict(lr=0.01, weight_decay=0.1, maximize=True), ("exp_avg", "exp_avg_sq")),
    (fastopt.RAdam, "RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), ("exp_avg", "exp_avg_sq")),
    (fastopt.RAdam, "RAdam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3), ("exp_avg", "exp_avg_sq")),
    (fastopt.RAdam, "RAdam", dict(lr=0.01, betas=(0.9, 0.5)), ("exp_avg", "exp_avg_sq")),
    (fastopt.RAdam, "RAdam", dict(lr=0.005, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05,
                                  decoupled_weight_decay=True, maximize=True), ("exp_avg", "exp_avg_sq")),
    (fastopt.NAdam, "NAdam", dict(), ("exp_avg", "exp_avg_sq", "mu_product")),
    (fastopt.NAdam, "NAdam", dict(lr=0.01, weight_decay=0.1, maximize=True), ("exp_avg", "exp_avg_sq", "mu_product")),
    (fastopt.NAdam, "NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
     ("exp_avg", "exp_avg_sq", "mu_product")),
    (fastopt.NAdam, "NAdam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3, momentum_decay=0.05),
     ("exp_avg", "exp_avg_sq", "mu_product")),
    (fastopt.NAdam, "NAdam", dict(lr=0.005, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, momentum_decay=0.02,
                                  decoupled_weight_decay=True, maximize=True), ("exp_avg", "exp_avg_sq", "mu_product")),
]


def _run_both(cls, tname, kwargs, dtype, seed=0, steps=N_STEPS):
    rng = np.random.default_rng(seed)
    params = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    start = [p.copy() for p in params]
    tparams = [torch.from_numpy(p.copy()).requires_grad_(False) for p in params]
    opt = cls(params, **kwargs)
    topt = getattr(torch.optim, tname)(tparams, foreach=False, **kwargs)
    for _ in range(steps):
        grads = [np.asarray(rng.standard_normal(s) * 0.5 + 0.1, dtype=dtype) for s in SHAPES]
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g.copy())
        topt.step()
        opt.step(grads)
    return opt, params, topt, tparams, start


def _compare(opt, params, topt, tparams, start, keys, dtype, label):
    tol = TOL[dtype]
    moved = max(float(np.abs(p - p0).max(initial=0.0)) for p, p0 in zip(params, start))
    assert moved > 100 * tol["atol"], f"params did not move ({label})"
    for i, (p, tp) in enumerate(zip(params, tparams)):
        np.testing.assert_allclose(p, tp.numpy(), err_msg=f"param {i} {label}", **tol)
        st, tst = opt.state[i], topt.state[tp]
        assert st["step"] == int(tst["step"].item()), label
        for k in keys:
            if k == "mu_product":  # a float32 scalar in both, computed the same way: equal bits
                assert isinstance(st[k], np.float32)
                assert st[k] == tst[k].item(), f"mu_product of param {i} {label}"
                continue
            assert st[k].dtype == p.dtype
            np.testing.assert_allclose(st[k], tst[k].numpy(), err_msg=f"{k} of param {i} {label}", **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: f"{c[1]}[{','.join(f'{k}={v}' for k, v in c[2].items())}]")
def test_matches_torch(case, dtype):
    cls, tname, kwargs, keys = case
    opt, params, topt, tparams, start = _run_both(cls, tname, kwargs, dtype)
    _compare(opt, params, topt, tparams, start, keys, dtype, f"{tname} {kwargs}")


@pytest.mark.parametrize("tname", sorted({c[1] for c in TORCH_CASES}))
def test_defaults_and_state_dict_keys_match_torch(tname):
    """Same constructor defaults (for the options fastopt has) and state keys."""
    import inspect
    cls = getattr(fastopt, tname)
    ours = {k: v.default for k, v in inspect.signature(cls).parameters.items()
            if v.default is not inspect.Parameter.empty}
    theirs = {k: v.default for k, v in inspect.signature(getattr(torch.optim, tname)).parameters.items()
              if v.default is not inspect.Parameter.empty}
    for k, v in ours.items():
        if k in ("n_threads", "flush_denormals"):
            continue
        assert k in theirs, f"{tname}: fastopt option {k!r} is not torch's"
        assert v == theirs[k], f"{tname}: default of {k} is {v!r}, torch's {theirs[k]!r}"
    case = next(c for c in TORCH_CASES if c[1] == tname)
    opt, params, topt, tparams, _ = _run_both(case[0], tname, case[2], np.float64, steps=2)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"][0]) == sorted(tsd["state"][0])
    assert sorted(k for k in sd["param_groups"][0] if k != "param_names") == \
        sorted(k for k in tsd["param_groups"][0] if k not in ("foreach", "differentiable", "fused", "capturable"))


def _functional_adagrad(params, grads, state, step, kw):
    fastopt.functional.adagrad_(params, grads, state["sum"], step=step, **kw)


def _functional_rmsprop(params, grads, state, step, kw):
    fastopt.functional.rmsprop_(params, grads, state["square_avg"], state["momentum_buffer"], state["grad_avg"],
                                step=step, **kw)


def _functional_adadelta(params, grads, state, step, kw):
    fastopt.functional.adadelta_(params, grads, state["square_avg"], state["acc_delta"], step=step, **kw)


def _functional_adamax(params, grads, state, step, kw):
    kw = dict(kw)
    beta1, beta2 = kw.pop("betas")
    fastopt.functional.adamax_(params, grads, state["exp_avg"], state["exp_inf"], step=step, beta1=beta1,
                               beta2=beta2, **kw)


def _functional_radam(params, grads, state, step, kw):
    kw = dict(kw)
    beta1, beta2 = kw.pop("betas")
    fastopt.functional.radam_(params, grads, state["exp_avg"], state["exp_avg_sq"], step=step, beta1=beta1,
                              beta2=beta2, **kw)


def _functional_nadam(params, grads, state, step, kw):
    kw = dict(kw)
    beta1, beta2 = kw.pop("betas")
    if "mu" not in state:
        state["mu"] = np.ones(len(params), dtype=np.float32)
    fastopt.functional.nadam_(params, grads, state["exp_avg"], state["exp_avg_sq"], state["mu"], step=step,
                              beta1=beta1, beta2=beta2, **kw)


# name -> (class, kwargs, state names in functional argument order, functional driver, buffer init)
FUNCTIONAL = {
    "adagrad": (fastopt.Adagrad, dict(lr=0.1, lr_decay=0.02, weight_decay=0.1, eps=1e-6, maximize=True),
                ("sum",), _functional_adagrad, {"sum": 0.0}),
    "rmsprop": (fastopt.RMSprop, dict(lr=0.01, alpha=0.4, weight_decay=0.1, momentum=0.5, centered=True,
                                      maximize=True),
                ("square_avg", "momentum_buffer", "grad_avg"), _functional_rmsprop,
                {"square_avg": 0.0, "momentum_buffer": 0.0, "grad_avg": 0.0}),
    "adadelta": (fastopt.Adadelta, dict(lr=0.7, rho=0.8, eps=1e-5, weight_decay=0.05, maximize=True),
                 ("square_avg", "acc_delta"), _functional_adadelta, {"square_avg": 0.0, "acc_delta": 0.0}),
    "adamax": (fastopt.Adamax, dict(lr=0.01, betas=(0.3, 0.9), eps=1e-4, weight_decay=0.05, maximize=True),
               ("exp_avg", "exp_inf"), _functional_adamax, {"exp_avg": 0.0, "exp_inf": 0.0}),
    "radam": (fastopt.RAdam, dict(lr=0.01, betas=(0.3, 0.9), eps=1e-4, weight_decay=0.05, maximize=True),
              ("exp_avg", "exp_avg_sq"), _functional_radam, {"exp_avg": 0.0, "exp_avg_sq": 0.0}),
    "nadam": (fastopt.NAdam, dict(lr=0.01, betas=(0.3, 0.9), eps=1e-4, weight_decay=0.05, momentum_decay=0.01,
                                  maximize=True),
              ("exp_avg", "exp_avg_sq"), _functional_nadam, {"exp_avg": 0.0, "exp_avg_sq": 0.0}),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_functional_matches_class(name, dtype):
    """The stateless form, driven with the class's state, gives the same bits."""
    cls, kw, keys, drive, init = FUNCTIONAL[name]
    rng = np.random.default_rng(3)
    params = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    fparams = [p.copy() for p in params]
    state = {k: [np.full_like(p, init[k]) for p in params] for k in keys}
    opt = cls(params, **kw)
    for step in range(1, N_STEPS + 1):
        grads = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
        opt.step(grads)
        drive(fparams, grads, state, step, kw)
    for i, (p, fp) in enumerate(zip(params, fparams)):
        np.testing.assert_array_equal(p, fp)
        for k in keys:
            np.testing.assert_array_equal(opt.state[i][k], state[k][i])


def test_radam_switches_to_rectified_steps_at_step_6():
    """The parity runs above cross rho_t = 5 (and the flag that picks the loop)."""
    opt = fastopt.RAdam([np.zeros(3)])
    flags = [opt._scalars(opt.param_groups[0], t)[1] & 4 for t in range(1, 8)]
    assert flags == [0, 0, 0, 0, 0, 4, 4]
    one_half = fastopt.RAdam([np.zeros(3)], betas=(0.9, 0.5))
    assert all(one_half._scalars(one_half.param_groups[0], t)[1] & 4 == 0 for t in range(1, 100))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_nadam_mu_product_per_param(dtype):
    """mu_product is per-param state: params whose products differ (an edit
    through opt.state, a param skipped for a step) get their own coefficients
    in the same call, bit for bit as the reference, and the state round-trips
    through state_dict like torch's."""
    from fastopt import reference
    rng = np.random.default_rng(7)
    params = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    rparams = [p.copy() for p in params]
    kw = dict(lr=0.01, betas=(0.8, 0.99), momentum_decay=0.05)
    opt, ref = fastopt.NAdam(params, **kw), reference.NAdam(rparams, **kw)
    for t in range(N_STEPS):
        grads = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
        if t == 5:
            grads[1] = None
        if t == 9:
            opt.state[2]["mu_product"] = ref.state[2]["mu_product"] = np.float32(0.25)
        opt.step(grads)
        ref.step(grads)
    for i, (p, rp) in enumerate(zip(params, rparams)):
        np.testing.assert_array_equal(p, rp.reshape(p.shape))
        assert opt.state[i]["mu_product"] == ref.state[i]["mu_product"]
    assert len({float(opt.state[i]["mu_product"]) for i in range(len(params))}) == 3
    sd = opt.state_dict()
    params2 = [p.copy() for p in params]
    opt2 = fastopt.NAdam(params2, **kw)
    opt2.load_state_dict({"state": {k: {n: (torch.tensor(v) if n == "mu_product" else v) for n, v in st.items()}
                                    for k, st in sd["state"].items()}, "param_groups": sd["param_groups"]})
    grads = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    opt.step(grads)
    opt2.step(grads)
    for p, p2 in zip(params, params2):
        np.testing.assert_array_equal(p, p2)
    assert [opt.state[i]["mu_product"] for i in range(4)] == [opt2.state[i]["mu_product"] for i in range(4)]
