"""The CSMS models and the migrations describe the same schema."""

from __future__ import annotations

import asyncio

from wattlane.core.migrations import check, upgrade_async
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.schema import MIGRATIONS


async def test_migrations_match_the_models(databases: DatabaseFactory) -> None:
    url = await databases.create("csms-schema")
    await upgrade_async(url, MIGRATIONS)
    await asyncio.to_thread(check, url, MIGRATIONS)
