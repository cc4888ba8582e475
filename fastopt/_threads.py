"""Thread control: one process-wide default, overridable per optimizer.

``get_num_threads()`` is, in order of precedence:

1. the value given to :func:`set_num_threads`;
2. otherwise ``omp_get_max_threads()`` of the calling thread, which honours
   ``OMP_NUM_THREADS`` and threadpoolctl's ``threadpool_limits`` (fastopt links
   the OpenMP runtime, so threadpoolctl sees and limits it), capped at the
   number of physical cores available to this process when ``OMP_NUM_THREADS``
   is unset (memory-bound kernels gain nothing from SMT siblings).

A serial build always reports 1.
"""
import numbers
import os

import numpy as np

from . import _engine

_user_threads = None
_physical = None
_OPENMP = _engine.openmp_enabled()
# The OpenMP runtime reads OMP_NUM_THREADS once, at startup; so do we.
_OMP_ENV = "OMP_NUM_THREADS" in os.environ


def physical_cores():
    """Physical cores among the CPUs this process may run on (SMT siblings counted once)."""
    global _physical
    if _physical is None:
        try:
            cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cpus = list(range(os.cpu_count() or 1))
        cores = set()
        for c in cpus:
            path = f"/sys/devices/system/cpu/cpu{c}/topology/core_cpus_list"
            alt = f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list"
            try:
                with open(path if os.path.exists(path) else alt) as f:
                    cores.add(f.read().strip())
            except OSError:
                cores.add(str(c))
        _physical = max(1, len(cores))
    return _physical


def set_num_threads(n):
    """Set the default number of threads for every fastopt call.

    Args:
        n: a positive int, or None to go back to the automatic choice.
    """
    global _user_threads
    _user_threads = check_n_threads(n)


def get_num_threads():
    """The number of threads fastopt uses by default (see module docstring)."""
    if not _OPENMP:
        return 1
    if _user_threads is not None:
        return _user_threads
    n = _engine.omp_max_threads()
    if not _OMP_ENV:
        n = min(n, _physical or physical_cores())
    return max(1, n)


def resolve(n_threads):
    """An optimizer's ``n_threads`` argument -> the count for this call."""
    if n_threads is None:
        return get_num_threads()
    return n_threads if _OPENMP else 1


def check_n_threads(n_threads):
    """None, or a positive integer (int or numpy integer) -> int."""
    if n_threads is None:
        return None
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral) or n_threads < 1:
        raise ValueError(f"n_threads: expected a positive int or None, got {n_threads!r}")
    return int(n_threads)
