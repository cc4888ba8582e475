"""The benchmark registry's non-elementwise rules: each is driven through the
runner's hooks, and does what its NumPy peer does on the benchmark's data."""
import numpy as np
import pytest

from fastopt.bench import rules, runner, workloads

NEW = ("lbfgs", "muon", "sparse-adam", "diag-lm", "adafactor", "sam", "lookahead")


@pytest.mark.parametrize("name", NEW)
def test_new_rules_step_and_agree(name):
    rule = rules.get(name)
    wl = workloads.get("2x4096")
    params, gsets, _ = runner.make_data(wl, "float64", grad_sets=2)
    fo = runner.make_impl("fastopt", rule, params, gsets, threads=1)
    ref = runner.make_impl("numpy", rule, params, gsets)
    for r in range(3):
        fo.prepare(r)
        fo.step(r)
        if ref is not None:
            ref.prepare(r)
            ref.step(r)
    moved = [not np.array_equal(a, b) for a, b in zip(fo.params, params)]
    assert all(moved), name
    if ref is not None:
        for a, b in zip(fo.params, ref.params):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12, err_msg=name)
    k, j = rule.pattern()
    assert 1 <= j < k <= 6
    assert rule.bytes_per_step("float32", wl.n_params) > 0


def test_byte_counts():
    assert rules.get("lbfgs").elements() == 58
    assert rules.get("sam").bytes_per_element("float32") == 56
    assert rules.get("diag-lm").pattern() == (3, 1) and rules.get("diag-lm").elements() == 4
    sa = rules.get("sparse-adam")   # 1/8 of 64-wide rows: 7 elements per touched element + 8 B per row
    n = 1 << 16
    rows = (n // 64) // 8
    assert sa.bytes_per_step("float32", n) == 28 * rows * 64 + 8 * rows


@pytest.mark.skipif(not runner.torch_available(), reason="torch not installed")
@pytest.mark.parametrize("name", ["lbfgs", "sparse-adam", "adafactor"])
def test_torch_peers_step(name):
    rule = rules.get(name)
    params, gsets, tgsets = runner.make_data(workloads.get("2x4096"), "float32", grad_sets=2, torch=True)
    with pytest.raises(TypeError):
        rule.make_torch([], "fused")
    it = runner.make_impl("torch-forloop", rule, params, gsets, tgsets, threads=1)
    for r in range(2):
        it.prepare(r)
        it.step(r)
    assert not np.array_equal(it.params[0].numpy(), params[0])
