"""Markdown tables from a ``python -m fastopt bench --json PATH`` result.

    python benchmarks/full_tables.py full.json [--workload 2^24,resnet50] > tables.md

Prints, from the JSON alone (nothing is re-measured): the command, the
machine's bandwidth table, one table per workload (every rule x dtype x
thread count: fastopt's median step, GB/s of the rule's own byte count, % of
the bandwidth of its probes: its in-place pattern, or the sum of its passes'
probes (bold below 90% on the workloads the
targets hold to it: 2^24 elements or more, ResNet-50), and each peer's step time as a
multiple of fastopt's, "x" = peer / fastopt, median of per-round ratios as the
bench reports it), the many-small-tensors comparisons, the fixed cost and
subnormal lines, and the target summary with every miss. docs/performance.md
quotes these tables; this script is how they are made from the run.
"""
import argparse
import json
import os
import sys
from collections import Counter, defaultdict

try:  # the installed fastopt (CI: a wheel; the checkout has no built extension) ...
    from fastopt.bench.report import _fmt as fmt, _fmt_time as fmt_time
except ImportError:  # ... or the checkout's in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fastopt.bench.report import _fmt as fmt, _fmt_time as fmt_time

PEERS = ("torch-fused", "torch-foreach", "torch-forloop", "numpy")
PEER_TITLES = ("torch fused", "torch foreach", "torch for-loop", "NumPy")


def peer_cell(case, peer):
    r = case["impls"].get(peer)
    if not r or r.get("skipped") or r.get("speedup") is None:
        return "-"
    return f"{r['speedup']:.2f}x"


def bandwidth_table(doc):
    rows = defaultdict(dict)
    for b in doc["bandwidth"]:
        rows[(b["dtype"], b["threads"])][b["label"]] = b["gbps"]
    labels = sorted({b["label"] for b in doc["bandwidth"]}, key=lambda s: (s != "triad", s))
    out = ["| dtype | threads | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for (dt, nt), vals in sorted(rows.items()):
        out.append(f"| {dt} | {nt} | " + " | ".join(fmt(vals.get(lb), ".1f") for lb in labels) + " |")
    return "\n".join(out)


def workload_table(cases):
    peers = [p for p in PEERS if any(p in c["impls"] for c in cases)]
    titles = [PEER_TITLES[PEERS.index(p)] for p in peers]
    out = ["| rule | dtype | thr | B/param | fastopt | GB/s | % bw | " + " | ".join(titles) + " |",
           "|---|---|---|---|---|---|---|" + "---|" * len(peers)]
    for c in cases:
        f = c["impls"].get("fastopt") or {}
        pct = f.get("pct_bandwidth")
        # bold below 90% where a target applies (T1: 2^24 elements or more; T2: ResNet-50);
        # smaller steps are cache-resident or overhead-bound, not held to DRAM bandwidth
        held = c["n_params"] >= 1 << 24 or c["workload"] == "resnet50"
        pct_s = "-" if pct is None else (f"**{pct:.0f}%**" if held and pct < 90 else f"{pct:.0f}%")
        out.append(f"| {c['rule']} | {c['dtype'][5:]} | {c['threads']} | {c['bytes_per_element']:g} | "
                   f"{fmt_time(f.get('median_s'))} | {fmt(f.get('gbps'), '.1f')} | {pct_s} | "
                   + " | ".join(peer_cell(c, p) for p in peers) + " |")
    return "\n".join(out)


def probes_label(case):
    """The probe(s) a case is quoted against ('r4w3', 'r2 + r3w2'); older JSON has the pattern only."""
    if case.get("pattern_label"):
        return case["pattern_label"]
    k, j = case["pattern"]
    return f"r{k}w{j}"


def compact_table(cases):
    """One row per rule: its probes, then GB/s (% bw) for each dtype x thread count."""
    cols = sorted({(c["dtype"], c["threads"]) for c in cases})
    rows = defaultdict(dict)
    bpe, probes = {}, {}
    for c in cases:
        f = c["impls"].get("fastopt") or {}
        rows[c["rule"]][(c["dtype"], c["threads"])] = (f.get("gbps"), f.get("pct_bandwidth"))
        bpe.setdefault(c["rule"], c["bytes_per_element"] if c["dtype"] == "float32" else c["bytes_per_element"] / 2)
        probes.setdefault(c["rule"], probes_label(c))
    out = ["| rule | B/param f32 | probes | " + " | ".join(f"{d[5:]}-bit {t} thr GB/s (% bw)" for d, t in cols)
           + " |", "|---|---|---|" + "---|" * len(cols)]
    for rule, vals in rows.items():
        cells = []
        for col in cols:
            g, p = vals.get(col, (None, None))
            if g is None or p is None:
                cells.append("-")
            else:
                b = "**" if p < 90 else ""
                cells.append(f"{g:.1f} ({b}{p:.0f}%{b})")
        out.append(f"| {rule} | {bpe[rule]:.3g} | {probes[rule]} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="the file bench --json wrote")
    ap.add_argument("--workload", help="only these workloads (comma-separated)")
    ap.add_argument("--compact", metavar="WORKLOAD",
                    help="only one table: this workload, a row per rule, GB/s (%% bw) per dtype and thread count")
    a = ap.parse_args(argv)
    with open(a.json) as fh:
        doc = json.load(fh)
    only = set(a.workload.split(",")) if a.workload else None
    w = sys.stdout.write
    if a.compact:
        w(compact_table([c for c in doc["cases"] if c["workload"] == a.compact]) + "\n")
        return 0
    w(f"Command: `{' '.join(doc.get('command', []))}`; {doc.get('elapsed_s', 0):.0f} s"
      f"{' (interrupted: the finished cases only)' if doc.get('interrupted') else ''}; "
      f"{doc.get('time', '')}; torch {doc.get('torch') or 'not installed'}.\n\n")
    w("Bandwidth (GB/s, median):\n\n" + bandwidth_table(doc) + "\n\n")
    by_wl = defaultdict(list)
    for c in doc["cases"]:
        if only is None or c["workload"] in only:
            by_wl[c["workload"]].append(c)
    for wl, cases in by_wl.items():
        c0 = cases[0]
        w(f"### {wl} ({c0['n_tensors']} tensor(s), {c0['n_params']:,} params)\n\n")
        w(workload_table(cases) + "\n\n")
    if doc.get("comparisons"):
        w("Many small tensors (ratio = many-tensor step / one-tensor step):\n\n")
        w("| rule | dtype | thr | many | one | fastopt ratio |\n|---|---|---|---|---|---|\n")
        for c in doc["comparisons"]:
            r = (c.get("impls") or {}).get("fastopt") or {}
            w(f"| {c.get('rule')} | {c.get('dtype')} | {c.get('threads')} | {c.get('many')} | {c.get('one')} | "
              f"{fmt(r.get('ratio'), '.2f', 'x')} |\n")
        w("\n")
    for key, title in (("overhead", "Fixed cost of a step"), ("subnormals", "Subnormals")):
        if doc.get(key):
            w(f"{title}:\n\n")
            for e in doc[key]:
                w("- " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                   for k, v in e.items() if not isinstance(v, (list, dict))) + "\n")
            w("\n")
    targets = doc.get("targets") or []
    if only is not None:  # the targets of the chosen workloads (their text names the workload)
        names = {("ResNet-50" if n == "resnet50" else n) for n in only}
        targets = [t for t in targets if any(f" {n}," in t["target"] or f" {n} " in t["target"] for n in names)]
    if targets:
        met, total = Counter(), Counter()
        for t in targets:
            total[t["id"]] += 1
            met[t["id"]] += bool(t["ok"])
        w("Targets: " + ", ".join(f"{k} {met[k]} of {total[k]}" for k in sorted(total))
          + f"; {sum(met.values())} of {len(targets)} met. Misses:\n\n")
        for t in targets:
            if not t["ok"]:
                w(f"- {t['id']} {t['target']}: {t['value']:.2f} {t['unit']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
