"""The software prefetch of plain steps (kernels/fused.h, FO_TM_P), on and off.

    python benchmarks/plain_prefetch.py --threads 1
    python benchmarks/plain_prefetch.py --threads 2 --rounds 31

Above ``_engine.PREFETCH_MIN`` bytes a plain step runs its rule's fused form
in the prefetching mode, and the in-place probe prefetches too;
``_engine.set_fused_tools(False)`` turns both off (the plain kernels, the
plain probe). Rounds alternate the two settings in one process, one step of
each rule and one run of each probe per round, fresh gradients each round,
and the table gives the medians and their ratio (prefetching / plain).
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import fastopt  # noqa: E402
from fastopt import _engine  # noqa: E402
from fastopt.bench import bandwidth  # noqa: E402

RULES = {
    "adam": (fastopt.Adam, dict(lr=1e-3)),
    "sgd-momentum": (fastopt.SGD, dict(lr=1e-3, momentum=0.9)),
    "adagrad": (fastopt.Adagrad, dict(lr=1e-3)),
    "rmsprop": (fastopt.RMSprop, dict(lr=1e-3)),
}
PROBES = [(4, 3), (3, 2)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--elements", type=int, default=1 << 24)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args(argv)
    n, dtype = args.elements, np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    opts = {}
    for name, (cls, kw) in RULES.items():
        p = [rng.standard_normal(n).astype(dtype)]
        grads = [[rng.standard_normal(n).astype(dtype)] for _ in range(2)]
        opts[name] = (cls(p, n_threads=args.threads, **kw), grads)
    probe = bandwidth.Probe(dtype, n)
    times = {}
    old = _engine.fused_tools()
    try:
        for r in range(args.rounds):
            for on in (False, True):
                _engine.set_fused_tools(on)
                for name, (opt, grads) in opts.items():
                    t0 = time.perf_counter()
                    opt.step(grads[r % 2])
                    times.setdefault((name, on), []).append(time.perf_counter() - t0)
                for k, j in PROBES:
                    run, _ = probe.inplace_fn(k, j, args.threads)  # the flag follows fused_tools()
                    t0 = time.perf_counter()
                    run()
                    times.setdefault((f"probe r{k}w{j}", on), []).append(time.perf_counter() - t0)
    finally:
        _engine.set_fused_tools(old)
    print(f"# {n:,} {dtype.name} elements, {args.threads} thread(s), {args.rounds} rounds, medians")
    print(f"{'':16} {'plain':>10} {'prefetch':>10} {'ratio':>7}")
    for name in list(opts) + [f"probe r{k}w{j}" for k, j in PROBES]:
        a, b = statistics.median(times[(name, False)]), statistics.median(times[(name, True)])
        print(f"{name:16} {a * 1e3:8.2f} ms {b * 1e3:8.2f} ms {b / a:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
