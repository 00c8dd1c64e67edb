"""Run every benchmark under bench/ (or the named ones), then list every target.

    python -m bench              # what `make bench` runs
    python -m bench identity

The exit code is 0 even when a target is missed: the output is the report."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import time
from collections.abc import Callable, Sequence

import bench
from bench.common import Target

NOT_BENCHMARKS = frozenset({"tests"})


def discover() -> dict[str, Callable[[Sequence[str] | None], list[Target]]]:
    """Every subpackage of bench/ with a `main(argv) -> list[Target]`."""
    found = {}
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name in NOT_BENCHMARKS or info.name.startswith("_"):
            continue
        main = getattr(importlib.import_module(f"bench.{info.name}"), "main", None)
        if callable(main):
            found[info.name] = main
    return found


def run(argv: Sequence[str] | None = None) -> list[Target]:
    benchmarks = discover()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Each benchmark runs with its defaults; `python -m bench.NAME --help` for its options.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(benchmarks)}"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(benchmarks))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(benchmarks)})")
    targets: list[Target] = []
    started = time.perf_counter()
    for name in args.names or list(benchmarks):
        print(f"=== bench.{name}")
        targets += benchmarks[name]([])
    missed = sum(not t.ok for t in targets)
    print(f"\n=== all benchmarks ({time.perf_counter() - started:.0f} s)")
    for target in targets:
        print(target.line())
    print(f"{len(targets) - missed} of {len(targets)} targets met" + (f", {missed} MISSED" if missed else ""))
    return targets


if __name__ == "__main__":
    run()
