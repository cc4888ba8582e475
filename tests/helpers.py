"""Drivers shared by the generic tests."""
import numpy as np

from fastopt._engine import BLOCK

#: Shapes that straddle SIMD widths (4/8/16 lanes) and the engine's block size.
SIZES = [(), (0,), (1,), (7,), (15,), (16,), (17,), (31,), (33,), (1023,), (3, 5, 7),
         (BLOCK - 1,), (BLOCK,), (BLOCK + 1,), (2 * BLOCK + 5,)]


def make_params(shapes, dtype, rng):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def make_grads(shapes, dtype, rng):
    return [(rng.standard_normal(s) * 0.5 + 0.1).astype(dtype) for s in shapes]


def run_pair(case, dtype, shapes, rng, steps=20, n_threads=1, ref_dtype=None):
    """Run fastopt and the reference side by side for `steps` random-gradient steps.

    Returns (opt, params, ref, ref_params). `ref_dtype` runs the reference on
    copies of another dtype (float64 for the paper-level check)."""
    params = make_params(shapes, dtype, rng)
    ref_params = [p.astype(ref_dtype or dtype) for p in params]
    opt = case.cls(params, n_threads=n_threads, **case.kwargs)
    ref = case.ref(ref_params, **case.kwargs)
    for _ in range(steps):
        grads = make_grads(shapes, dtype, rng)
        opt.step(grads)
        ref.step([g.astype(ref_dtype or dtype) for g in grads])
    return opt, params, ref, ref_params


def assert_state_equal(opt, params, ref, ref_params, case, exact=True, rtol=0, atol=0):
    """Params and every state buffer agree elementwise (bitwise when exact)."""
    cmp = np.testing.assert_array_equal if exact else (
        lambda a, b, err_msg="": np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=err_msg))
    for i, (p, rp) in enumerate(zip(params, ref_params)):
        cmp(p, rp.astype(p.dtype) if exact else rp, err_msg=f"param {i} {case.id}")
    for i in range(len(params)):
        st = opt.state[i] if i in opt.state else {}
        rst = ref.state[i]
        for key in case.state_keys:
            assert key in st, f"state {key!r} missing for param {i} ({case.id})"
            assert st[key].dtype == params[i].dtype
            rk = rst[key].reshape(st[key].shape)
            cmp(st[key], rk.astype(st[key].dtype) if exact else rk, err_msg=f"{key} of param {i} {case.id}")
        if "step" in rst:
            assert st["step"] == rst["step"]
