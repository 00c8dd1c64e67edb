"""Wiring of the CSMS process on the service skeleton (`service.py`: `CsmsService`).

python -m wattlane.csms            # serve (migrates first unless told not to); also `wattlane-csms`
python -m wattlane.csms migrate    # only migrate
python -m wattlane.csms settings   # print the configuration in force (secrets redacted)

Settings from `WATTLANE_CSMS_*` (`settings.py`); SIGTERM: not ready, then station sockets close
with 1001, spread over a few seconds, and the registry and log are flushed.
"""

from __future__ import annotations

from wattlane.core.service import main
from wattlane.csms.protocol.runtime import raise_open_files_limit
from wattlane.csms.service import CsmsService


def cli(argv: list[str] | None = None) -> None:
    """`wattlane-csms [serve|migrate|settings]`: thousands of stations need as many sockets."""
    raise_open_files_limit()
    main(CsmsService, argv)


if __name__ == "__main__":
    cli()
