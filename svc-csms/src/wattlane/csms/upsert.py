"""INSERT ... ON CONFLICT for the session's dialect (PostgreSQL or SQLite).

Generic helpers the registry, the transactions and the leases share; they move to core
(`wattlane.core.db.upsert`) once it has them, and their callers switch then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect (PostgreSQL or SQLite)."""
    name = session.get_bind().dialect.name
    return postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    updates: Mapping[str, Any] | Sequence[str],
) -> None:
    """Insert `rows` (all with the same columns); on a key conflict set `updates`: column names
    (take the new row's value) or a mapping of column → SQL expression over `excluded`."""
    if not rows:
        return
    stmt = dialect_insert(session, table)
    excluded = stmt.excluded
    if isinstance(updates, Mapping):
        set_ = {name: value(excluded) if callable(value) else value for name, value in updates.items()}
    else:
        set_ = {name: excluded[name] for name in updates}
    await session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=set_), list(rows))
