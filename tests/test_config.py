"""Build/runtime configuration and thread control: show_config(), config(),
set/get_num_threads, OMP_NUM_THREADS and threadpoolctl."""
import io
import json
import os
import subprocess
import sys

import pytest

import fastopt
from fastopt import _engine, _threads

# Subprocesses start where the fastopt under test was imported from (the
# checkout in development, site-packages for an installed wheel), so they
# import the same package and never the bare sources.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))


@pytest.fixture(autouse=True)
def _restore_threads():
    yield
    fastopt.set_num_threads(None)


def _python(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "FASTOPT_CPU")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_changes)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _parse(text):
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        assert sep, f"not a 'key: value' line: {line!r}"
        out[key.strip()] = value.strip()
    return out


def test_show_config_prints_the_essentials(capsys):
    fastopt.show_config()
    printed = _parse(capsys.readouterr().out)
    cfg = fastopt.config()
    for key in ("compiler", "openmp", "isa_compiled", "isa_detected", "isa_selected", "threads"):
        assert key in printed, key
    assert printed["compiler"] == cfg["compiler"] and printed["compiler"]
    assert printed["openmp"] == str(cfg["openmp"])
    assert printed["isa_compiled"].split(", ") == cfg["isa_compiled"]
    assert printed["isa_detected"] == cfg["isa_detected"]
    assert printed["isa_selected"] == fastopt.get_cpu()
    assert int(printed["threads"]) == fastopt.get_num_threads()
    assert printed["fastopt"] == fastopt.__version__


def test_show_config_to_a_file(capsys):
    buf = io.StringIO()
    fastopt.show_config(file=buf)
    assert capsys.readouterr().out == ""
    assert _parse(buf.getvalue())["isa_selected"] == fastopt.get_cpu()


def test_show_config_reports_current_isa_and_threads(capsys):
    with fastopt.use_cpu("scalar"):
        fastopt.set_num_threads(1)
        fastopt.show_config()
    printed = _parse(capsys.readouterr().out)
    assert printed["isa_selected"] == "scalar"
    assert printed["threads"] == "1"


def test_config_values_are_consistent():
    cfg = fastopt.config()
    assert isinstance(cfg["openmp"], bool)
    assert cfg["openmp"] == _engine.openmp_enabled()
    assert cfg["compiler"] and "unknown" not in cfg["compiler"]
    assert cfg["isa_compiled"][0] == "scalar" and "baseline" in cfg["isa_compiled"]
    assert set(cfg["isa_supported"]) <= set(cfg["isa_compiled"])
    assert cfg["isa_detected"] == cfg["isa_supported"][-1]
    # available_cpus() stops at the FASTOPT_CPU cap, if any
    assert fastopt.available_cpus() == tuple(cfg["isa_supported"][:len(fastopt.available_cpus())])
    assert cfg["isa_selected"] == fastopt.get_cpu()
    assert cfg["threads"] == fastopt.get_num_threads() >= 1
    assert cfg["block_elements"] == _engine.BLOCK
    json.dumps(cfg)  # plain data only


def test_set_and_get_num_threads():
    auto = fastopt.get_num_threads()
    assert auto >= 1
    fastopt.set_num_threads(1)
    assert fastopt.get_num_threads() == 1
    assert fastopt.config()["threads"] == 1
    fastopt.set_num_threads(3)
    assert fastopt.get_num_threads() == (3 if fastopt.config()["openmp"] else 1)
    fastopt.set_num_threads(None)
    assert fastopt.get_num_threads() == auto


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, [2]])
def test_set_num_threads_rejects(bad):
    fastopt.set_num_threads(2)
    with pytest.raises(ValueError, match=r"n_threads: expected a positive int or None"):
        fastopt.set_num_threads(bad)
    assert fastopt.get_num_threads() == (2 if fastopt.config()["openmp"] else 1)


def test_automatic_thread_count_capped_at_physical_cores():
    if "OMP_NUM_THREADS" in os.environ:
        pytest.skip("OMP_NUM_THREADS is set")
    n = fastopt.get_num_threads()
    if fastopt.config()["openmp"]:
        assert n == min(_engine.omp_max_threads(), _threads.physical_cores())
    else:
        assert n == 1


CODE = ("import fastopt, json; print(json.dumps([fastopt.get_num_threads(), fastopt.config()['threads'], "
        "fastopt.config()['OMP_NUM_THREADS']]))")


def test_omp_num_threads_1_honoured():
    n, threads, env = json.loads(_python(CODE, OMP_NUM_THREADS="1"))
    assert n == threads == 1 and env == "1"


def test_omp_num_threads_above_physical_cores_is_respected():
    """An explicit OMP_NUM_THREADS is the user's choice: not capped."""
    n, threads, env = json.loads(_python(CODE, OMP_NUM_THREADS="3"))
    assert n == threads == (3 if fastopt.config()["openmp"] else 1)


def test_set_num_threads_overrides_omp_num_threads():
    out = _python("import fastopt; fastopt.set_num_threads(2); print(fastopt.get_num_threads())",
                  OMP_NUM_THREADS="1")
    assert int(out) == (2 if fastopt.config()["openmp"] else 1)


def test_threadpoolctl_sees_fastopt_openmp():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fastopt.config()["openmp"]:
        pytest.skip("serial build")
    info = threadpoolctl.threadpool_info()
    omp = [d for d in info if d["user_api"] == "openmp"]
    assert omp, f"no OpenMP runtime in threadpool_info(): {info}"


def test_threadpoolctl_limits_fastopt_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fastopt.config()["openmp"]:
        pytest.skip("serial build")
    before = fastopt.get_num_threads()
    with threadpoolctl.threadpool_limits(1):
        assert fastopt.get_num_threads() == 1
        assert fastopt.config()["threads"] == 1
    assert fastopt.get_num_threads() == before
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastopt.get_num_threads() == 1
        fastopt.set_num_threads(2)  # an explicit setting wins over the runtime's limit
        assert fastopt.get_num_threads() == 2
    fastopt.set_num_threads(None)
    assert fastopt.get_num_threads() == before


def test_threadpoolctl_in_a_fresh_process():
    """Without torch or anything else loaded: the OpenMP runtime threadpoolctl
    finds is fastopt's, and limiting it limits fastopt."""
    pytest.importorskip("threadpoolctl")
    if not fastopt.config()["openmp"]:
        pytest.skip("serial build")
    code = ("import json, numpy, threadpoolctl\n"
            "omp = lambda: [d for d in threadpoolctl.threadpool_info() if d['user_api'] == 'openmp']\n"
            "before = omp()\n"
            "import fastopt\n"
            "after = omp()\n"
            "with threadpoolctl.threadpool_limits(1, user_api='openmp'):\n"
            "    n = fastopt.get_num_threads()\n"
            "auto = min(fastopt._engine.omp_max_threads(), fastopt._threads.physical_cores())\n"
            "print(json.dumps([len(before), len(after), n, fastopt.get_num_threads(), auto]))")
    n_before, n_after, limited, unlimited, auto = json.loads(_python(code))
    assert n_after == n_before + 1, "importing fastopt should bring its OpenMP runtime"
    assert limited == 1
    assert unlimited == auto >= 1, "the limit must be lifted when the context exits"


def test_small_steps_never_start_openmp_threads():
    """Work under the serial threshold runs on the calling thread: a process
    that only takes small steps never creates an OpenMP pool (fork-safe); a
    large step with 2 threads does."""
    if not fastopt.config()["openmp"]:
        pytest.skip("serial build")
    code = ("import os, json, numpy as np, fastopt\n"
            "n = lambda: len(os.listdir('/proc/self/task'))\n"
            "counts = [n()]\n"
            "ps = [np.ones(1000) for _ in range(10)]\n"
            "opt = fastopt.Adam(ps, n_threads=2)\n"
            "for _ in range(5): opt.step([np.ones(1000)] * 10)\n"
            "counts.append(n())\n"
            "big = np.ones(4 * fastopt._engine.serial_threshold())\n"
            "fastopt.SGD([big], lr=0.1, n_threads=2).step([np.ones_like(big)])\n"
            "counts.append(n())\n"
            "print(json.dumps(counts))")
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc")
    start, after_small, after_big = json.loads(_python(code, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="2"))
    assert after_small == start, "a small step started threads"
    assert after_big > start, "a large step with n_threads=2 ran on one thread"
