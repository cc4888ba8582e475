"""Every rule against its NumPy reference: params and all state, elementwise.

In the param dtype the kernels must agree with the reference bit for bit
(same op order, scalars cast the same way, no FMA contraction); against a
float64 reference a float32 run must stay within float32 rounding.
"""
import numpy as np
import pytest

from cases import CASES, ONE_PER_RULE
from helpers import SIZES, assert_state_equal, run_pair

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_matches_reference_bitwise(case, dtype, n_threads, isa, parallel, rng):
    opt, params, ref, ref_params = run_pair(case, dtype, SIZES, rng, steps=20, n_threads=n_threads)
    assert_state_equal(opt, params, ref, ref_params, case, exact=True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_float32_close_to_float64_reference(case, rng):
    shapes = [(7,), (1023,), (33, 3)]
    opt, params, ref, ref_params = run_pair(case, np.float32, shapes, rng, steps=20, ref_dtype=np.float64)
    assert_state_equal(opt, params, ref, ref_params, case, exact=False, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("case", ONE_PER_RULE, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_ten_thousand_tiny_tensors(case, dtype, parallel, rng):
    shapes = [(int(n),) for n in rng.integers(1, 40, size=10_000)]
    opt, params, ref, ref_params = run_pair(case, dtype, shapes, rng, steps=3, n_threads=2)
    assert_state_equal(opt, params, ref, ref_params, case, exact=True)
