"""Fixtures of identity's own tests (the shared ones come from wattlane.identity.testing)."""

from __future__ import annotations

import pytest

from wattlane.identity.main import IdentityService
from wattlane.identity.testing import admin, identity, tree  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def identity_target(identity: IdentityService) -> str:  # noqa: F811 (the imported fixture)
    return f"127.0.0.1:{identity.port}"
