"""Run the CSMS process: `python -m wattlane.csms` / `wattlane-csms`.

WebSocket listener + gRPC API sharing the registry and log (see `service.py`); settings from
`WATTLANE_CSMS_*` (see `settings.py`); SIGINT/SIGTERM close every station socket with 1001.
"""

from __future__ import annotations

import logging

from wattlane.core.server import run_until_signal
from wattlane.csms.protocol.runtime import raise_open_files_limit, run
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings


async def serve(settings: CsmsSettings) -> None:
    """Serve until SIGINT/SIGTERM, then shut down cleanly."""
    service = CsmsService(settings)
    await run_until_signal(service.start, service.stop)


def main() -> None:
    """Console entry point."""
    settings = CsmsSettings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise_open_files_limit()
    run(serve(settings))


if __name__ == "__main__":
    main()
