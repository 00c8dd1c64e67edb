"""Identity benchmarks: scoped ListUsers over a 100,000-node tree against raw SQL
(`list_users`), and the per-request auth path against a bare gRPC server (`auth_path`).

    python -m bench.identity                 # both, on PostgreSQL at 127.0.0.1:5432
    python -m bench.identity --sqlite        # ListUsers on a SQLite file instead
    python -m bench.identity --only list_users --explain   # with the SQL and its plans
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.common import Target


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the identity benchmarks; returns their targets (also printed). Imported lazily: the
    server and client processes import only the module they run."""
    from bench.identity.cli import main as run

    return run(argv)
