"""Fixtures of the cross-service tests: the real stack, started once per test worker that needs
it (end-to-end tests share it; they live in tests/e2e)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.assets import assets_stack  # noqa: F401 (a fixture)
from tests.support.processes import RealStack
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.testing import admin, identity, tree  # noqa: F401 (fixtures)
from wattlane.workflows.testing import mail_sink, temporal_dev, temporal_skipping  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
async def real_stack(
    databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RealStack]:
    """Temporal, identity, billing, assets, the CSMS and the worker as real processes, on SQLite (or
    PostgreSQL with WATTLANE_TEST_DATABASE_URL), configured only through the environment."""
    urls = {name: await databases.create(f"e2e_{name}") for name in ("identity", "billing", "assets", "csms")}
    stack = RealStack(tmp_path_factory.mktemp("stack"), urls)
    try:
        await stack.start()
        yield stack
    finally:
        await stack.stop()
