"""Fixtures of identity's own tests (the shared ones come from wattlane.identity.testing)."""

from __future__ import annotations

import pytest

from wattlane.identity.main import IdentityService


@pytest.fixture(scope="session")
def identity_target(identity: IdentityService) -> str:
    return f"127.0.0.1:{identity.port}"
