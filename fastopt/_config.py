"""Build and runtime configuration: ISA selection and ``show_config()``.

At import the best ISA level that is compiled in and supported by this CPU
and OS (CPUID + XGETBV) is selected, capped by the environment variable
``FASTOPT_CPU`` (``scalar``, ``baseline``, ``avx2`` or ``avx512``).
"""
import contextlib
import os
import sys

from . import _engine, _threads

ISA_LEVELS = _engine.ISA_NAMES


def _select_from_env():
    cap = os.environ.get("FASTOPT_CPU", "").strip().lower()
    best = _engine.isa_best()
    if not cap:
        return best
    if cap not in ISA_LEVELS:
        raise ImportError(f"FASTOPT_CPU={cap!r} is not one of {', '.join(ISA_LEVELS)}")
    level = min(ISA_LEVELS.index(cap), ISA_LEVELS.index(best))
    return ISA_LEVELS[level]


_CAP = _select_from_env()
_engine.set_isa(_CAP)


def get_cpu():
    """The ISA level whose kernels run now (``'scalar'``, ``'baseline'``, ``'avx2'``, ``'avx512'``)."""
    return _engine.get_isa()


def set_cpu(level):
    """Select an ISA level; it must be compiled in, supported by this CPU, and
    not above the ``FASTOPT_CPU`` cap."""
    if level in ISA_LEVELS and ISA_LEVELS.index(level) > ISA_LEVELS.index(_CAP):
        raise ValueError(f"ISA level {level!r} is above the FASTOPT_CPU cap {_CAP!r}")
    _engine.set_isa(level)


def available_cpus():
    """The ISA levels that can run here (compiled, supported, within the
    ``FASTOPT_CPU`` cap), lowest first."""
    return tuple(i for i in _engine.isa_supported() if ISA_LEVELS.index(i) <= ISA_LEVELS.index(_CAP))


@contextlib.contextmanager
def use_cpu(level):
    """Context manager that runs kernels at `level` and restores the previous one."""
    old = _engine.get_isa()
    set_cpu(level)
    try:
        yield
    finally:
        _engine.set_isa(old)


def config():
    """The configuration as a dict (what :func:`show_config` prints)."""
    from . import __version__
    import numpy

    return {
        "fastopt": __version__,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "compiler": _engine.compiler(),
        "openmp": _engine.openmp_enabled(),
        "isa_compiled": list(_engine.isa_compiled()),
        "isa_detected": _engine.isa_best(),
        "isa_supported": list(_engine.isa_supported()),
        "isa_selected": _engine.get_isa(),
        "FASTOPT_CPU": os.environ.get("FASTOPT_CPU"),
        "threads": _threads.get_num_threads(),
        "omp_max_threads": _engine.omp_max_threads(),
        "physical_cores": _threads.physical_cores(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "serial_threshold": _engine.serial_threshold(),
        "block_elements": _engine.BLOCK,
    }


def show_config(file=None):
    """Print compiler, OpenMP, compiled/detected/selected ISA and thread count."""
    file = file or sys.stdout
    for key, value in config().items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key:>18}: {value}", file=file)
