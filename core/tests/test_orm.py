"""orm: UTC timestamps on every backend, shared column types, mixins, naming convention."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Mapped, mapped_column

from wattlane.core.db import Database
from wattlane.core.orm import (
    BaseModel,
    Currency,
    Id,
    MinorUnits,
    SoftDelete,
    Timestamps,
    TreePath,
    UTCDateTime,
    integer_range,
    live_unique_index,
    new_metadata,
    utcnow,
)
from wattlane.core.testing.databases import DatabaseFactory


class Base(BaseModel):
    __abstract__ = True
    metadata = new_metadata()


class Tenant(Base, Timestamps):
    __tablename__ = "tenants"
    id: Mapped[Id] = mapped_column(primary_key=True)
    path: Mapped[TreePath]
    name: Mapped[str]


class Card(Base, Timestamps, SoftDelete):
    __tablename__ = "cards"
    __table_args__ = (live_unique_index("ix_cards_live_uid", "uid"),)
    id: Mapped[Id] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    uid: Mapped[str]
    balance: Mapped[MinorUnits]
    currency: Mapped[Currency]
    settings: Mapped[dict[str, Any]]
    tags: Mapped[list[str]]
    seen: Mapped[dt.datetime | None]


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("orm"))
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with database.transaction() as session:
        session.add(Tenant(id="t1", path="/t1/", name="T1"))
    yield database
    await database.dispose()


def card(card_id: str, uid: str, **kwargs: Any) -> Card:
    values: dict[str, Any] = {"tenant_id": "t1", "balance": 0, "currency": "EUR", "settings": {}, "tags": []}
    values.update(kwargs)
    return Card(id=card_id, uid=uid, **values)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),  # Amsterdam, DST
        dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-9, minutes=-30))),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ],
)
async def test_utc_datetime_round_trip(db: Database, value: dt.datetime) -> None:
    card_id = f"rt{int(value.timestamp() * 1_000_000) % 10**12}"
    async with db.transaction() as session:
        session.add(card(card_id, card_id, seen=value))
    async with db.reader() as session:
        stored = await session.scalar(select(Card.seen).where(Card.id == card_id))
    assert stored == value
    assert stored is not None
    assert stored.tzinfo == dt.UTC


async def test_naive_datetimes_are_rejected(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.transaction() as session:
            await session.execute(
                insert(Card).values(
                    id="naive",
                    tenant_id="t1",
                    uid="naive",
                    balance=0,
                    currency="EUR",
                    settings={},
                    tags=[],
                    seen=dt.datetime(2026, 1, 1),
                    create_time=utcnow(),
                    update_time=utcnow(),
                )
            )
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.reader() as session:
            await session.execute(select(Card).where(Card.seen > dt.datetime(2026, 1, 1)))


async def test_comparisons_across_offsets_are_by_instant(db: Database) -> None:
    base = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    async with db.transaction() as session:
        for i, minutes in enumerate([-90, -30, 30, 90]):
            session.add(card(f"cmp{i}", f"cmp{i}", seen=base + dt.timedelta(minutes=minutes)))
    plus_two = dt.timezone(dt.timedelta(hours=2))
    async with db.reader() as session:
        later = await session.scalars(
            select(Card.id)
            .where(Card.id.like("cmp%"), Card.seen > base.astimezone(plus_two))
            .order_by(Card.seen)
        )
        assert later.all() == ["cmp2", "cmp3"]


async def test_timestamps_mixin_sets_and_updates_times(db: Database) -> None:
    before = utcnow()
    async with db.transaction() as session:
        session.add(card("ts1", "ts1"))
    async with db.reader() as session:
        created = await session.get_one(Card, "ts1")
    assert before <= created.create_time <= utcnow()
    assert created.create_time.tzinfo == dt.UTC
    assert created.delete_time is None
    async with db.transaction() as session:
        await session.execute(update(Card).where(Card.id == "ts1").values(balance=5))
    async with db.reader() as session:
        changed = await session.get_one(Card, "ts1")
    assert changed.update_time > created.update_time
    assert changed.create_time == created.create_time


async def test_live_unique_index_ignores_soft_deleted_rows(db: Database) -> None:
    async with db.transaction() as session:
        session.add(card("u1", "UID-1"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(card("u2", "UID-1"))
    async with db.transaction() as session:
        await session.execute(update(Card).where(Card.id == "u1").values(delete_time=utcnow()))
    async with db.transaction() as session:
        session.add(card("u3", "UID-1"))  # the deleted card no longer holds the uid
        session.add(card("u4", "UID-2"))


async def test_json_money_and_paths(db: Database) -> None:
    async with db.transaction() as session:
        session.add(
            card(
                "j1",
                "j1",
                balance=2**40 + 1,
                currency="EUR",
                settings={"a": [1, {"b": None}]},
                tags=["x", "é"],
            )
        )
    async with db.reader() as session:
        stored = await session.get_one(Card, "j1")
        tenant = await session.get_one(Tenant, "t1")
    assert stored.balance == 2**40 + 1
    assert stored.settings == {"a": [1, {"b": None}]}
    assert stored.tags == ["x", "é"]
    assert tenant.path == "/t1/"


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(card("fk", "fk", tenant_id="missing"))


def test_naming_convention() -> None:
    metadata: MetaData = Base.metadata
    cards = metadata.tables["cards"]
    assert cards.primary_key.name == "pk_cards"
    assert {fk.name for fk in cards.foreign_key_constraints} == {"fk_cards_tenant_id_tenants"}
    extra = MetaData(naming_convention=metadata.naming_convention)
    table = Table("things", extra, Column("a", String), Column("b", String), UniqueConstraint("a", "b"))
    Index(None, table.c.b)
    assert {c.name for c in table.constraints if isinstance(c, UniqueConstraint)} == {"uq_things_a_b"}
    assert {i.name for i in table.indexes} == {"ix_things_b"}


def test_type_map_gives_utc_timestamps_and_json() -> None:
    columns = Card.__table__.c
    assert isinstance(columns.seen.type, UTCDateTime)
    assert columns.seen.nullable
    assert not columns.uid.nullable
    assert isinstance(columns.create_time.type, UTCDateTime)


def test_integer_range() -> None:
    assert integer_range(SmallInteger()) == (-(2**15), 2**15 - 1)
    assert integer_range(Integer()) == (-(2**31), 2**31 - 1)
    assert integer_range(BigInteger()) == (-(2**63), 2**63 - 1)
    assert integer_range(String()) == (-(2**63), 2**63 - 1)


def test_utcnow_is_aware() -> None:
    assert utcnow().tzinfo == dt.UTC
