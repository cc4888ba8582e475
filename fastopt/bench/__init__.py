"""fastopt's benchmark suite: ``python -m fastopt bench``.

Modules:
    bandwidth  STREAM triad and in-place (k reads, j writes) bandwidth, run
               through fastopt's own engine and threads.
    workloads  named lists of parameter shapes (single tensors, ResNet-50,
               1,000 x 512, GPT-2 small).
    rules      the registry of benchmarked optimizer configurations: fastopt
               class, bytes per element, access pattern, NumPy and torch peers.
    runner     timing (rotated random gradients, warmup, round-robin medians).
    report     the text table, JSON and the roofline PNG.
    cli        ``main(argv)``.

See docs/performance.md for how to read the figures.
"""
from .cli import main

__all__ = ["main"]
