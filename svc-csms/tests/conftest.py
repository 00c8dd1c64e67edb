"""Shared fixtures for the CSMS tests: a running CSMS, a throwaway PKI, hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, settings

from wattlane.csms.testing import RunningCsms, running_csms
from wattlane.simulator.certs import DevPki

# "ci" keeps the fuzz tests bounded (the whole CSMS suite stays well under a minute); run
# HYPOTHESIS_PROFILE=dev locally for a deeper search.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "dev", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
async def csms() -> AsyncIterator[RunningCsms]:
    """A profile-1 CSMS with station CS001 registered (password `DEFAULT_PASSWORD`)."""
    async with running_csms() as running:
        yield running


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A CA with a server certificate for 127.0.0.1/localhost and station certificates."""
    return DevPki.create(tmp_path_factory.mktemp("pki"))
