"""Adafactor beyond the generic rows of tests/cases.py: factored statistics
(row_var/col_var of params with 2+ dims, rows and batches straddling spans)
bit for bit against the reference on every ISA, dtype and thread count, the
stateless form, state_dict round trips (torch's layout) and argument checks."""
import copy

import numpy as np
import pytest

import fastopt
from fastopt import reference
from fastopt._engine import BLOCK, TILE, TILE_STRIP
from fastopt._multipass import SMALL_MATRIX, factored_partials, factored_sums, factored_tiles
from fastopt.functional import adafactor_

from cases import CASES

ROWS = [c for c in CASES if c.name == "adafactor"]
#: 0-d, 1-d, empty, single row/column, rows and batches straddling the engine's spans.
SHAPES = [(), (5,), (0,), (0, 3), (1, 7), (7, 1), (4, 1, 9), (33, 17), (130, 129), (3, 70, 250),
          (2, BLOCK + 3)]


def make(shapes, dtype, rng):
    return [np.asarray(rng.standard_normal(s)).astype(dtype) for s in shapes]


def grads_for(shapes, dtype, rng):
    return [np.asarray(rng.standard_normal(s) * 0.5 + 0.1).astype(dtype) for s in shapes]


def keys_of(p):
    return ("row_var", "col_var") if p.ndim >= 2 else ("variance",)


def assert_same(opt, params, ref, ref_params):
    for i, (p, r) in enumerate(zip(params, ref_params)):
        np.testing.assert_array_equal(p, r, err_msg=f"param {i} {p.shape}")
        st = opt.state[i]
        assert st["step"] == ref.state[i]["step"]
        assert set(k for k in st if k != "step") == set(keys_of(p))
        for k in keys_of(p):
            assert st[k].dtype == p.dtype and st[k].shape == ref.state[i][k].shape
            np.testing.assert_array_equal(st[k], ref.state[i][k], err_msg=f"{k} of param {i} {p.shape}")


@pytest.mark.parametrize("case", ROWS, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_factored_state_bitwise(case, dtype, n_threads, isa, parallel, rng):
    params = make(SHAPES, dtype, rng)
    ref_params = [p.copy() for p in params]
    opt = case.cls(params, n_threads=n_threads, **case.kwargs)
    ref = case.ref(ref_params, **case.kwargs)
    for _ in range(8):
        g = grads_for(SHAPES, dtype, rng)
        opt.step(g)
        ref.step(g)
    assert_same(opt, params, ref, ref_params)


#: Shapes whose tiled statistics pass (kernel pass 3) has several column strips
#: (C > TILE_STRIP), several row blocks (R > Rt), both in batches, strips whose
#: width is no multiple of 8, rows over 2048 wide (summed four at a time, and the
#: leftover rows one by one), one long row and one long column, and small
#: matrices grouped several to a tile (conv filters, 1 x 1), over several tiles.
TILED = [(3, TILE_STRIP * 2 + 4), (300, 1000), (2, 140, 1000), (70, 2100), (1, 5000), (3000, 3),
         (150, 100, 3, 3), (TILE + 5, 1, 1)]
#: Several strips and several row blocks in one tensor (2.1M elements: one dtype only).
WIDE = (2, 65, TILE_STRIP + 52)


def test_tile_geometry_covers_every_element():
    for shape in TILED + [(130, 129), (2, BLOCK + 3), (7, 1), (1, 7)]:
        R, C = shape[-2:]
        ct, rt, ns, nrb, bt = factored_tiles(R, C)
        assert 0 < ct <= TILE_STRIP and rt * ct <= max(TILE, 64 * ct) and (ns - 1) * ct < C <= ns * ct
        assert (nrb - 1) * rt < R <= nrb * rt
        assert bt == 1 or (ns == nrb == 1 and bt * R * C <= TILE)
    assert factored_tiles(300, 1000)[3] > 1 and factored_tiles(5, TILE_STRIP * 2 + 4)[2] == 3
    assert factored_tiles(3, 3)[4] == TILE // 9 and factored_tiles(1, 1)[4] == TILE


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_tiled_statistics_bitwise(dtype, n_threads, isa, parallel, rng):
    """The kernel's partial sums equal fastopt._multipass.factored_partials on
    tiles straddling strips, row blocks and batches (through the whole step)."""
    params = make(TILED, dtype, rng)
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adafactor(params, lr=0.05, weight_decay=0.1, n_threads=n_threads)
    ref = reference.Adafactor(ref_params, lr=0.05, weight_decay=0.1)
    for _ in range(3):
        g = grads_for(TILED, dtype, rng)
        opt.step(g)
        ref.step(g)
    assert_same(opt, params, ref, ref_params)


def test_wide_tiles_bitwise(rng, parallel):
    assert factored_tiles(*WIDE[-2:])[2:4] == (2, 2)
    params = make([WIDE], np.float32, rng)
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adafactor(params, lr=0.05, n_threads=2)
    ref = reference.Adafactor(ref_params, lr=0.05)
    for _ in range(2):
        g = grads_for([WIDE], np.float32, rng)
        opt.step(g)
        ref.step(g)
    assert_same(opt, params, ref, ref_params)


def test_tiled_partials_match_numpy(rng):
    """The partial-sum buffers themselves, after one engine step, against the
    NumPy tile order (and the combined sums against float64 NumPy sums)."""
    shapes = [WIDE, (300, 1000), (2, 257, 40)]
    params = make(shapes, np.float32, rng)
    g = grads_for(shapes, np.float32, rng)
    opt = fastopt.Adafactor(params, n_threads=2)
    opt.step(g)
    (m,) = opt._meta.values()
    assert not any(m.small)
    for k, j in enumerate(m.fj):
        rowpart, colpart = factored_partials(g[j])
        np.testing.assert_array_equal(m.rowpart[k], rowpart)
        np.testing.assert_array_equal(m.colpart[k], colpart)
        rows, cols = factored_sums(rowpart, colpart)
        x = np.square(g[j], dtype=np.float64)
        np.testing.assert_allclose(rows.reshape(x.shape[:-1]), x.sum(axis=-1), rtol=1e-13)
        np.testing.assert_allclose(cols.reshape(x.shape[:-2] + x.shape[-1:]), x.sum(axis=-2), rtol=1e-13)


#: Tensors of small matrices, whose statistics the tiled pass finishes itself
#: (R, C <= SMALL_MATRIX: conv filters, 1 x 1 filters over several tiles, rows of
#: 8 or more columns and of 8 or more rows, 256 x 256), next to the limit
#: (257 rows; 257 x 5 also walks narrow rows in passes 1 and 2), and matrices
#: of narrow rows that are not small (300 x 63).
SMALL = [(40, 3, 3), (TILE + 5, 1, 1), (6, 7, 7), (1, 7, 9), (4, 17, 1), (2, 3, 70), (64, 64), (2, 256, 256),
         (2, 257, 5), (300, 63), (5, 1, 1)]


def test_small_matrix_geometry():
    opt = fastopt.Adafactor(make(SMALL, np.float32, np.random.default_rng(0)))
    opt.step(grads_for(SMALL, np.float32, np.random.default_rng(1)))
    (m,) = opt._meta.values()
    assert m.small == [max(s[-2:]) <= SMALL_MATRIX for s in SMALL] and SMALL_MATRIX == 256
    assert m.small.count(False) == 2
    for k, small in enumerate(m.small):
        assert (m.rowpart[k].size == 0) == small


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_small_matrices_bitwise(dtype, n_threads, isa, parallel, rng):
    """Statistics finished in the tiled pass and the narrow-row passes 1 and 2,
    bit for bit against the reference, through both forms of the lerp (w >= 0.5
    in the first steps), with weight decay and maximize."""
    params = make(SMALL, dtype, rng)
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adafactor(params, lr=0.05, weight_decay=0.1, maximize=True, n_threads=n_threads)
    ref = reference.Adafactor(ref_params, lr=0.05, weight_decay=0.1, maximize=True)
    for _ in range(5):
        g = grads_for(SMALL, dtype, rng)
        opt.step(g)
        ref.step(g)
    assert_same(opt, params, ref, ref_params)


def test_small_matrices_nan_and_tiny_statistics(rng):
    """A NaN grad spreads to its own matrix's statistics as in NumPy (den keeps
    the NaN, as np.maximum), and all-zero grads give den = eps1."""
    shapes = [(30, 3, 3), (9, 1, 1)]
    params = make(shapes, np.float32, rng)
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adafactor(params, lr=0.05)
    ref = reference.Adafactor(ref_params, lr=0.05)
    for k in range(3):
        g = grads_for(shapes, np.float32, rng)
        g[0][4] = 0.0
        if k == 1:
            g[0][7, 1, 2] = np.nan
            g[1][3] = np.nan
        with np.errstate(invalid="ignore"):
            opt.step(g)
            ref.step(g)
    assert np.isnan(params[0][7]).all() and not np.isnan(params[0][6]).any()
    assert_same(opt, params, ref, ref_params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_transformed_grads_take_the_numpy_tile_order(dtype, rng):
    """With tools that transform the grads, the statistics are computed in NumPy
    in the kernel's tile order: a clip that clips nothing changes no bit, and a
    real clip equals clipping the grads first."""
    shapes = TILED + SMALL[:3]
    params = make(shapes, dtype, rng)
    pa, pb, pc, pd = ([p.copy() for p in params] for _ in range(4))
    a = fastopt.Adafactor(pa, lr=0.05, n_threads=2, clip_value=1e30)
    b = fastopt.Adafactor(pb, lr=0.05, n_threads=2)
    c = fastopt.Adafactor(pc, lr=0.05, n_threads=2, clip_value=0.3)
    d = fastopt.Adafactor(pd, lr=0.05, n_threads=2)
    for _ in range(3):
        g = grads_for(shapes, dtype, rng)
        a.step(g)
        b.step(g)
        c.step(g)
        d.step([np.clip(x, dtype(-0.3), dtype(0.3)) for x in g])
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(pc, pd):
        np.testing.assert_array_equal(x, y)


def test_result_independent_of_threads_and_isa(rng):
    shapes = [(130, 129), (3, 70, 250), (40000,), (300, 3, 3), (20000, 1, 1)]
    start = make(shapes, np.float32, rng)
    grads = [grads_for(shapes, np.float32, rng) for _ in range(4)]
    results = []
    for isa in fastopt.available_cpus():
        for nt in (1, 2):
            ps = [p.copy() for p in start]
            opt = fastopt.Adafactor(ps, lr=0.05, n_threads=nt)
            with fastopt.use_cpu(isa):
                for g in grads:
                    opt.step(g)
            results.append([p.tobytes() for p in ps] + [opt.state[1]["col_var"].tobytes()])
    assert all(r == results[0] for r in results)


def test_skipped_grads_and_mixed_steps(rng):
    shapes = [(6, 5), (9,), (2, 3, 4)]
    params = make(shapes, np.float64, rng)
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adafactor(params, lr=0.05, weight_decay=0.1)
    ref = reference.Adafactor(ref_params, lr=0.05, weight_decay=0.1)
    for t in range(10):
        g = grads_for(shapes, np.float64, rng)
        if t % 3 == 1:
            g[0] = None  # param 0 falls behind: per-step plans with other step counts
        if t == 2:
            g[2] = None
        opt.step(g)
        ref.step(g)
    assert opt.state[0]["step"] == 7 and opt.state[2]["step"] == 9
    assert_same(opt, params, ref, ref_params)


def test_mixed_dtypes_in_one_group(rng):
    params = [np.asarray(rng.standard_normal((5, 4)), dtype=np.float32), rng.standard_normal((3, 6)),
              rng.standard_normal(7)]
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adafactor(params)
    ref = reference.Adafactor(ref_params)
    for _ in range(5):
        g = [np.asarray(rng.standard_normal(p.shape), dtype=p.dtype) for p in params]
        opt.step(g)
        ref.step(g)
    assert_same(opt, params, ref, ref_params)


def test_state_dict_resume(rng):
    shapes = [(6, 5), (9,), (2, 3, 4), ()]
    params = make(shapes, np.float32, rng)
    twin = [p.copy() for p in params]
    opt = fastopt.Adafactor(params, lr=0.05)
    grads = [grads_for(shapes, np.float32, rng) for _ in range(8)]
    for g in grads[:4]:
        opt.step(g)
    sd = copy.deepcopy(opt.state_dict())
    for g in grads[4:]:
        opt.step(g)
    resumed = [p.copy() for p in params]  # final values, for comparison
    # Replay: 4 steps on the twin, load the saved state into a new optimizer, 4 more.
    t_opt = fastopt.Adafactor(twin, lr=0.05)
    for g in grads[:4]:
        t_opt.step(g)
    new = fastopt.Adafactor(twin, lr=0.05)
    new.load_state_dict(sd)
    assert new.state[0]["row_var"].shape == (6, 1) and new.state[0]["step"] == 4
    for g in grads[4:]:
        new.step(g)
    for a, b in zip(resumed, twin):
        np.testing.assert_array_equal(a, b)


def test_state_dict_rejects_wrong_factored_shape(rng):
    params = make([(6, 5)], np.float32, rng)
    opt = fastopt.Adafactor(params)
    opt.step(grads_for([(6, 5)], np.float32, rng))
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][0]["row_var"] = np.zeros((1, 5), np.float32)
    before = opt.state[0]["row_var"].copy()
    with pytest.raises(ValueError, match="row_var"):
        opt.load_state_dict(sd)
    np.testing.assert_array_equal(opt.state[0]["row_var"], before)


def test_state_edit_takes_effect(rng):
    params = make([(4, 3)], np.float64, rng)
    ref_params = [p.copy() for p in params]
    opt = fastopt.Adafactor(params)
    ref = reference.Adafactor(ref_params)
    g = grads_for([(4, 3)], np.float64, rng)
    opt.step(g)
    ref.step(g)
    opt.state[0]["col_var"] = np.full((1, 3), 2.0)  # a new array: used from the next step
    ref.state[0]["col_var"][...] = 2.0
    for _ in range(3):
        g = grads_for([(4, 3)], np.float64, rng)
        opt.step(g)
        ref.step(g)
    assert_same(opt, params, ref, ref_params)


def test_failed_step_leaves_no_state(rng):
    params = make([(4, 3), (5,)], np.float32, rng)
    opt = fastopt.Adafactor(params)
    with pytest.raises(ValueError):
        opt.step([np.zeros((4, 3), np.float32), np.zeros(4, np.float32)])
    assert len(opt.state) == 0
    opt.step(grads_for([(4, 3), (5,)], np.float32, rng))
    assert opt.state[0]["step"] == 1 and opt.state[1]["variance"].shape == (5,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_functional_matches_class_bitwise(dtype, rng):
    shapes = [(6, 5), (9,), (2, 3, 4), ()]
    pa = make(shapes, dtype, rng)
    pb = [p.copy() for p in pa]
    kw = dict(lr=0.05, beta2_decay=-0.6, d=1.5, weight_decay=0.1, maximize=True)
    opt = fastopt.Adafactor(pa, eps=(1e-4, 1e-3), **kw)
    rows = [np.zeros(p.shape[:-1] + (1,), dtype) if p.ndim >= 2 else None for p in pb]
    cols = [np.zeros(p.shape[:-2] + (1, p.shape[-1]), dtype) if p.ndim >= 2 else None for p in pb]
    vars_ = [np.zeros(p.shape, dtype) if p.ndim < 2 else None for p in pb]
    for t in range(1, 9):
        g = grads_for(shapes, dtype, rng)
        opt.step(g)
        adafactor_(pb, g, rows, cols, vars_, step=t, eps1=1e-4, eps2=1e-3, **kw)
    for i, (a, b) in enumerate(zip(pa, pb)):
        np.testing.assert_array_equal(a, b)
        if a.ndim >= 2:
            np.testing.assert_array_equal(opt.state[i]["row_var"], rows[i])
            np.testing.assert_array_equal(opt.state[i]["col_var"], cols[i])
        else:
            np.testing.assert_array_equal(opt.state[i]["variance"], vars_[i])


def test_functional_checks_buffers(rng):
    p = make([(4, 3)], np.float32, rng)
    g = grads_for([(4, 3)], np.float32, rng)
    with pytest.raises(ValueError, match=r"row_vars\[0\]"):
        adafactor_(p, g, [np.zeros((4, 3), np.float32)], [np.zeros((1, 3), np.float32)], None, step=1)
    with pytest.raises(ValueError, match="row_vars: required"):
        adafactor_(p, g, None, None, None, step=1)
    r = np.zeros((4, 1), np.float32)
    with pytest.raises(ValueError, match="shares memory"):
        adafactor_(p, g, [r], [r.reshape(1, 4)[:, :3]], None, step=1)


@pytest.mark.parametrize("kw,exc,regex", [
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(beta2_decay=0.5), ValueError, "beta2_decay"),
    (dict(eps=(0.0, 1e-3)), ValueError, r"eps\[0\]"),
    (dict(eps=(None, -1.0)), ValueError, r"eps\[1\]"),
    (dict(eps=1e-3), TypeError, "eps"),
    (dict(eps=(None, 1e-3, 1.0)), ValueError, "eps"),
    (dict(d=0.5), ValueError, "d"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(maximize="yes"), TypeError, "maximize"),
    (dict(foreach="yes"), TypeError, "foreach"),
])
def test_argument_errors(kw, exc, regex):
    with pytest.raises(exc, match=regex):
        fastopt.Adafactor([np.zeros(3)], **kw)


def test_tiled_plan_checks():
    """Plan(tiles=...) and Scratch slots: wrong counts, negative counts and a
    scratch array that is not float64 are refused with the tensor's name."""
    from fastopt import _engine

    p = np.zeros((4, 8), np.float32)
    rows, cols = np.zeros((1, 1, 4)), np.zeros((1, 1, 8))
    ok = _engine.Plan([[p], _engine.INPUT, _engine.Scratch([rows]), _engine.Scratch([cols])], ["w"], tiles=[1])
    assert ok.n_spans == 1 and ok.total == TILE
    with pytest.raises(ValueError, match="tiles: expected 1 counts"):
        _engine.Plan([[p], _engine.INPUT, _engine.Scratch([rows]), _engine.Scratch([cols])], ["w"], tiles=[1, 1])
    with pytest.raises(ValueError, match="w: tiles: expected a count >= 0"):
        _engine.Plan([[p], _engine.INPUT, _engine.Scratch([rows]), _engine.Scratch([cols])], ["w"], tiles=[-1])
    with pytest.raises(ValueError, match="w: state buffer of slot 2"):
        _engine.Plan([[p], _engine.INPUT, _engine.Scratch([rows.astype(np.float32)]), _engine.Scratch([cols])],
                     ["w"], tiles=[1])
    assert ok.bound_arrays(1) is None
    ok.bind(1, [p], None)
    assert ok.bound_arrays(1)[0] is p
    with pytest.raises(ValueError, match="not an input slot"):
        ok.bound_arrays(2)
