"""Shared fixtures: ISA levels, thread counts, and a forced parallel path.

``parallel`` lowers the engine's serial threshold to zero for the test, so
even small inputs go through the OpenMP region (with 2 threads) and through
many chunks; it is restored afterwards.
"""
import numpy as np
import pytest

import fastopt
from fastopt import _engine

ISAS = list(fastopt.available_cpus())
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
