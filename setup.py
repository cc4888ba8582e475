"""Build the fastopt extension: Cython binding + C engine + per-ISA kernels.

Environment:
  FASTOPT_NO_OPENMP=1   build the serial variant even if OpenMP works.
  CC / CFLAGS           honoured as usual by setuptools.

Portable by construction: no -march=native. AVX2/AVX-512 kernels are compiled
under per-file target pragmas (csrc/isa/) and chosen at runtime.
"""
import os
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"

# Strict IEEE arithmetic (never -ffast-math/-Ofast: it would flip FTZ/DAZ for
# the whole process); no FMA contraction so every ISA path agrees bitwise;
# no errno from sqrt so it vectorises.
COMPILE_ARGS = ["-O3", "-g0", "-std=gnu11", "-fno-math-errno", "-ffp-contract=off", "-fvisibility=hidden",
                # Kernels take many pointers that gcc cannot prove disjoint (it ignores
                # restrict on locals): allow enough runtime alias checks to vectorise.
                "--param=vect-max-version-for-alias-checks=64",
                # Kernels pick their loop variants by compile-time flags; the fused
                # forms (kernels/fused.h) test some flags at runtime on purpose, as
                # selects: unswitching would copy their loops once per combination.
                "-fno-unswitch-loops"]
OPENMP_PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d\n", n > 0);
    return n > 0 ? 0 : 1;
}
"""


def _compiler():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def openmp_flags():
    """Compile, link and run a tiny OpenMP program; return the flags or None."""
    if os.environ.get("FASTOPT_NO_OPENMP", "") not in ("", "0"):
        print("fastopt: FASTOPT_NO_OPENMP set, building the serial variant", file=sys.stderr)
        return None
    flags = ["-fopenmp"]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        try:
            subprocess.run(_compiler() + flags + [src, "-o", exe], check=True, capture_output=True, timeout=120)
            out = subprocess.run([exe], check=True, capture_output=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"fastopt: OpenMP probe failed ({exc}); building the serial variant", file=sys.stderr)
            return None
    if out != b"1":
        print("fastopt: OpenMP probe ran but misbehaved; building the serial variant", file=sys.stderr)
        return None
    return flags


def extension():
    omp = openmp_flags()
    sources = ["fastopt/_engine.pyx"] + sorted(
        os.path.join(CSRC, f) for f in os.listdir(os.path.join(HERE, CSRC)) if f.endswith(".c")
    ) + sorted(os.path.join(CSRC, "isa", f) for f in os.listdir(os.path.join(HERE, CSRC, "isa")) if f.endswith(".c"))
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION")]
    compile_args = list(COMPILE_ARGS)
    link_args = []
    if omp:
        macros.append(("FASTOPT_OPENMP", "1"))
        compile_args += omp
        link_args += omp
    return Extension(
        "fastopt._engine",
        sources=sources,
        include_dirs=[np.get_include(), CSRC],
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        libraries=["m"],  # fma/fmaf (kernels/fused.h) on ISAs without the instruction
        depends=[os.path.join(CSRC, "fastopt.h"), os.path.join(CSRC, "rules.def"), os.path.join(CSRC, "fused.def")]
        + [os.path.join(CSRC, "kernels", f) for f in os.listdir(os.path.join(HERE, CSRC, "kernels"))],
    )


class ParallelBuildExt(build_ext):
    """Compile the C sources in parallel (one job per CPU) unless told otherwise.

    build_ext's own --parallel runs *extensions* side by side, and fastopt is
    one extension of several large sources (one per ISA), so the sources are
    compiled in a thread pool here (each job one compiler process); the
    objects are linked in the usual order. The four per-ISA kernel files
    take most of the time (about 40-65 s each here), so two cores halve the
    build."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extension(self, ext):
        jobs = int(self.parallel) if self.parallel and self.parallel is not True else (os.cpu_count() or 1)
        serial_compile = self.compiler.compile
        if jobs <= 1:
            return super().build_extension(ext)

        def compile_parallel(sources, *args, **kwargs):
            with ThreadPoolExecutor(jobs) as pool:
                futures = [pool.submit(serial_compile, [src], *args, **kwargs) for src in sources]
                return [obj for f in futures for obj in f.result()]

        self.compiler.compile = compile_parallel
        try:
            return super().build_extension(ext)
        finally:
            self.compiler.compile = serial_compile


setup(
    cmdclass={"build_ext": ParallelBuildExt},
    ext_modules=cythonize(
        [extension()],
        compiler_directives={"language_level": "3"},
        quiet=True,
    ),
)
