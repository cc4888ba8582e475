"""``python -m fastopt bench``: bandwidth, optimizer steps and peers, as a table.

Modes:
    (default)     quick, under a minute: STREAM triad and the in-place
                  bandwidth at each thread count; SGD-momentum and Adam,
                  float32, on 2^16, 2^20 and 2^24 elements at 1 and N threads,
                  next to the NumPy reference and torch (fused=True,
                  foreach=True) when installed; 1,000 x 512 vs 1 x 512,000;
                  the fixed cost of a step (10 tensors, Python + Cython).
    --full        every registered rule x float32/float64 x every registered
                  workload (single tensors of 2^10, 2^14, 2^18, 2^20, 2^22,
                  2^24 and 2^26 elements, 1,000 x 512, 1 x 512,000, ResNet-50,
                  GPT-2 small for float32 Adam) at 1..N threads, torch for-loop
                  peer too. About an hour and ~10 GB of memory here (2^24 alone:
                  13 minutes, 2^26 over half an hour).
    --quick-test  tiny sizes and few repetitions (for the test suite).
    --tools       (with any mode) the training tools' cost on a 2^24-element
                  Adam step: clip_value, clip_global_norm, skip_nonfinite,
                  track_update_ratio, a fused EMA, all together, each as a
                  ratio to plain Adam in the same run (fastopt/bench/tools.py).

Filters (comma-separated lists, any mode): --rule, --dtype, --threads,
--workload; --all is --rule all (every rule: a row each, with its bytes per
parameter and % of the bandwidth of its own access pattern). Outputs: the table on stdout, --json PATH, --png PATH.

Extra measurements: --overhead (on by default unless --workload is given),
--subnormals (10,000 Adam steps with tiny gradients, flush_denormals off/on;
on with --full), --busy N (N spinning processes during the run: thread
scaling with the other cores loaded). Ctrl-C during the cases stops the run
and reports (and writes as JSON) the cases finished so far.
"""
import argparse
import sys
import time

import numpy as np

import fastopt

from . import report, rules as rules_mod, workloads as wl_mod
from .runner import Policy, Runner, busy_loops, measure_overhead, measure_subnormals, torch_available

__all__ = ["main", "build_parser"]

QUICK_WORKLOADS = ("2^16", "2^20", "2^24")
QUICK_TEST_WORKLOADS = ("2^10", "2^12")


def _csv(values):
    out = []
    for v in values or ():
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _threads(values, n_max):
    out = []
    for v in _csv(values):
        if "-" in v:
            a, b = v.split("-", 1)
            out += list(range(int(a), int(b) + 1))
        elif v == "max":
            out.append(n_max)
        else:
            out.append(int(v))
    if any(t < 1 for t in out):
        raise ValueError("--threads: thread counts must be >= 1")
    return sorted(set(out))


def build_parser():
    p = argparse.ArgumentParser(prog="python -m fastopt bench",
                                description="Benchmark fastopt against memory bandwidth, NumPy and torch.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="every rule x float32/float64 x workload")
    mode.add_argument("--quick-test", action="store_true", help="tiny sizes, few repetitions (CI)")
    p.add_argument("--rule", action="append", metavar="NAMES",
                   help=f"rules to run (comma-separated; 'all'); known: {', '.join(rules_mod.names())}")
    p.add_argument("--all", action="store_true",
                   help="every registered rule (the same as --rule all), with the mode's dtypes and workloads")
    p.add_argument("--dtype", action="append", metavar="DTYPES", help="float32 and/or float64")
    p.add_argument("--threads", action="append", metavar="LIST", help="thread counts, e.g. 1,2 or 1-4 or max")
    p.add_argument("--workload", action="append", metavar="NAMES",
                   help=f"workloads (comma-separated): 2^k, CxN, {', '.join(n for n in wl_mod.WORKLOADS if not n.startswith('2^'))}")
    p.add_argument("--torch", action="append", metavar="VARIANTS",
                   help="torch peers: fused, foreach, forloop, or none (default: fused,foreach; --full adds forloop)")
    p.add_argument("--no-torch", action="store_true", help="no torch peers")
    p.add_argument("--no-numpy", action="store_true", help="no NumPy reference peer")
    p.add_argument("--compare", dest="compare", action="store_true", default=None,
                   help="time 1000x512 against 1x512000 side by side (default unless --workload is given)")
    p.add_argument("--no-compare", dest="compare", action="store_false")
    p.add_argument("--reps", type=int, metavar="N", help="maximum repetitions (rounds) per case")
    p.add_argument("--budget", type=float, metavar="S", help="seconds per case after the minimum repetitions")
    p.add_argument("--bw-elements", type=int, metavar="N", help="elements per bandwidth-probe array (default 2^24)")
    p.add_argument("--serial-threshold", type=int, metavar="N",
                   help="set the engine's serial threshold for this run (0: always use the thread team; "
                        "for finding the thread crossover)")
    p.add_argument("--tools", action="store_true",
                   help="also time clipping, the non-finite guard, telemetry and a fused EMA on a 2^24 Adam "
                        "step as ratios to plain Adam (always on with --full)")
    p.add_argument("--overhead", dest="overhead", action="store_true", default=None,
                   help="measure the fixed cost of a step (default unless --workload is given)")
    p.add_argument("--no-overhead", dest="overhead", action="store_false")
    p.add_argument("--subnormals", action="store_true",
                   help="time the first and last 100 of 10,000 Adam steps with tiny gradients, "
                        "flush_denormals off and on (default with --full)")
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="run N busy-loop processes during the benchmark (a loaded machine)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--png", metavar="PATH", help="write a roofline plot (needs matplotlib)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _plan(args):
    """Resolve the mode and filters into (rules, dtypes, threads, workloads, comparisons, runner kwargs)."""
    n_max = fastopt.get_num_threads()
    if args.full:
        rule_names = rules_mod.names()
        dtypes = ["float32", "float64"]
        threads = list(range(1, n_max + 1))
        workloads = list(wl_mod.WORKLOADS)  # every registered workload
        variants = ["fused", "foreach", "forloop"]
        policy = Policy(slow_s=0.5, slow_reps=3, numpy_max_reps=5)
        bw_elements = 1 << 25
    elif args.quick_test:
        rule_names = list(rules_mod.DEFAULT_QUICK)
        dtypes = ["float32"]
        threads = sorted({1, n_max})
        workloads = list(QUICK_TEST_WORKLOADS)
        variants = ["fused", "foreach"]
        policy = Policy(warmup=1, min_reps=2, max_reps=3, budget_s=0.0, min_block_s=2e-4, numpy_min_reps=1,
                        numpy_max_reps=2, numpy_budget_s=0.0, grad_sets=2, paired_min_bytes=1 << 16, bw_reps=2)
        bw_elements = 1 << 16
    else:
        rule_names = list(rules_mod.DEFAULT_QUICK)
        dtypes = ["float32"]
        threads = sorted({1, n_max})
        workloads = list(QUICK_WORKLOADS)
        variants = ["fused", "foreach"]
        policy = Policy(min_reps=5, max_reps=11, budget_s=0.25, numpy_min_reps=1, numpy_max_reps=3,
                        numpy_budget_s=0.1, bw_reps=3, slow_s=0.02, slow_reps=3, paired_min_reps=9)
        bw_elements = 1 << 24
    if args.all and args.rule:
        raise ValueError("--all: give either --all or --rule")
    if args.all:
        rule_names = rules_mod.names()
    if args.rule:
        names = _csv(args.rule)
        rule_names = rules_mod.names() if "all" in names else names
    for n in rule_names:
        rules_mod.get(n)
    if args.dtype:
        dtypes = [np.dtype(d).name for d in _csv(args.dtype)]
        for d in dtypes:
            if d not in ("float32", "float64"):
                raise ValueError(f"--dtype: {d} is not float32 or float64")
    if args.threads:
        threads = _threads(args.threads, n_max)
    explicit_workloads = bool(args.workload)
    if explicit_workloads:
        workloads = _csv(args.workload)
    wls = [wl_mod.get(w) for w in workloads]
    if args.no_torch:
        variants = []
    elif args.torch:
        variants = [v for v in _csv(args.torch) if v != "none"]
    if args.reps:
        policy.max_reps = max(1, args.reps)
        policy.min_reps = min(policy.min_reps, policy.max_reps)
        policy.numpy_max_reps = min(policy.numpy_max_reps, policy.max_reps)
        policy.numpy_min_reps = min(policy.numpy_min_reps, policy.numpy_max_reps)
    if args.budget is not None:
        policy.budget_s = args.budget
    if args.bw_elements:
        bw_elements = args.bw_elements
    compare = args.compare if args.compare is not None else not explicit_workloads
    args.run_overhead = args.overhead if args.overhead is not None else not explicit_workloads
    args.run_subnormals = args.subnormals or args.full
    args.subnormal_steps = 300 if args.quick_test else 10_000
    args.explicit_compare = bool(args.compare)
    comparisons = []
    if compare:
        pair = ("10x512", "1x5120") if args.quick_test else ("1000x512", "1x512000")
        comparisons = [(wl_mod.get(pair[0]), wl_mod.get(pair[1]))]
    return rule_names, dtypes, threads, wls, comparisons, explicit_workloads, dict(
        policy=policy, torch_variants=variants, numpy=not args.no_numpy, bw_elements=bw_elements, seed=args.seed)


def main(argv=None):
    """Run the benchmark; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rule_names, dtypes, threads, wls, comparisons, explicit, kw = _plan(args)
    except (KeyError, ValueError) as exc:
        parser.print_usage(sys.stderr)
        print(f"python -m fastopt bench: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    out = sys.stdout
    old_threshold = fastopt._engine.serial_threshold()
    if args.serial_threshold is not None:
        fastopt._engine.set_serial_threshold(max(0, args.serial_threshold))
    def log(msg):
        if not args.quiet:
            print(f"  [{time.perf_counter() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)

    cfg = fastopt.config()
    print(report.format_config(cfg), file=out)
    if kw["torch_variants"] and not torch_available():
        print("# torch is not installed: no torch peers", file=out)
    stop_busy = busy_loops(args.busy) if args.busy > 0 else None
    if stop_busy is not None:
        print(f"# {args.busy} busy-loop process(es) running during the benchmark", file=out)
    runner = Runner(log=log, **kw)
    tv = ", ".join(f"torch-{v}" for v in runner.torch_variants) or "none"
    print(f"# peers: {'numpy reference, ' if kw['numpy'] else ''}{tv}; threads {threads}", file=out)
    out.flush()
    rules = [rules_mod.get(n) for n in rule_names]
    explicit_cmp = args.explicit_compare
    cases, comps, overhead, subnormals, tool_rows = [], [], [], [], []
    interrupted = False
    try:
        patterns = sorted({kj for r in rules for kj, _ in r.probe_passes()}, key=lambda p: (-p[0], -p[1]))
        bw = runner.measure_bandwidth(patterns, list(range(1, max(threads) + 1)), dtypes)
        print("\n" + report.format_bandwidth(bw), file=out)
        out.flush()
        try:
            for wl in wls:
                for dtype in dtypes:
                    for rule in rules:
                        if not explicit and (wl.full_only and not args.full or not wl.accepts(rule.name, dtype)):
                            continue
                        if explicit and not wl.accepts(rule.name, dtype):
                            log(f"{wl.name} is not run with {rule.name} {dtype}; skipped")
                            continue
                        nbytes = wl.n_params * np.dtype(dtype).itemsize
                        if rule.max_bytes is not None and nbytes > rule.max_bytes:
                            log(f"{rule.name} {dtype} {wl.name}: skipped, {nbytes / 2**20:,.0f} MiB per array is "
                                f"over the rule's {rule.max_bytes / 2**20:,.0f} MiB (memory)")
                            continue
                        for nt in threads:
                            cases.append(runner.run_case(rule, dtype, wl, nt))
        except KeyboardInterrupt:
            # Ctrl-C (SIGINT) in a long run: report the cases finished so far.
            interrupted = True
            print(f"\n# interrupted: the {len(cases)} case(s) finished before it", file=out)
        if cases:
            print("\n" + report.format_cases(cases), file=out)
            out.flush()
        # After an interruption only the cases are reported: nothing else runs.
        for many_wl, one_wl in ([] if interrupted else comparisons):
            for dtype in dtypes:
                for rule in rules:
                    if rule.name not in ("adam", "sgd-momentum") and not args.full:
                        continue
                    for nt in threads:
                        # Quick mode: torch's many-tensor steps with several threads can take
                        # seconds on a busy machine (a parallel region per tensor); 1 thread only.
                        comps.append(runner.compare(rule, dtype, many_wl, one_wl, nt,
                                                    torch=args.full or explicit_cmp or nt == 1))
        if comps:
            print("\n" + report.format_comparisons(comps), file=out)
        if args.run_overhead and not interrupted:
            # One thread: the Python + Cython part does not depend on the thread
            # count, and with more a 10-tensor step of 222,220 elements would
            # time the OpenMP team (on a shared machine, its waits) instead.
            overhead.append(measure_overhead(rules_mod.get("adam"), 1, reps=200 if args.quick_test else 2000))
            log(f"overhead: empty step {overhead[-1]['empty_s'] * 1e6:.2f} us, "
                f"extra {overhead[-1]['extra_s'] * 1e6:.2f} us")
            print("\n" + report.format_overhead(overhead), file=out)
        if args.run_subnormals and not interrupted:
            subnormals = measure_subnormals(rules_mod.get("adam"), steps=args.subnormal_steps)
            print("\n" + report.format_subnormals(subnormals), file=out)
        if (args.tools or args.full or args.quick_test) and not interrupted:
            from .tools import format_tools, run_tools
            n = 1 << 12 if args.quick_test else 1 << 24
            tool_rows = run_tools(n, dtypes[0], threads, policy=kw["policy"], seed=args.seed, log=log,
                                  min_rounds=2 if args.quick_test else 16)
            print("\n" + format_tools(tool_rows), file=out)
            out.flush()
        targets = report.evaluate_targets(cases, comps, overhead, subnormals)
        if targets:
            print("\n" + report.format_targets(targets), file=out)
    finally:
        if stop_busy is not None:
            stop_busy()
        runner.close()
        fastopt._engine.set_serial_threshold(old_threshold)
    elapsed = time.perf_counter() - t_start
    print(f"\n# {len(cases)} cases, {len(comps)} comparisons in {elapsed:.1f} s", file=out)
    all_bw = list(runner.bandwidth.values())
    if args.json:
        doc = report.to_json(cfg, all_bw, cases, comps, argv=argv,
                             extra=dict(elapsed_s=elapsed, tools=[r.to_dict() for r in tool_rows],
                                        interrupted=interrupted),
                             overhead=overhead, subnormals=subnormals)
        report.write_json(doc, args.json)
        print(f"# wrote {args.json}", file=out)
    if args.png:
        msg = report.write_png(cases, all_bw, args.png, title="fastopt bench " + " ".join(argv))
        print(f"# {msg}" if msg else f"# wrote {args.png}", file=out)
    return 0
