"""Where a step over 1,000 x 512 spends its time, against 1 x 512,000.

    python benchmarks/many_small.py --threads 1 --layout separate
    python benchmarks/many_small.py --threads 2 --layout contiguous --rule sgd-momentum

The two workloads alternate, one step each, so each finds the caches as the
other left them (as in ``python -m fastopt bench``'s comparison). Odd rounds
time ``step()``; even rounds time ``Plan.bind`` (the grad checks) and
``Plan.run`` (the C call) apart. ``--layout separate`` allocates every param
and grad on its own (as the bench does); ``contiguous`` makes them views of
one buffer per set (what a parameter arena would give). Medians in µs.
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
from fastopt.bench import rules as rules_mod  # noqa: E402


def make(count, n, contiguous, rng):
    if contiguous:
        flat = rng.standard_normal(count * n).astype(np.float32)
        params = [flat[i * n:(i + 1) * n] for i in range(count)]
        gsets = []
        for _ in range(3):
            g = (rng.standard_normal(count * n) * 1e-2).astype(np.float32)
            gsets.append([g[i * n:(i + 1) * n] for i in range(count)])
    else:
        params = [rng.standard_normal(n).astype(np.float32) for _ in range(count)]
        gsets = [[(rng.standard_normal(n) * 1e-2).astype(np.float32) for _ in range(count)] for _ in range(3)]
    return params, gsets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rule", default="adam")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layout", choices=("separate", "contiguous"), default="separate")
    ap.add_argument("--rounds", type=int, default=600)
    args = ap.parse_args(argv)
    rule = rules_mod.get(args.rule)
    rng = np.random.default_rng(0)
    nt = args.threads
    work = {}
    for name, (count, n, contiguous) in {"many": (1000, 512, args.layout == "contiguous"),
                                          "one": (1, 512000, True)}.items():
        params, gsets = make(count, n, contiguous, rng)
        opt = rule.make_fastopt(params, nt)
        opt.step(gsets[0])
        opt.step(gsets[1])
        (_, plan), = opt._runtimes[0].plans
        scalars, flags = opt._scalars(opt.param_groups[0], 3)
        work[name] = (opt, gsets, plan, opt._writable_set(), scalars, flags)
    perf = time.perf_counter
    t = {(k, part): [] for k in work for part in ("step", "bind", "run")}
    for r in range(args.rounds):
        for k, (opt, gsets, plan, ws, scalars, flags) in work.items():
            g = gsets[r % 3]
            if r % 2:
                t0 = perf()
                opt.step(g)
                t[k, "step"].append(perf() - t0)
            else:
                t0 = perf()
                plan.bind(1, g, ws)
                t1 = perf()
                plan.run(opt._rule_id, scalars, flags, nt)
                t[k, "run"].append(perf() - t1)
                t[k, "bind"].append(t1 - t0)
    m = {key: float(np.median(v)) * 1e6 for key, v in t.items()}
    print(f"{args.rule} float32, {nt} thread(s), {args.layout}, isa {fastopt.get_cpu()}")
    for k in work:
        print(f"  {k:<5} step {m[k, 'step']:8.1f}   bind {m[k, 'bind']:7.1f}   run {m[k, 'run']:8.1f}")
    print(f"  many/one: step {m['many', 'step'] / m['one', 'step']:.2f}x, run {m['many', 'run'] / m['one', 'run']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
