"""Command line of the identity benchmarks (`python -m bench.identity --help`)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.common import Target, load_note, run_async
from bench.identity import __doc__ as PACKAGE_DOC
from bench.identity import auth_path, list_users
from bench.scratch import DEFAULT_SERVER_URL


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.identity", description=PACKAGE_DOC.splitlines()[0])
    parser.add_argument("--only", choices=["list_users", "auth_path"], help="run one benchmark")
    db = parser.add_argument_group("database (list_users)")
    db.add_argument("--sqlite", action="store_true", help="use a SQLite file instead of PostgreSQL")
    db.add_argument("--sqlite-dir", type=Path, help="where the SQLite file goes (default: a temp dir)")
    db.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help=f"PostgreSQL server to create the scratch database on (default {DEFAULT_SERVER_URL})",
    )
    size = parser.add_argument_group("size")
    size.add_argument("--nodes", type=int, default=100_000, help="tenant nodes (default 100,000)")
    size.add_argument("--users", type=int, help="users (default: twice the nodes)")
    size.add_argument("--calls", type=int, default=400, help="timed ListUsers calls per side and variant")
    size.add_argument("--warmup", type=int, default=30, help="untimed ListUsers calls per side and variant")
    size.add_argument("--explain", action="store_true", help="print the SQL and its EXPLAIN ANALYZE plan")
    auth = parser.add_argument_group("auth_path")
    auth.add_argument("--seconds", type=float, default=3.0, help="seconds per side and round under load")
    auth.add_argument("--rounds", type=int, default=5, help="rounds (sides alternate which goes first)")
    auth.add_argument("--concurrency", type=int, default=64, help="calls in flight under load")
    auth.add_argument(
        "--sequential-calls", type=int, default=2000, help="one-at-a-time calls per side and round"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the identity benchmarks; returns their targets (also printed)."""
    args = parse_args(argv)
    print(load_note())
    targets: list[Target] = []
    if args.only in (None, "list_users"):
        with tempfile.TemporaryDirectory(prefix="wl-bench-") as tmp:
            sqlite_dir = (args.sqlite_dir or Path(tmp)) if args.sqlite else None
            opts = list_users.Options(
                nodes=args.nodes,
                users=args.users if args.users is not None else 2 * args.nodes,
                calls=args.calls,
                warmup=args.warmup,
                sqlite_dir=sqlite_dir,
                server_url=args.server_url,
                explain=args.explain,
            )
            targets += run_async(list_users.run(opts))
    if args.only in (None, "auth_path"):
        targets += auth_path.run(
            auth_path.Options(
                seconds=args.seconds,
                rounds=args.rounds,
                concurrency=args.concurrency,
                sequential_calls=args.sequential_calls,
                warmup_seconds=min(1.0, args.seconds),
            )
        )
    print()
    for target in targets:
        print(target.line())
    return targets
