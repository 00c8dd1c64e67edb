"""Billing benchmarks, each printed against a baseline measured in the same run:

- pricing: sessions priced per second by the one pricing function (a realistic tariff: 3
  elements with time-of-day and kWh restrictions, sessions of 20 meter samples), against the same
  arithmetic without cutting the session into periods (bench/billing/throughput.py);
- recording: completed transactions relayed and recorded as charge records, records/s, 0 missing,
  0 duplicated, against raw SQL inserts of the same rows (bench/billing/recording.py).

    python -m bench.billing                    # both, at their default sizes
    python -m bench.billing pricing --sessions 200 --rounds 1   # quick look
    python -m bench.billing recording --transactions 100000 --server-url postgresql+asyncpg://...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.common import Target

BENCHMARKS = ("pricing", "recording")


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the billing benchmarks (both, or the one named first); returns their targets."""
    import argparse

    from bench.billing import recording, throughput

    parser = argparse.ArgumentParser(
        prog="python -m bench.billing", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "which", nargs="?", choices=(*BENCHMARKS, "all"), default="all", help="which (default: all)"
    )
    throughput.add_arguments(parser)
    recording.add_arguments(parser)
    args = parser.parse_args(argv)
    targets: list[Target] = []
    if args.which in ("pricing", "all"):
        targets += throughput.run_pricing(args)
    if args.which in ("recording", "all"):
        targets += recording.run_recording(args)
    return targets
