"""pytest plugin with the fixtures every project's tests share (loaded from the root conftest)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, settings

from wattlane.core.testing.databases import DatabaseFactory

# Bounded property tests: CI runs on 2 cores and the whole suite must stay well under 15 minutes.
settings.register_profile(
    "ci",
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=200, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
async def databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DatabaseFactory]:
    """Creates empty databases (SQLite, or PostgreSQL when WATTLANE_TEST_DATABASE_URL is set)."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    await factory.drop_all()
