"""ORM building blocks every service shares: naming convention, column types, mixins.

Each service declares its own `Base` with `new_base()` (one MetaData per service database) and
maps its tables on it; the conventions below make constraint names stable for Alembic.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, QueryableAttribute, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored and returned as timezone-aware UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        # SQLite has no time zone type: store naive UTC so text comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# Paths compare byte-wise so the prefix range test uses the index (PostgreSQL: COLLATE "C").
PathString = String(512).with_variant(String(512, collation="C"), "postgresql")
JsonType = JSON().with_variant(JSONB(), "postgresql")

# Shared annotated column types: ids, tree paths, money, energy, power.
Id = Annotated[str, mapped_column(String(64))]
TreePath = Annotated[str, mapped_column(PathString)]
MinorUnits = Annotated[int, mapped_column(BigInteger)]  # money: integer minor units (cents)
Currency = Annotated[str, mapped_column(String(3))]  # ISO-4217 code
WattHours = Annotated[int, mapped_column(BigInteger)]  # energy
Watts = Annotated[int, mapped_column(BigInteger)]  # power

# A column as queries take it: a mapped attribute (User.email) or a Core column expression.
SqlColumn = ColumnElement[Any] | QueryableAttribute[Any]

TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    dt.datetime: UTCDateTime(),
    dict[str, Any]: JsonType,
    list[str]: JsonType,
    list[Any]: JsonType,
    str: String(255),
    int: Integer(),
}


def integer_range(column_type: Any) -> tuple[int, int]:
    """The values an integer column holds on every backend (PostgreSQL's int2, int4, int8);
    64-bit for anything that is not an Integer type."""
    if isinstance(column_type, SmallInteger):
        bits = 16
    elif isinstance(column_type, Integer) and not isinstance(column_type, BigInteger):
        bits = 32
    else:
        bits = 64
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def new_metadata() -> MetaData:
    """A MetaData with the shared constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class BaseModel(DeclarativeBase):
    """Abstract root; each service subclasses it once with its own MetaData (`new_base`)."""

    __abstract__ = True
    type_annotation_map = TYPE_ANNOTATION_MAP


class Timestamps:
    """create_time / update_time, set by the application (not the database clock)."""

    create_time: Mapped[dt.datetime] = mapped_column(default=utcnow)
    update_time: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SoftDelete:
    """Rows whose history must stay are marked deleted, never removed."""

    delete_time: Mapped[dt.datetime | None] = mapped_column(default=None)


def live_unique_index(name: str, *columns: Any) -> Index:
    """A unique index that ignores soft-deleted rows (both SQLite and PostgreSQL)."""
    condition = text("delete_time IS NULL")
    return Index(name, *columns, unique=True, sqlite_where=condition, postgresql_where=condition)
