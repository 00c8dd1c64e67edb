"""Assets benchmark: DecideAccess (the CSMS's per-Authorize call) on a platform of 50,000
charging points and 500,000 cards, against a no-op gRPC call in the same run.

    python -m bench.assets                      # on PostgreSQL at 127.0.0.1:5432
    python -m bench.assets --sqlite             # on a SQLite file instead
    python -m bench.assets --points 500 --cards 5000 --seconds 0.5   # quick look
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.common import Target


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the assets benchmark; returns its targets (also printed). Imported lazily: the server
    and client processes import only the module they run."""
    from bench.assets.decide_access import main as run

    return run(argv)
