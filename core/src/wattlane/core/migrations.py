"""Alembic per service, run on start and as a separate command.

One env.py and one revision template live in core (`wattlane/core/alembic`); each service only
has its `migrations/versions` folder and names its metadata, e.g.

    upgrade(url, service="identity", versions="wattlane.identity.migrations",
            metadata="wattlane.identity.models:Base.metadata")
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config

from wattlane.core.db import normalize_url

_ENV_DIR = Path(__file__).resolve().parent / "alembic"

# Alembic keeps the running environment in module globals (`alembic.context`, `alembic.op`), so
# two commands at once in one process (services started together, tests) would clobber each
# other; they take turns. Separate processes are serialized by the database (see env.py).
_ALEMBIC = threading.Lock()


@dataclass(frozen=True)
class MigrationSet:
    """Where a service's revisions live and which metadata they describe."""

    service: str
    versions_package: str  # e.g. "wattlane.identity.migrations"
    metadata: str  # "module:attribute.path" of the service's MetaData

    def versions_dir(self) -> Path:
        module = importlib.import_module(self.versions_package)
        return Path(next(iter(module.__path__))) / "versions"


def alembic_config(url: str, migrations: MigrationSet) -> Config:
    """An Alembic Config for one service database."""
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(_ENV_DIR))
    cfg.set_main_option("version_locations", str(migrations.versions_dir()))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).render_as_string(hide_password=False))
    cfg.set_main_option("wattlane.metadata", migrations.metadata)
    cfg.set_main_option("wattlane.service", migrations.service)
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def upgrade(url: str, migrations: MigrationSet, revision: str = "head") -> None:
    """Bring the database to `revision` (blocking; safe to run from several replicas at once)."""
    with _ALEMBIC:
        command.upgrade(alembic_config(url, migrations), revision)


async def upgrade_async(url: str, migrations: MigrationSet, revision: str = "head") -> None:
    """`upgrade` from inside a running event loop (Alembic's env runs its own loop in a thread)."""
    await asyncio.to_thread(upgrade, url, migrations, revision)


def new_revision(url: str, migrations: MigrationSet, message: str, autogenerate: bool = True) -> None:
    """Write a new revision file into the service's versions folder (developer command)."""
    with _ALEMBIC:
        command.revision(alembic_config(url, migrations), message=message, autogenerate=autogenerate)


def current(url: str, migrations: MigrationSet) -> None:
    """Print the database's current revision."""
    with _ALEMBIC:
        command.current(alembic_config(url, migrations))
