"""constraints: a unique-key collision is ALREADY_EXISTS naming the field, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from sqlalchemy import ForeignKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from wattlane.core.constraints import unique_violation
from wattlane.core.db import Database
from wattlane.core.orm import BaseModel, Id, SoftDelete, live_unique_index, new_metadata
from wattlane.core.testing.databases import DatabaseFactory


class Base(BaseModel):
    __abstract__ = True
    metadata = new_metadata()


class Owner(Base):
    __tablename__ = "owners"
    id: Mapped[Id] = mapped_column(primary_key=True)


class Role(Base, SoftDelete):
    __tablename__ = "roles"
    __table_args__ = (live_unique_index("ix_roles_live_name", "tenant_id", "display_name"),)
    id: Mapped[Id] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("owners.id"))
    display_name: Mapped[str]


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("constraints"))
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with database.transaction() as session:
        session.add(Owner(id="t1"))
        session.add(Role(id="r1", tenant_id="t1", display_name="Installer"))
    yield database
    await database.dispose()


async def test_a_unique_collision_names_the_field_not_the_scope(db: Database) -> None:
    with pytest.raises(IntegrityError) as raised:
        async with db.transaction() as session:
            session.add(Role(id="r2", tenant_id="t1", display_name="Installer"))
    error = unique_violation(raised.value)
    assert error is not None
    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.metadata["field"] == "display_name"
    assert error.message == "another role already has this display_name"


async def test_other_integrity_errors_are_not_the_callers(db: Database) -> None:
    with pytest.raises(IntegrityError) as raised:
        async with db.transaction() as session:
            session.add(Role(id="r3", tenant_id="nobody", display_name="x"))
    assert unique_violation(raised.value) is None
