"""CSMS protocol benchmark: the Wattlane CSMS against a raw `websockets` echo server, same clients.

python -m bench.csms
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.common import Target


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the CSMS benchmark; returns its targets (also printed). Imported lazily: the server
    process imports only the module it runs."""
    from bench.csms.run import main as run_main

    return run_main(argv)
