"""Shared fixtures for the CSMS tests: a running CSMS, a throwaway PKI, hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from wattlane.csms.testing import RunningCsms, running_csms
from wattlane.simulator.certs import CertificateAuthority, Issued

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


@dataclass(frozen=True)
class Pki:
    """Certificates for the TLS tests."""

    ca: CertificateAuthority
    server: Issued
    station: Issued  # CN = CS001, signed by `ca`
    other_station: Issued  # CN = CS002, signed by `ca`
    rogue_ca: CertificateAuthority
    rogue_station: Issued  # CN = CS001, signed by `rogue_ca`


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA with a server certificate for 127.0.0.1/localhost and station certificates."""
    directory: Path = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(directory, "Wattlane Test CA")
    rogue = CertificateAuthority.create(directory, "Rogue CA")
    return Pki(
        ca=ca,
        server=ca.issue(directory, "csms.test", server=True, hosts=("127.0.0.1", "localhost")),
        station=ca.issue(directory, "CS001"),
        other_station=ca.issue(directory, "CS002"),
        rogue_ca=rogue,
        rogue_station=rogue.issue(directory, "CS001"),
    )
