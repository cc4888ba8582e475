"""``python -m fastopt <command>``.

Commands:
    bench     benchmark against memory bandwidth, NumPy and torch
              (``python -m fastopt bench --help``)
    schedule  learning-rate schedule tools (``python -m fastopt schedule --help``)
    demo      optimizer paths on Rosenbrock and a saddle (``python -m fastopt demo --help``)
    config    print the build and runtime configuration
"""
import sys

USAGE = """usage: python -m fastopt <command> [options]

commands:
  bench      benchmark fastopt against memory bandwidth, NumPy and torch
  schedule   learning-rate schedule tools
  demo       optimizer paths on Rosenbrock and a saddle x^2-y^2 (PNG, --gif)
  config     print the build and runtime configuration (fastopt.show_config())

'python -m fastopt <command> --help' for a command's options."""


def _bench(argv):
    from fastopt.bench.cli import main

    return main(argv)


def _schedule(argv):
    try:
        from fastopt._cli_schedule import main
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("fastopt._cli_schedule", None):
            raise
        print("python -m fastopt schedule: not available in this build "
              "(fastopt._cli_schedule is missing)", file=sys.stderr)
        return 1
    return main(argv)


def _demo(argv):
    from fastopt._cli_demo import main

    return main(argv)


def _config(argv):
    if argv and argv[0] not in ("-h", "--help"):
        print(f"python -m fastopt config: takes no arguments, got {' '.join(argv)}", file=sys.stderr)
        return 2
    if argv:
        print("usage: python -m fastopt config\n\nPrint compiler, OpenMP, ISA levels and thread count.")
        return 0
    import fastopt

    fastopt.show_config()
    return 0


COMMANDS = {"bench": _bench, "schedule": _schedule, "demo": _demo, "config": _config}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    fn = COMMANDS.get(cmd)
    if fn is None:
        print(USAGE, file=sys.stderr)
        print(f"\npython -m fastopt: error: unknown command {cmd!r}", file=sys.stderr)
        return 2
    rc = fn(rest)
    return 0 if rc is None else int(rc)


if __name__ == "__main__":
    sys.exit(main())
