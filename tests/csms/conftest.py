"""Fixtures of the CSMS's cross-service tests (the CSMS beside a real identity and assets)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wattlane.csms.testing import RunningCsms, running_csms
from wattlane.simulator.certs import DevPki


@pytest.fixture
async def csms() -> AsyncIterator[RunningCsms]:
    """A profile-1 CSMS with station CS001 registered (password `DEFAULT_PASSWORD`)."""
    async with running_csms() as running:
        yield running


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A CA with a server certificate for 127.0.0.1/localhost and station certificates."""
    return DevPki.create(tmp_path_factory.mktemp("pki"))
