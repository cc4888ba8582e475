"""Shared fixtures: ISA levels, thread counts, and a forced parallel path.

``parallel`` lowers the engine's serial threshold to zero for the test, so
even small inputs go through the OpenMP region (with 2 threads) and through
many chunks; it is restored afterwards.
"""
import os

import numpy as np
import pytest

import fastopt
from fastopt import _engine

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_report_header(config):
    return [f"fastopt {fastopt.__version__} from {os.path.dirname(fastopt.__file__)}",
            f"fastopt config: isa={fastopt.get_cpu()} openmp={fastopt.config()['openmp']} "
            f"threads={fastopt.get_num_threads()}"]


def pytest_sessionstart(session):
    # CI sets this to be sure the installed wheel is under test, not ./fastopt.
    if os.environ.get("FASTOPT_TEST_EXPECT_INSTALLED"):
        here = os.path.dirname(os.path.abspath(fastopt.__file__))
        if here.startswith(os.path.join(_ROOT, "fastopt")):
            raise pytest.UsageError(f"testing the source tree ({here}), not the installed fastopt")

ISAS = list(fastopt.available_cpus())
# FASTOPT_TEST_BEST_ISA_ONLY=1 (CI's serial-build run) tests only the selected
# level; the ISA sweep itself is exercised by the main runs.
if os.environ.get("FASTOPT_TEST_BEST_ISA_ONLY"):
    ISAS = [fastopt.get_cpu()]
THREADS = [1, 2]


@pytest.fixture(params=ISAS)
def isa(request):
    with fastopt.use_cpu(request.param):
        yield request.param


@pytest.fixture
def parallel():
    old = _engine.serial_threshold()
    _engine.set_serial_threshold(0)
    yield
    _engine.set_serial_threshold(old)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
