"""``python -m fastopt demo`` (fastopt._cli_demo.main): pictures are valid PNG
(and GIF with Pillow), the printout lists every optimizer, the demo's story
holds (adaptive methods leave the saddle before SGD), missing matplotlib or
Pillow is reported cleanly, and the default run is fast."""

import sys
import time

import numpy as np
import pytest

import fastopt
from fastopt import _cli_demo as demo
from fastopt._cli_demo import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


def _is_png(path):
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head != PNG_SIGNATURE:
        return False
    try:
        from PIL import Image
    except ImportError:
        return True
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200


def test_small_run_writes_valid_pngs_and_prints_final_losses(mpl, tmp_path, capsys):
    out = tmp_path / "pics"
    rc = main(["--out", str(out), "--steps", "25", "--dpi", "60"])
    assert rc == 0
    for name in ("demo_rosenbrock.png", "demo_saddle.png"):
        assert _is_png(out / name), name
    assert not list(out.glob("*.gif"))
    text = capsys.readouterr().out
    assert "rosenbrock: 25 steps from (-1.2, 1)" in text and "saddle: 25 steps from (-1, 0.001)" in text
    available = [o for o in demo.OPTIMIZERS if hasattr(fastopt, o.cls)]
    assert len(available) >= 11
    for o in available:
        assert text.count(f"  {o.label} ") == 2, o.label
    assert "final loss" in text


def test_gif_when_pillow_is_present(mpl, tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    rc = main(["--out", str(tmp_path), "--steps", "12", "--gif", "--optimizers", "sgd,adam",
               "--functions", "saddle", "--dpi", "50"])
    assert rc == 0
    gif = tmp_path / "demo_saddle.gif"
    with open(gif, "rb") as fh:
        assert fh.read(6) == b"GIF89a"
    with Image.open(gif) as im:
        assert im.n_frames > 5
    assert _is_png(tmp_path / "demo_saddle.png")
    assert not (tmp_path / "demo_rosenbrock.png").exists()


def test_gif_skipped_with_a_message_without_pillow(mpl, tmp_path, capsys, monkeypatch):
    # matplotlib itself needs Pillow to write PNGs, so only the demo's own check is faked
    monkeypatch.setattr(demo, "_have_pillow", lambda: False)
    rc = main(["--out", str(tmp_path), "--steps", "5", "--gif", "--optimizers", "adam", "--functions", "saddle"])
    assert rc == 0
    assert "skipping the GIFs: Pillow is not installed" in capsys.readouterr().err
    assert (tmp_path / "demo_saddle.png").exists() and not (tmp_path / "demo_saddle.gif").exists()


def test_missing_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    rc = main(["--out", str(tmp_path / "x"), "--steps", "5", "--optimizers", "sgd"])
    assert rc == 1
    captured = capsys.readouterr()
    assert "pip install fastopt[plot]" in captured.err
    assert "SGD" in captured.out                      # the runs still happened and were printed
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, msg", [
    (["--optimizers", "adam,nope"], "unknown optimizer"),
    (["--functions", "beale"], "unknown function"),
    (["--steps", "0"], "--steps"),
    (["--bogus"], "unrecognized"),
])
def test_usage_errors(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err


def test_help_lists_the_learning_rates(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "learning rates" in out and "rmsprop" in out and "--gif" in out


def test_learning_rate_table_in_docstring_matches_the_code():
    doc = demo.__doc__
    for o in demo.OPTIMIZERS:
        row = next(line for line in doc.splitlines() if line.startswith(o.key + " "))
        cells = row.split()
        assert float(cells[-2]) == o.lr["rosenbrock"] and float(cells[-1]) == o.lr["saddle"], o.key


def test_the_story_adaptive_methods_leave_the_saddle_first_momentum_overshoots():
    fn = demo._function("saddle")
    runs = {o.key: demo._run(fn, "saddle", o, 500) for o in demo.OPTIMIZERS if hasattr(fastopt, o.cls)}

    def left_at(r):
        assert r.stopped.startswith("left the plot"), (r.opt.key, r.stopped)
        return int(r.stopped.rsplit(" ", 1)[-1])

    sgd = left_at(runs["sgd"])
    for key in ("rmsprop", "adam", "adagrad", "adadelta"):
        assert left_at(runs[key]) < sgd / 2, key
    # SGD goes to the saddle point first: at step 150 it is still within 0.05 of it
    assert np.abs(runs["sgd"].path[150]).max() < 0.05
    # momentum overshoots the saddle point along x
    assert runs["momentum"].path[:, 0].max() > 0.1


def test_the_story_on_rosenbrock():
    fn = demo._function("rosenbrock")
    runs = {o.key: demo._run(fn, "rosenbrock", o, 500) for o in demo.OPTIMIZERS if o.key in ("sgd", "momentum", "adam")}
    assert not any(r.stopped for r in runs.values())
    assert runs["momentum"].final_loss < runs["sgd"].final_loss / 10
    assert runs["adam"].final_loss < runs["sgd"].final_loss / 10


def test_default_run_is_fast(mpl, tmp_path, capsys):
    t0 = time.perf_counter()
    assert main(["--out", str(tmp_path)]) == 0
    elapsed = time.perf_counter() - t0
    assert elapsed < 30.0, f"default demo took {elapsed:.1f} s"
    assert _is_png(tmp_path / "demo_rosenbrock.png") and _is_png(tmp_path / "demo_saddle.png")
