"""db: URL normalization, units of work, and SQLite's concurrency settings."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, func, insert, select, text, update

from wattlane.core.db import Database, normalize_url
from wattlane.core.testing.databases import DatabaseFactory, sqlite_path

metadata = MetaData()
counters = Table(
    "counters",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("value", Integer, nullable=False),
)
events = Table("events", metadata, Column("id", Integer, primary_key=True), Column("who", String(16)))


@pytest.fixture(scope="module")
async def database(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("db"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def db(database: Database) -> Database:
    """The module's database, reset to one counter at 0 and no events."""
    async with database.transaction() as session:
        await session.execute(delete(events))
        await session.execute(delete(counters))
        await session.execute(insert(counters).values(name="c", value=0))
    return database


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
    ],
)
def test_normalize_url_picks_the_async_drivers(url: str, expected: str) -> None:
    assert normalize_url(url).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="use a SQLite file"):
        Database(url)


async def test_transaction_commits(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(update(counters).values(value=5))
    async with db.reader() as session:
        assert await session.scalar(select(counters.c.value)) == 5


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    async def fail_half_way() -> None:
        async with db.transaction() as session:
            await session.execute(update(counters).values(value=99))
            await session.execute(insert(events).values(who="x"))
            raise RuntimeError("half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        await fail_half_way()
    async with db.reader() as session:
        assert await session.scalar(select(counters.c.value)) == 0
        assert await session.scalar(select(func.count()).select_from(events)) == 0


async def test_objects_stay_usable_after_commit(db: Database) -> None:
    async with db.transaction() as session:
        row = (await session.execute(select(counters))).one()
    assert row.value == 0  # expire_on_commit=False: no lazy reload after the unit of work


async def test_concurrent_read_modify_write_transactions_all_succeed(db: Database) -> None:
    """Each transaction reads, yields to the others, then writes: on SQLite the write lock is
    taken at BEGIN (IMMEDIATE) and the others queue on busy_timeout instead of failing with
    'database is locked' when upgrading a read lock."""

    async def increment(who: str) -> None:
        async with db.transaction() as session:
            value = await session.scalar(select(counters.c.value).where(counters.c.name == "c"))
            await asyncio.sleep(0.02)
            await session.execute(update(counters).where(counters.c.name == "c").values(value=value + 1))
            await session.execute(insert(events).values(who=who))

    if db.is_sqlite:
        await asyncio.gather(*(increment(f"w{i}") for i in range(4)))
        async with db.reader() as session:
            assert await session.scalar(select(counters.c.value)) == 4  # no lost update either
            assert await session.scalar(select(func.count()).select_from(events)) == 4
    else:
        # PostgreSQL (READ COMMITTED) runs them in parallel; all commit (lost updates are the
        # application's concern there: it uses UPDATE ... SET value = value + 1 or locks).
        await asyncio.gather(*(increment(f"w{i}") for i in range(4)))
        async with db.reader() as session:
            assert await session.scalar(select(func.count()).select_from(events)) == 4


async def test_two_concurrent_writers_both_succeed(db: Database) -> None:
    started = asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction() as session:
            await session.execute(insert(events).values(who="slow"))
            started.set()
            await asyncio.sleep(0.2)

    async def second_writer() -> None:
        await started.wait()
        async with db.transaction() as session:
            await session.execute(insert(events).values(who="second"))

    await asyncio.wait_for(asyncio.gather(slow_writer(), second_writer()), 10)
    async with db.reader() as session:
        assert set((await session.scalars(select(events.c.who))).all()) == {"slow", "second"}


async def test_readers_are_not_blocked_by_a_writer(db: Database) -> None:
    """WAL lets a reader run beside an open write transaction; it sees the last commit."""
    holding = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as session:
            await session.execute(update(counters).values(value=42))
            holding.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await holding.wait()
    try:
        async with asyncio.timeout(3):
            async with db.reader() as session:
                assert await session.scalar(select(counters.c.value)) == 0
    finally:
        release.set()
        await task
    async with db.reader() as session:
        assert await session.scalar(select(counters.c.value)) == 42


async def test_sqlite_connection_settings(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas")
    async with db.reader() as session:
        assert await session.scalar(text("PRAGMA foreign_keys")) == 1
        assert await session.scalar(text("PRAGMA journal_mode")) == "wal"
        assert await session.scalar(text("PRAGMA busy_timeout")) == 30000


async def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fk.db'}")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            await session.execute(
                text("CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id))")
            )
        with pytest.raises(Exception, match="FOREIGN KEY constraint failed"):
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO child (id, p) VALUES (1, 7)"))
    finally:
        await db.dispose()


async def test_databases_fixture_gives_fresh_empty_databases(databases: DatabaseFactory) -> None:
    first, second = await databases.create("fresh"), await databases.create("fresh")
    assert first != second
    for url in (first, second):
        database = Database(url)
        try:
            async with database.engine.connect() as conn:
                tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
            assert tables == []
        finally:
            await database.dispose()
        path = sqlite_path(url)
        assert (path is not None) == (not databases.is_postgres)
        assert path is None or path.parent.is_dir()
    assert databases.is_postgres == bool(
        os.environ.get("WATTLANE_TEST_DATABASE_URL", "").startswith("postgres")
    )
