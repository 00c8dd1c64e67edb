"""Scratch databases: one of its own for each benchmark run, dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import asyncpg

from wattlane.core.db import normalize_url

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class ScratchDatabase:
    """A database of its own for one benchmark run: a new PostgreSQL database on the server at
    `server_url` (dropped afterwards), or a SQLite file under `directory`."""

    def __init__(
        self, label: str, *, sqlite_dir: Path | None = None, server_url: str = DEFAULT_SERVER_URL
    ) -> None:
        self.name = f"wl_bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"
        self.sqlite_dir = sqlite_dir
        self.server_url = server_url
        self.url = ""

    @property
    def is_postgres(self) -> bool:
        return self.sqlite_dir is None

    def _admin_dsn(self) -> str:
        return (
            normalize_url(self.server_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )

    @property
    def dsn(self) -> str:
        """A plain libpq DSN of the scratch database (asyncpg)."""
        return normalize_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    @property
    def sqlite_path(self) -> Path:
        assert self.sqlite_dir is not None
        return self.sqlite_dir / f"{self.name}.db"

    async def create(self) -> str:
        """Create the database; returns its SQLAlchemy URL."""
        if self.sqlite_dir is not None:
            self.sqlite_dir.mkdir(parents=True, exist_ok=True)
            self.url = f"sqlite+aiosqlite:///{self.sqlite_path}"
            return self.url
        conn = await asyncpg.connect(self._admin_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()
        self.url = (
            normalize_url(self.server_url).set(database=self.name).render_as_string(hide_password=False)
        )
        return self.url

    async def drop(self) -> None:
        if self.sqlite_dir is not None:
            for suffix in ("", "-wal", "-shm"):
                await asyncio.to_thread(Path(f"{self.sqlite_path}{suffix}").unlink, missing_ok=True)
            return
        if not self.url:
            return
        conn = await asyncpg.connect(self._admin_dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()
