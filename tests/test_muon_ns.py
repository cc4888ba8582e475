"""Muon's Newton-Schulz elementwise steps in the engine (kernels/muon.h, flag
bit 4): the same bits as the NumPy operations they replace, on every ISA, at
1 and 2 threads, for wide and tall iterates, every ns_dtype, NaN and inf; and
the optimizer through them bitwise against the reference package. No torch
needed (tests/test_torch_irregular.py compares with torch)."""
import numpy as np
import pytest

import fastopt
from fastopt import muon, reference

COEF = (3.4445, -4.775, 2.0315)
#: wide and tall, one row / column, and an iterate over several engine spans
SHAPES = [(5, 8), (40, 24), (24, 40), (1, 7), (7, 1), (64, 700), (700, 64), (0, 4)]


@pytest.fixture
def engine_always(monkeypatch):
    monkeypatch.setattr(muon, "NS_ENGINE_MIN", 0)


def _numpy_only(fn, *a, **kw):
    old = muon.NS_ENGINE_MIN
    muon.NS_ENGINE_MIN = 1 << 62
    try:
        return fn(*a, **kw)
    finally:
        muon.NS_ENGINE_MIN = old


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


@pytest.mark.parametrize("ns_dtype", muon.NS_DTYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_newton_schulz_engine_is_numpy_bitwise(ns_dtype, dtype, n_threads, isa, parallel, engine_always):
    rng = np.random.default_rng(5)
    for shape in SHAPES:
        U = (rng.standard_normal(shape) * 0.3).astype(dtype)
        if U.size > 100:
            U.flat[17] = np.nan   # NaN spreads through every matmul; it must round the same way
        want = _numpy_only(muon.newton_schulz, U, COEF, 5, 1e-7, ns_dtype)
        got = muon.newton_schulz(U, COEF, 5, 1e-7, ns_dtype, n_threads)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(_bits(got), _bits(want), err_msg=str(shape))
        if ns_dtype == "bfloat16" and U.size and U.size <= 100:
            ref = reference.muon.orthogonalize(U, COEF, 5, 1e-7, "bfloat16")
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("bf16", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ns_elementwise_ops(bf16, dtype, isa, engine_always):
    """Each op against NumPy: C- and F-contiguous iterates (a tall update is
    walked as its transpose), inf, NaN, values that round across a bfloat16
    boundary; x laid out differently from y falls back to NumPy."""
    if bf16 and dtype == np.float64:
        pytest.skip("the bfloat16 rounding applies to the float32 iterate only")
    rng = np.random.default_rng(9)
    base = rng.standard_normal((37, 53)).astype(dtype)
    base.flat[:6] = [np.inf, -np.inf, np.nan, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 3.4e38]
    other = rng.standard_normal((37, 53)).astype(dtype)
    T = np.dtype(dtype).type
    for order in "CF":
        for op, sc in ((0, 0.0), (1, 3.7), (2, -4.775)):
            y = np.array(base, order=order)
            x = np.array(other, order=order)
            want = np.array(base, order=order)
            if op == 1:
                want = want / T(sc)
            elif op == 2:
                want = want + T(sc) * x
            if bf16:
                want = muon._round_bf16(want)
            got = muon._ns_elementwise(op, y, x if op == 2 else None, s=sc, bf16=bf16, n_threads=2)
            assert got is y
            np.testing.assert_array_equal(_bits(got), _bits(want), err_msg=f"op {op} order {order}")
    # y C-contiguous, x F-contiguous: NumPy (the engine walks memory in order)
    y, x = np.array(base, order="C"), np.array(other, order="F")
    want = _numpy_only(muon._ns_elementwise, 2, y.copy(), x, s=2.0, bf16=bf16)
    np.testing.assert_array_equal(_bits(muon._ns_elementwise(2, y, x, s=2.0, bf16=bf16)), _bits(want))


@pytest.mark.parametrize("kw", [dict(lr=0.02), dict(lr=0.02, ns_dtype="float32"),
                                dict(lr=0.03, nesterov=False, ns_dtype="float64", weight_decay=0.1)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_muon_through_the_engine_matches_reference(kw, dtype, n_threads, isa, parallel, engine_always):
    rng = np.random.default_rng(3)
    shapes = [(5, 8), (40, 24), (64, 700), (700, 64)]
    ps = [rng.standard_normal(s).astype(dtype) for s in shapes]
    rps = [p.copy() for p in ps]
    opt = fastopt.Muon(ps, n_threads=n_threads, **kw)
    ref = reference.Muon(rps, **kw)
    for _ in range(3):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt.step(grads)
        ref.step(grads)
    for i in range(len(ps)):
        np.testing.assert_array_equal(ps[i], rps[i], err_msg=f"param {i}")


def test_engine_threshold_default():
    assert muon.NS_ENGINE_MIN == 1 << 15
