"""Every rule against its NumPy reference: params and all state, elementwise.

In the param dtype the kernels must agree with the reference bit for bit
(same op order, scalars cast the same way, no FMA contraction); against a
float64 reference a float32 run must stay within float32 rounding.
"""
import numpy as np
import pytest

from cases import CASES, ONE_PER_RULE
from helpers import SIZES, assert_state_equal, make_grads, make_params, run_pair

DTYPES = [np.float32, np.float64]
SEED = 12345  # the `rng` fixture's seed

_REFERENCE = {}


def reference_run(case, dtype, shapes, steps):
    """The reference's result for (case, dtype), computed once: it does not
    depend on the ISA or thread count under test. Same draws as `rng`."""
    key = (case.id, np.dtype(dtype).name, steps)
    if key not in _REFERENCE:
        rng = np.random.default_rng(SEED)
        ref_params = make_params(shapes, dtype, rng)
        ref = case.ref(ref_params, **case.kwargs)
        for _ in range(steps):
            ref.step(make_grads(shapes, dtype, rng))
        _REFERENCE[key] = (ref, ref_params)
    return _REFERENCE[key]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_matches_reference_bitwise(case, dtype, n_threads, isa, parallel):
    rng = np.random.default_rng(SEED)
    params = make_params(SIZES, dtype, rng)
    opt = case.cls(params, n_threads=n_threads, **case.kwargs)
    for _ in range(20):
        opt.step(make_grads(SIZES, dtype, rng))
    ref, ref_params = reference_run(case, dtype, SIZES, 20)
    assert_state_equal(opt, params, ref, ref_params, case, exact=True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_float32_close_to_float64_reference(case, rng):
    shapes = [(7,), (1023,), (33, 3)]
    opt, params, ref, ref_params = run_pair(case, np.float32, shapes, rng, steps=20, ref_dtype=np.float64)
    assert_state_equal(opt, params, ref, ref_params, case, exact=False, rtol=2e-4, atol=2e-5)


#: Rules whose update depends on the tensor, not only on the element: per-tensor
#: norms (trust ratios, RMS clipping) or noise keyed on the tensor index.
PER_TENSOR = {"lamb", "lars", "noisy_sgd", "adafactor"}


@pytest.mark.parametrize("case", ONE_PER_RULE, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_ten_thousand_tiny_tensors(case, dtype, parallel, rng):
    """10,000 tensors of 1..39 elements over 2 threads. Elementwise rules must
    give exactly what one step over the concatenated tensor gives (the plan's
    packing of spans into chunks changes nothing); per-tensor rules are
    checked against the reference."""
    shapes = [(int(n),) for n in rng.integers(1, 40, size=10_000)]
    if case.name in PER_TENSOR:
        opt, params, ref, ref_params = run_pair(case, dtype, shapes, rng, steps=3, n_threads=2)
        assert_state_equal(opt, params, ref, ref_params, case, exact=True)
        return
    params = make_params(shapes, dtype, rng)
    flat = [np.concatenate([p.ravel() for p in params])]
    opt = case.cls(params, n_threads=2, **case.kwargs)
    one = case.cls(flat, n_threads=1, **case.kwargs)
    for _ in range(3):
        grads = make_grads(shapes, dtype, rng)
        opt.step(grads)
        one.step([np.concatenate([g.ravel() for g in grads])])
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in params]), flat[0])
    for key in case.state_keys:
        got = np.concatenate([opt.state[i][key].ravel() for i in range(len(params))])
        np.testing.assert_array_equal(got, one.state[0][key], err_msg=key)
