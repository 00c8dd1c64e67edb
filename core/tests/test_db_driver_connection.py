"""Database.driver_connection: the driver's own connection, out of the database's one pool and
back into it as it was, with nothing sent on the way back (PostgreSQL); refused on SQLite."""

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


async def test_a_pooled_asyncpg_connection_shared_with_sessions(postgres: Database) -> None:
    pool = postgres.engine.pool
    async with postgres.driver_connection() as conn:
        assert isinstance(conn, asyncpg.Connection)
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
        pid = await conn.fetchval("SELECT pg_backend_pid()")
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    async with postgres.reader() as session:  # the same connection, back in the pool of one
        assert await session.scalar(text("SELECT pg_backend_pid()")) == pid
    async with postgres.driver_connection() as conn:
        assert await conn.fetchval("SELECT pg_backend_pid()") == pid


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


async def test_an_overflow_connection_is_closed_when_given_back(postgres: Database) -> None:
    pool = postgres.engine.pool
    async with postgres.driver_connection() as first, postgres.driver_connection() as second:
        assert first is not second and pool.checkedout() == 2  # type: ignore[attr-defined]
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert sorted([first.is_closed(), second.is_closed()]) == [False, True]
    async with postgres.driver_connection() as conn:
        assert not conn.is_closed() and await conn.fetchval("SELECT 1") == 1


async def test_a_failed_statement_leaves_the_connection_usable(postgres: Database) -> None:
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with postgres.driver_connection() as conn:
            await conn.fetchval("SELECT 1 / 0")
    assert postgres.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with postgres.driver_connection() as conn:
        assert await conn.fetchval("SELECT 1") == 1
