"""migrations: the shared Alembic environment running a throwaway service's revisions."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import io
import os
import secrets
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.config import Config
from sqlalchemy import insert, inspect, select, text

from wattlane.core import migrations as migrations_module
from wattlane.core.db import Database
from wattlane.core.migrations import (
    MigrationSet,
    alembic_config,
    current,
    new_revision,
    upgrade,
    upgrade_async,
)
from wattlane.core.testing.databases import DatabaseFactory

MODELS = """
from sqlalchemy import Column, Integer, MetaData, String, Table

from wattlane.core.orm import new_metadata

metadata = new_metadata()
widgets = Table(
    "widgets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("size", Integer, nullable=True),
)
"""

FIRST = '''
"""widgets"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "widgets",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_widgets"),
    )


def downgrade() -> None:
    op.drop_table("widgets")
'''

SECOND = '''
"""widget size"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("widgets") as batch:
        batch.add_column(sa.Column("size", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("widgets") as batch:
        batch.drop_column("size")
'''


@pytest.fixture
def migration_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MigrationSet:
    """A service package `svc_<random>` with two revisions, importable for this test."""
    name = f"svc_{secrets.token_hex(4)}"
    package = tmp_path / name
    versions = package / "migrations" / "versions"
    versions.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent(MODELS))
    (versions / "0001_widgets.py").write_text(textwrap.dedent(FIRST))
    (versions / "0002_widget_size.py").write_text(textwrap.dedent(SECOND))
    monkeypatch.syspath_prepend(str(tmp_path))
    return MigrationSet(
        service=name, versions_package=f"{name}.migrations", metadata=f"{name}.models:metadata"
    )


async def version_of(url: str) -> str | None:
    db = Database(url)
    try:
        async with db.reader() as session:
            return await session.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await db.dispose()


async def columns_of(url: str, table: str) -> set[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(table)})
    finally:
        await db.dispose()


def test_versions_dir(migration_set: MigrationSet, tmp_path: Path) -> None:
    assert migration_set.versions_dir() == tmp_path / migration_set.service / "migrations" / "versions"


def test_config_points_at_the_shared_environment(migration_set: MigrationSet) -> None:
    cfg = alembic_config("sqlite:///x.db", migration_set)
    assert Path(cfg.get_main_option("script_location", "")).name == "alembic"
    assert (Path(cfg.get_main_option("script_location", "")) / "env.py").is_file()
    assert cfg.get_main_option("sqlalchemy.url") == "sqlite+aiosqlite:///x.db"
    assert cfg.get_main_option("wattlane.metadata") == migration_set.metadata
    assert cfg.get_main_option("wattlane.service") == migration_set.service


async def test_upgrade_to_head_and_again(
    databases: DatabaseFactory, migration_set: MigrationSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await databases.create("migrate")
    await upgrade_async(url, migration_set)
    assert await version_of(url) == "0002"
    assert await columns_of(url, "widgets") == {"id", "name", "size"}
    # The migrated schema is what the service's metadata describes.
    widgets = importlib.import_module(f"{migration_set.service}.models").widgets
    db = Database(url)
    try:
        async with db.transaction() as session:
            await session.execute(insert(widgets).values(id="w1", name="one", size=1))
        await upgrade_async(url, migration_set)  # idempotent: nothing to do, nothing lost
        assert await version_of(url) == "0002"
        async with db.reader() as session:
            assert (await session.execute(select(widgets))).all() == [("w1", "one", 1)]
    finally:
        await db.dispose()

    out = io.StringIO()  # Alembic binds sys.stdout at import time; hand it a buffer instead

    def config_printing_to_buffer(url: str, migrations: MigrationSet) -> Config:
        cfg = alembic_config(url, migrations)
        cfg.stdout = out
        return cfg

    monkeypatch.setattr(migrations_module, "alembic_config", config_printing_to_buffer)
    await asyncio.to_thread(current, url, migration_set)
    assert out.getvalue().strip() == "0002 (head)"


async def test_step_by_step(databases: DatabaseFactory, migration_set: MigrationSet) -> None:
    url = await databases.create("migrate")
    await upgrade_async(url, migration_set, "0001")
    assert await version_of(url) == "0001"
    assert await columns_of(url, "widgets") == {"id", "name"}
    await upgrade_async(url, migration_set)
    assert await version_of(url) == "0002"


def test_blocking_upgrade_outside_an_event_loop(tmp_path: Path, migration_set: MigrationSet) -> None:
    url = f"sqlite:///{tmp_path / 'blocking.db'}"
    upgrade(url, migration_set)
    upgrade(url, migration_set)
    assert asyncio.run(version_of(url)) == "0002"


async def test_concurrent_upgrades_in_one_process(
    databases: DatabaseFactory, migration_set: MigrationSet
) -> None:
    """Services started together in one process (local stack, tests) migrate at the same time;
    Alembic's process-global state must not mix their runs up."""
    first, second = await databases.create("migrate"), await databases.create("migrate")
    await asyncio.wait_for(
        asyncio.gather(*(upgrade_async(url, migration_set) for url in (first, second, first, second))), 60
    )
    assert await version_of(first) == "0002"
    assert await version_of(second) == "0002"


async def test_concurrent_replicas(
    databases: DatabaseFactory, migration_set: MigrationSet, tmp_path: Path
) -> None:
    """Replicas starting together (separate processes): one migrates, the others wait on the
    advisory lock and then find nothing to do."""
    if not databases.is_postgres:
        pytest.skip("replicas run on PostgreSQL, where an advisory lock serializes them")
    url = await databases.create("migrate")
    script = (
        "import sys\n"
        "from wattlane.core.migrations import MigrationSet, upgrade\n"
        "upgrade(sys.argv[1], MigrationSet(sys.argv[2], sys.argv[3], sys.argv[4]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    args = (url, migration_set.service, migration_set.versions_package, migration_set.metadata)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, *args, env=env, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 60)
    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr.decode()
    assert await version_of(url) == "0002"


async def test_new_revision_autogenerates_from_the_metadata(
    databases: DatabaseFactory, migration_set: MigrationSet
) -> None:
    url = await databases.create("migrate")
    await upgrade_async(url, migration_set)
    package = migration_set.versions_dir().parent.parent
    (package / "models_next.py").write_text(
        textwrap.dedent(MODELS) + 'widgets.append_column(Column("color", String(7), nullable=True))\n'
    )
    changed = MigrationSet(
        migration_set.service, migration_set.versions_package, f"{package.name}.models_next:metadata"
    )
    await asyncio.to_thread(new_revision, url, changed, "widget color")
    (new_file,) = [p for p in changed.versions_dir().glob("*.py") if p.name.endswith("_widget_color.py")]
    assert new_file.name.startswith(dt.date.today().strftime("%Y%m%d"))  # the file template
    body = new_file.read_text()
    assert "add_column" in body
    assert "'color'" in body
    assert "down_revision: Union[str, Sequence[str], None] = '0002'" in body or "'0002'" in body
    await upgrade_async(url, changed)
    assert "color" in await columns_of(url, "widgets")
