"""Billing benchmark: sessions priced per second by the one pricing function (a realistic
tariff: 3 elements with time-of-day and kWh restrictions, sessions of 20 meter samples), against
the same arithmetic without cutting the session into periods, measured in the same run.

    python -m bench.billing                    # 2,000 sessions, 9 rounds
    python -m bench.billing --sessions 200 --rounds 1   # quick look
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.common import Target


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the billing benchmark; returns its targets (also printed)."""
    from bench.billing.throughput import main as run

    return run(argv)
