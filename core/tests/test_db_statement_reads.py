"""Database sessions: a snapshot reader is one transaction; `snapshot=False` is not (PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory


@pytest.fixture
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("core_db"))
    yield database
    await database.dispose()


async def test_readers_read(db: Database) -> None:
    for snapshot in (True, False):
        async with db.reader(snapshot=snapshot) as session:
            assert await session.scalar(text("SELECT 41 + 1")) == 42


async def test_snapshot_reader_is_one_transaction_and_statement_reader_is_not(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite readers are always one transaction")
    query = text("SELECT pg_current_xact_id()::text")
    async with db.reader() as session:
        first, second = await session.scalar(query), await session.scalar(query)
    assert first == second
    async with db.reader(snapshot=False) as session:
        first, second = await session.scalar(query), await session.scalar(query)
    assert first != second
    async with db.transaction() as session:  # the pool hands out transactional connections again
        assert await session.scalar(query) == await session.scalar(query)


async def test_postgres_plans_each_execution_with_its_values(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL setting")
    async with db.reader() as session:
        assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
