"""Database.driver_connection: the driver's own connection for hot point reads, from a small pool
of the database's own (PostgreSQL's default plan caching, unlike the engine's forced custom
plans), back into it as it was; refused on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text

from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory


@pytest.fixture(scope="module")
async def url(databases: DatabaseFactory) -> str:
    return await databases.create("core_driver")


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    """A pool of one connection (and one overflow), so a test can tell which connection it got."""
    database = Database(url, pool_size=1)
    yield database
    await database.dispose()


@pytest.fixture
def postgres(db: Database) -> Database:
    if db.is_sqlite:
        pytest.skip("driver_connection is for PostgreSQL")
    return db


async def test_refused_on_sqlite(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    with pytest.raises(RuntimeError, match="PostgreSQL"):
        async with db.driver_connection():
            pass


async def test_a_pooled_connection_that_keeps_generic_plans(postgres: Database) -> None:
    """The engine's sessions force a custom plan per execution (tenant range scans); point reads
    by unique keys get PostgreSQL's default, so a prepared lookup is not re-planned every call."""
    async with postgres.reader() as session:
        assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    async with postgres.driver_connection() as conn:
        assert isinstance(conn, asyncpg.Connection)
        assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
        pid = await conn.fetchval("SELECT pg_backend_pid()")
    async with postgres.driver_connection() as conn:  # back in its pool, and reused
        assert await conn.fetchval("SELECT pg_backend_pid()") == pid


async def test_dispose_closes_the_driver_pool(url: str) -> None:
    database = Database(url)
    if database.is_sqlite:
        pytest.skip("driver_connection is for PostgreSQL")
    async with database.driver_connection():
        pass
    pool = database._driver_pool
    await database.dispose()
    assert pool is not None and pool.is_closing()


async def test_outside_a_transaction(postgres: Database) -> None:
    query = "SELECT pg_current_xact_id()::text"
    async with postgres.driver_connection() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval(query) != await conn.fetchval(query)


async def test_given_back_without_a_round_trip(postgres: Database) -> None:
    sent: list[str] = []
    async with postgres.driver_connection() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
        await conn.fetchval("SELECT 1")
    await asyncio.sleep(0)  # asyncpg calls query loggers soon, not at once
    assert sent == ["SELECT 1"]  # no ROLLBACK or reset query on the way back to the pool


async def test_a_failed_statement_leaves_the_connection_usable(postgres: Database) -> None:
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with postgres.driver_connection() as conn:
            await conn.fetchval("SELECT 1 / 0")
    async with postgres.driver_connection() as conn:
        assert await conn.fetchval("SELECT 1") == 1
