"""Async database engine and sessions for SQLite (local, tests) and PostgreSQL (CI, production).

Repositories are handed a session; the caller owns the unit of work:

    async with db.transaction() as session:
        ...  # every write of one request, committed together or not at all
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

# Every tenant-scoped query filters on a path range that selects anything from one row to most
# of a table, depending on the path. A generic plan (PostgreSQL's choice for a prepared
# statement after five runs) is costed without the values and guesses a tiny range: seen to
# pick "scan the whole subtree, then sort" where "walk the primary key" was 7x faster. Plan
# each execution with its values instead (planning these statements costs ~0.1 ms).
POSTGRES_SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


def normalize_url(url: str) -> URL:
    """Accept plain `sqlite:///x.db` / `postgresql://...` and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


_READ_ONLY = "wattlane_read_only"


def _configure_sqlite(engine: AsyncEngine) -> None:
    # SQLite: enforce foreign keys, let readers run beside a writer (WAL), and take the write lock
    # at BEGIN so two concurrent writers queue on busy_timeout instead of failing half-way.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers begin DEFERRED: in WAL mode they read the last commit beside a writer.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


class Database:
    """One engine and session factory per service process."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self._pool_size = max(1, pool_size)
        self._driver_pool: Any = None  # asyncpg.Pool, made on first use (driver_connection)
        self._driver_pool_lock = asyncio.Lock()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            if self.url.database in (None, "", ":memory:"):
                raise ValueError(
                    "use a SQLite file, not :memory: (each connection would see its own database)"
                )
            kwargs["poolclass"] = NullPool if pool_size == 0 else None
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)
            kwargs["connect_args"] = {"server_settings": dict(POSTGRES_SERVER_SETTINGS)}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read_sessions = async_sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False, autoflush=False
        )
        # Reads that need no snapshot across their statements skip BEGIN and COMMIT, two round
        # trips of the three a one-query read costs. (SQLite keeps its begin hook: file locks.)
        self._statement_sessions = (
            self._read_sessions
            if self.is_sqlite
            else async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
                autoflush=False,
            )
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def reader(self, *, snapshot: bool = True) -> AsyncIterator[AsyncSession]:
        """A session for reads only: one transaction, so every statement sees one snapshot. On
        SQLite it does not take the write lock, so it never waits for a writer.

        `snapshot=False`: each statement runs on its own and sees the latest committed rows, with
        no BEGIN/COMMIT round trips (PostgreSQL). For hot reads whose statements need not agree
        with each other, e.g. a list: a parent check, then one page of rows."""
        if snapshot or self.is_sqlite:
            async with self._read_sessions() as session, session.begin():
                yield session
        else:
            async with self._statement_sessions() as session:
                yield session

    @contextlib.asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The driver's own connection (asyncpg) for a hot point read that has outgrown
        SQLAlchemy's per-statement cost (assets' DecideAccess). Outside a transaction: each
        statement sees the latest commit. PostgreSQL only.

        It comes from a small pool of this database's own, not the engine's: the engine's
        connections force a custom plan per execution (right for tenant-scoped range scans, see
        POSTGRES_SERVER_SETTINGS), which for a lookup by unique keys means planning on every call
        — measured at more than twice the PostgreSQL CPU of DecideAccess. Here PostgreSQL keeps
        its default: after five runs a prepared statement gets its generic plan."""
        if self.is_sqlite:
            raise RuntimeError("driver_connection is for PostgreSQL; use reader() on SQLite")
        if self._driver_pool is None:
            async with self._driver_pool_lock:
                if self._driver_pool is None:
                    import asyncpg

                    dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
                    self._driver_pool = await asyncpg.create_pool(
                        dsn, min_size=1, max_size=self._pool_size, reset=_keep_as_is
                    )
        async with self._driver_pool.acquire() as connection:
            yield connection

    async def dispose(self) -> None:
        if self._driver_pool is not None:
            await self._driver_pool.close()
            self._driver_pool = None
        await self.engine.dispose()


async def _keep_as_is(connection: Any) -> None:
    """A driver connection goes back to its pool without asyncpg's reset round trip (RESET ALL,
    UNLISTEN, ...): its users run single statements outside transactions and change no session
    state."""


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect (PostgreSQL or SQLite)."""
    name = session.get_bind().dialect.name
    return postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)


async def insert_ignoring_conflicts(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert `rows`; a row whose key already exists is left as it is (repeats, replays)."""
    if rows:
        await session.execute(dialect_insert(session, table).on_conflict_do_nothing(), list(rows))


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    updates: Mapping[str, Any] | Sequence[str],
) -> None:
    """Insert `rows` (all with the same columns); on a conflict over `keys` set `updates`: column
    names (take the new row's value) or a mapping of column -> value or `f(excluded)`."""
    if not rows:
        return
    stmt = dialect_insert(session, table)
    excluded = stmt.excluded
    set_: dict[str, Any] = {}
    if isinstance(updates, Mapping):
        for name, value in updates.items():
            set_[name] = value(excluded) if isinstance(value, Callable) else value  # type: ignore[arg-type]
    else:
        set_ = {name: excluded[name] for name in updates}
    await session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=set_), list(rows))
