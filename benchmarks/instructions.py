"""Instructions and elements per nanosecond of every elementwise rule, in cache.

    python benchmarks/instructions.py                 # every rule of the bench registry, float32
    python benchmarks/instructions.py --rule adam,sgd-momentum --n 65536 --dtype float64

Two measurements per rule (float32 by default, one thread):

* **elements/ns**: median ``step()`` time over 2^14, 2^16 and 2^18 elements
  (one tensor; 2^18 float32 Adam moves 7 MiB, L2/L3-resident), i.e. the
  rule's compute rate when memory is not the limit.
* **instructions/element**: valgrind's callgrind counts the instructions
  executed inside ``fo_run`` (the C driver and the kernel, not Python) during
  10 steps on ``--n`` elements, after 2 warmup steps, divided by 10 x n.
  It is deterministic. valgrind emulates AVX2 but not AVX-512, so the count is
  for the ``avx2`` kernels (8 float32 / 4 float64 lanes per instruction); the
  column ``/vector`` is the count per 8 (float32) or 4 (float64) elements,
  to compare with the loads, stores and arithmetic the rule's math needs.

One valgrind process runs every rule: the child calls
``_engine.set_serial_threshold`` right before the timed steps (callgrind
zeroes its counters on entering ``fo_set_serial_threshold``) and
``_engine.serial_threshold`` right after (callgrind dumps on entering
``fo_serial_threshold``), so each dump holds exactly one rule's 10 steps.
Skips cleanly (exit status 0, a message) when valgrind is not installed.
"""
import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

STEPS = 10
WARMUP = 2


def _data(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n).astype(dtype)
    gsets = [[(rng.standard_normal(n) * 1e-2).astype(dtype)] for _ in range(3)]
    return p, gsets


def child(rule_names, n, dtype):
    """Run inside valgrind: per rule, warm up, then 10 steps between the markers."""
    import fastopt
    from fastopt import _engine
    from fastopt.bench import rules as rules_mod

    threshold = _engine.serial_threshold()
    print("isa", fastopt.get_cpu(), flush=True)
    for name in rule_names:
        rule = rules_mod.get(name)
        p, gsets = _data(n, dtype)
        opt = rule.make_fastopt([p], 1)
        for s in range(WARMUP):
            opt.step(gsets[s % 3])
        _engine.set_serial_threshold(threshold)  # callgrind: zero the counters
        for s in range(STEPS):
            opt.step(gsets[s % 3])
        _engine.serial_threshold()               # callgrind: dump
        print("done", name, flush=True)


def count_instructions(rule_names, n, dtype):
    """{rule: instructions in fo_run per step} from one callgrind run, or None without valgrind."""
    vg = shutil.which("valgrind")
    if vg is None:
        return None, None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = [vg, "--tool=callgrind", f"--callgrind-out-file={out}", "--toggle-collect=fo_run",
               "--zero-before=fo_set_serial_threshold", "--dump-before=fo_serial_threshold",
               sys.executable, os.path.abspath(__file__), "--child", "--rule", ",".join(rule_names),
               "--n", str(n), "--dtype", dtype]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if res.returncode != 0:
            raise RuntimeError(f"valgrind failed:\n{res.stderr[-3000:]}")
        isa = next((line.split()[1] for line in res.stdout.splitlines() if line.startswith("isa ")), "?")
        dumps = []
        for path in glob.glob(out + "*"):
            part, total = 0, None
            with open(path) as f:
                for line in f:
                    if line.startswith("part:"):
                        part = int(line.split()[1])
                    elif line.startswith("summary:") or line.startswith("totals:"):
                        total = int(line.split()[1])
            dumps.append((part, total or 0))
        dumps.sort()
        # Dump 1 is taken when the first rule's child calls serial_threshold()
        # at startup... the child calls it once before the loop: skip that one.
        per_rule = [t for _, t in dumps][1:1 + len(rule_names)]
        if len(per_rule) != len(rule_names):
            raise RuntimeError(f"expected {len(rule_names)} callgrind dumps after the first, got {len(dumps)}")
        return {name: t / STEPS for name, t in zip(rule_names, per_rule)}, isa


def time_rules(rule_names, sizes, dtype, reps=200):
    """{(rule, n): median step seconds} on one thread, each step's data in cache."""
    from fastopt.bench import rules as rules_mod

    out = {}
    perf = time.perf_counter
    for name in rule_names:
        rule = rules_mod.get(name)
        for n in sizes:
            p, gsets = _data(n, dtype)
            opt = rule.make_fastopt([p], 1)
            for s in range(WARMUP):
                opt.step(gsets[s % 3])
            block = max(1, int(2e-4 / max(1e-9, _once(opt, gsets, perf))))
            times = []
            for r in range(reps):
                t0 = perf()
                for i in range(block):
                    opt.step(gsets[(r + i) % 3])
                times.append((perf() - t0) / block)
            out[name, n] = statistics.median(times)
    return out


def _once(opt, gsets, perf):
    t0 = perf()
    opt.step(gsets[0])
    return perf() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rule", help="comma-separated bench rule names (default: every registered rule)")
    ap.add_argument("--n", type=int, default=1 << 16, help="elements of the callgrind run (default 2^16)")
    ap.add_argument("--sizes", default="14,16,18", help="log2 sizes of the timing (default 14,16,18)")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--no-valgrind", action="store_true", help="timing only")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from fastopt.bench import rules as rules_mod

    names = args.rule.split(",") if args.rule else rules_mod.names()
    dtype = np.dtype(args.dtype).name
    if args.child:
        child(names, args.n, dtype)
        return 0
    import fastopt

    sizes = [1 << int(k) for k in args.sizes.split(",")]
    counts, isa = (None, None) if args.no_valgrind else count_instructions(names, args.n, dtype)
    if counts is None and not args.no_valgrind:
        print("# valgrind is not installed: instruction counts skipped")
    times = time_rules(names, sizes, dtype)
    lanes = 32 // np.dtype(dtype).itemsize
    print(f"# {dtype}, 1 thread; elements/ns at isa {fastopt.get_cpu()} (median step, data in cache)"
          + (f"; instructions in fo_run per element at isa {isa} (callgrind, {args.n:,} elements, "
             f"{STEPS} steps; /vector = per {lanes} elements)" if counts else ""))
    head = f"{'rule':<26}" + "".join(f"{'2^%d el/ns' % (s.bit_length() - 1):>11}" for s in sizes)
    if counts:
        head += f"{'instr/el':>10}{'/vector':>9}"
    print(head)
    print("-" * len(head))
    for name in names:
        line = f"{name:<26}" + "".join(f"{s / (times[name, s] * 1e9):>11.2f}" for s in sizes)
        if counts:
            ipe = counts[name] / args.n
            line += f"{ipe:>10.2f}{ipe * lanes:>9.1f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
