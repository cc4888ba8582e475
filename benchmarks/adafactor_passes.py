"""Adafactor's step pass by pass: where the time of a factored step goes.

    python benchmarks/adafactor_passes.py [--shape 4096x4096 | --shape resnet50]
                                          [--dtype float32] [--threads 1] [--reps 15]

Times, median of --reps in one process: the whole step; the tiled statistics
pass alone (kernel pass 3, which finishes the statistics of small matrices
itself); the statistics in NumPy from its partial sums for the other matrices
(the combination and lerp/den of fastopt.adafactor.factored_den); and each of the
main plan's passes 0, 1, 2 run alone on the same grads. Also GB/s of the
statistics pass (the grads' bytes). Internals (opt._meta) are used on purpose:
this is a profiling script, not an API.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import fastopt  # noqa: E402
from fastopt._multipass import factored_sums  # noqa: E402
from fastopt.adafactor import factored_den  # noqa: E402
from fastopt.bench.workloads import resnet50_shapes  # noqa: E402


def median_ms(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="4096x4096", help="RxC[xK...] or resnet50")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=15)
    a = ap.parse_args()
    dt = np.dtype(a.dtype).type
    shapes = resnet50_shapes() if a.shape == "resnet50" else [tuple(int(x) for x in a.shape.split("x"))]
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(dt) for s in shapes]
    grads = [rng.standard_normal(s).astype(dt) for s in shapes]
    opt = fastopt.Adafactor(params, lr=1e-2, n_threads=a.threads)
    opt.step(grads)
    (m,) = opt._meta.values()
    fac = [grads[j] for j in m.fj]
    rid = opt._rule_id
    info = opt._spans.get(m.plan)
    scalars = (1.0, 0.1, 0.9, float(np.finfo(dt).eps) ** 2, 1.0)

    def stats_pass():
        m.stats.bind(1, fac, None)
        m.stats.run(rid, scalars + (float(np.finfo(dt).eps),), 3, a.threads, False, per_tensor=m.stats_table)

    def stats_numpy():
        for k, j in enumerate(m.fj):
            if m.small[k]:
                continue  # finished by the statistics pass itself
            bufs = m.bufs[j]
            rows, cols = factored_sums(m.rowpart[k], m.colpart[k])
            factored_den(rows, cols, bufs["row_var"], bufs["col_var"], 0.1, float(np.finfo(dt).eps), dt)

    def main_pass(flags):
        def run():
            m.plan.bind(1, grads, None)
            m.plan.run(rid, scalars, flags, a.threads, False, per_tensor=m.table,
                       out=None if flags == 2 else info.out)
        return run

    nbytes = sum(g.nbytes for g in fac)
    print(f"Adafactor {a.shape} {a.dtype}, {a.threads} thread(s), median of {a.reps} (ms)")
    print(f"  whole step          {median_ms(lambda: opt.step(grads), a.reps):8.2f}")
    t = median_ms(stats_pass, a.reps)
    print(f"  statistics pass     {t:8.2f}   ({nbytes / t / 1e6:.1f} GB/s of grads)")
    print(f"  statistics (NumPy)  {median_ms(stats_numpy, a.reps):8.2f}")
    for flags, name in ((0, "pass 0 (||p||)"), (1, "pass 1 (||u||)"), (2, "pass 2 (apply)")):
        print(f"  {name:<20}{median_ms(main_pass(flags), a.reps):8.2f}")


if __name__ == "__main__":
    main()
