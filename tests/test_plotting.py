"""Tests of plot_schedule and of the ``schedule`` command line (matplotlib,
Agg backend; the drawing tests skip when matplotlib is missing)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import fastopt.lr_scheduler as L
from fastopt import schedules as S
from fastopt._cli_schedule import main
from fastopt.plotting import plot_schedule


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


class FakeOptimizer:
    def __init__(self, lrs=(0.1, 0.05), **extra):
        self.defaults = {"lr": lrs[0], **extra}
        self.param_groups = [{"params": [np.zeros(2)], "lr": lr, **extra} for lr in lrs]


def test_plot_schedule_draws_the_values(plt):
    s = S.WarmupCosineDecay(0.1, 50, 500)
    ax = plot_schedule(s, 500)
    (line,) = ax.get_lines()
    x, y = line.get_data()
    assert np.array_equal(x, np.arange(500.0)) and np.array_equal(y, s(np.arange(500)))
    assert ax.get_ylabel() == "learning rate" and ax.get_xlabel() == "step"
    assert ax.get_title() == "WarmupCosineDecay"


def test_plot_schedule_on_given_axes_with_step_array_and_momentum(plt):
    _, ax = plt.subplots()
    steps = np.linspace(0, 99, 37)
    out = plot_schedule(S.OneCycleMomentum(100), steps, ax=ax, label="m", color="red")
    assert out is ax
    x, y = ax.get_lines()[0].get_data()
    assert np.array_equal(x, steps) and np.array_equal(y, S.OneCycleMomentum(100)(steps))
    assert ax.get_ylabel() == "momentum" and ax.get_legend() is not None


def test_plot_scheduler_steps_ahead_and_restores_everything(plt):
    opt = FakeOptimizer(momentum=0.9)
    sched = L.OneCycleLR(opt, [0.1, 0.2], total_steps=200)
    for _ in range(20):
        sched.step()
    before_state = sched.state_dict()
    before_groups = [dict(g) for g in opt.param_groups]
    ax = plot_schedule(sched, 100)
    lines = ax.get_lines()
    assert len(lines) == 2
    # reference: step a copy
    opt2 = FakeOptimizer(momentum=0.9)
    ref = L.OneCycleLR(opt2, [0.1, 0.2], total_steps=200)
    for _ in range(20):
        ref.step()
    expected = [opt2.param_groups[1]["lr"]]
    for _ in range(99):
        ref.step()
        expected.append(opt2.param_groups[1]["lr"])
    x, y = lines[1].get_data()
    assert np.array_equal(x, np.arange(20.0, 120.0)) and np.array_equal(y, expected)
    assert sched.state_dict() == before_state
    assert [dict(g) for g in opt.param_groups] == before_groups
    ax = plot_schedule(sched, 50, quantity="momentum")
    assert ax.get_ylabel() == "momentum"
    assert [dict(g) for g in opt.param_groups] == before_groups


def test_plot_schedule_momentum_scheduler_and_errors(plt):
    opt = FakeOptimizer(betas=(0.9, 0.99))
    sm = L.ScheduleMomentum(opt, S.AnnealMomentum(0.5, 0.9, 40))
    ax = plot_schedule(sm, 60)
    assert ax.get_ylabel() == "momentum"
    assert np.array_equal(ax.get_lines()[0].get_data()[1], S.AnnealMomentum(0.5, 0.9, 40)(np.arange(60)))
    assert opt.param_groups[0]["betas"] == (0.5, 0.99)
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        plot_schedule(L.ReduceLROnPlateau(opt), 10)
    with pytest.raises(ValueError, match="quantity"):
        plot_schedule(L.StepLR(opt, 3), 10, quantity="beta")
    with pytest.raises(ValueError, match="steps"):
        plot_schedule(S.Constant(1.0), 0)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install fastopt\[plot\]"):
        plot_schedule(S.Constant(1.0), 10)


def test_cli_missing_matplotlib(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    rc = main(["cosine_decay", "--steps", "10", "--out", str(tmp_path / "x.png")])
    assert rc == 1
    assert "pip install fastopt[plot]" in capsys.readouterr().err


def test_cli_list(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in S.list_schedules():
        assert name in out


def test_cli_renders_png(plt, tmp_path, capsys):
    out = tmp_path / "s.png"
    rc = main(["warmup_cosine", "--steps", "300", "--param", "peak_value=0.1", "--out", str(out)])
    assert rc == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert str(out) in capsys.readouterr().out


def test_cli_several_names_targeted_params_and_warmup(plt, tmp_path):
    out = tmp_path / "grid.png"
    argv = [
        "sgdr",
        "one_cycle",
        "cyclic",
        "anneal_momentum",
        "--steps",
        "400",
        "--param",
        "sgdr.T_0=50",
        "--param",
        "one_cycle.three_phase=True",
        "--param",
        "mode=exp_range",
        "--param",
        "gamma=0.999",
        "--warmup",
        "20",
        "--logy",
        "--dpi",
        "40",
        "--out",
        str(out),
    ]
    assert main(argv) == 0 and out.stat().st_size > 5000


@pytest.mark.parametrize(
    "argv,code,message",
    [
        (["nope", "--steps", "10", "--out", "x.png"], 2, "unknown schedule"),
        (["cosine_decay", "--out", "x.png"], 2, "--steps"),
        (["cosine_decay", "--steps", "10"], 2, "--out"),
        ([], 2, "NAME"),
        (["cosine_decay", "--steps", "10", "--param", "decay_steps", "--out", "x.png"], 1, "K=V"),
        (["cosine_decay", "--steps", "10", "--param", "gamma=2", "--out", "x.png"], 1, "gamma"),
        (["cosine_decay", "--steps", "10", "--param", "sgdr.T_0=3", "--out", "x.png"], 1, "sgdr"),
        (["cosine_decay", "--steps", "10", "--param", "decay_steps=-5", "--out", "x.png"], 1, "decay_steps"),
        (["cosine_decay", "--steps", "10", "--bogus"], 2, "unrecognized"),
    ],
)
def test_cli_errors(argv, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_help(capsys):
    assert main(["--help"]) == 0
    assert "--steps" in capsys.readouterr().out
