"""Fresh databases for tests: SQLite files, or PostgreSQL databases when
WATTLANE_TEST_DATABASE_URL points at a server (CI). Each call gets its own empty database."""

from __future__ import annotations

import itertools
import os
import secrets
from pathlib import Path

import asyncpg

from wattlane.core.db import normalize_url

ENV = "WATTLANE_TEST_DATABASE_URL"


class DatabaseFactory:
    """Creates empty databases and drops them all at the end."""

    def __init__(self, directory: Path, server_url: str | None = None) -> None:
        self.directory = directory
        self.server_url = server_url if server_url is not None else os.environ.get(ENV, "")
        self._counter = itertools.count()
        self._created: list[str] = []
        self._prefix = f"wl_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{secrets.token_hex(3)}"

    @property
    def is_postgres(self) -> bool:
        return self.server_url.startswith("postgres")

    def _admin_dsn(self) -> str:
        url = normalize_url(self.server_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def create(self, label: str) -> str:
        """A SQLAlchemy URL of a new, empty database."""
        name = f"{self._prefix}_{label}_{next(self._counter)}"
        if not self.is_postgres:
            return f"sqlite+aiosqlite:///{self.directory / (name + '.db')}"
        conn = await asyncpg.connect(self._admin_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self._created.append(name)
        return normalize_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        if not self.is_postgres or not self._created:
            return
        conn = await asyncpg.connect(self._admin_dsn())
        try:
            for name in self._created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        self._created.clear()


def sqlite_path(url: str) -> Path | None:
    parsed = normalize_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None
