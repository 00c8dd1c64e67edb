"""SQL of transactions, meter values and the handoff outbox (callers own the session)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.db import dialect_insert
from wattlane.csms.models import (
    MeterValue,
    Transaction,
    TransactionChargingState,
    TransactionHandoff,
    TransactionOutbox,
)

TRANSACTIONS: Table = Transaction.__table__  # type: ignore[assignment]
METER_VALUES: Table = MeterValue.__table__  # type: ignore[assignment]
OUTBOX: Table = TransactionOutbox.__table__  # type: ignore[assignment]
HANDOFFS: Table = TransactionHandoff.__table__  # type: ignore[assignment]
CHARGING_STATES: Table = TransactionChargingState.__table__  # type: ignore[assignment]


async def find_or_create(session: AsyncSession, row: Mapping[str, Any]) -> int:
    """The id of the transaction with `row`'s (identity, start_key), inserting `row` if none.

    ON CONFLICT DO NOTHING, then a read: a concurrent start of the same key (a station that
    reconnected to another process) waits for the other insert and finds its row."""
    c = TRANSACTIONS.c
    found = await session.scalar(
        select(c.id).where(c.identity == row["identity"], c.start_key == row["start_key"])
    )
    if found is not None:
        if row["id_token"]:
            await _authorize_late(session, int(found), row)
        return int(found)
    stmt = dialect_insert(session, TRANSACTIONS).values(dict(row)).on_conflict_do_nothing()
    await session.execute(stmt)
    found = await session.scalar(
        select(c.id).where(c.identity == row["identity"], c.start_key == row["start_key"])
    )
    assert found is not None
    return int(found)


# Who may see and who pays, taken from the first event that names a token (2.0.1: a session may
# start on plug-in and be authorized later).
TENANCY_COLUMNS = (
    "id_token",
    "token_type",
    "authorization_status",
    "card_id",
    "card_owner_id",
    "card_owner_path",
    "cardholder_id",
    "payer",
    "rate_plan",
    "time_zone",
)


async def _authorize_late(session: AsyncSession, transaction_id: int, row: Mapping[str, Any]) -> None:
    c = TRANSACTIONS.c
    await session.execute(
        update(TRANSACTIONS)
        .where(c.id == transaction_id, c.id_token == "")
        .values({name: row[name] for name in TENANCY_COLUMNS})
    )


async def states(session: AsyncSession, ids: Sequence[int]) -> dict[int, tuple[str, bool, int | None]]:
    """id → (identity, ended, meter_start_wh) of these transactions."""
    if not ids:
        return {}
    c = TRANSACTIONS.c
    rows = await session.execute(
        select(c.id, c.identity, c.stop_time.is_not(None), c.meter_start_wh).where(c.id.in_(sorted(set(ids))))
    )
    return {int(r[0]): (r[1], bool(r[2]), r[3]) for r in rows}


async def add_meter_values(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert samples; a sample already stored (same transaction and time) is left as it is."""
    if rows:
        await session.execute(dialect_insert(session, METER_VALUES).on_conflict_do_nothing(), list(rows))


async def active_on_evse(session: AsyncSession, identity: str, evse_id: int) -> int | None:
    """The id of the station's latest transaction on `evse_id` that has not ended."""
    c = TRANSACTIONS.c
    found = await session.scalar(
        select(c.id)
        .where(c.identity == identity, c.evse_id == evse_id, c.stop_time.is_(None))
        .order_by(c.id.desc())
        .limit(1)
    )
    return int(found) if found is not None else None


async def add_charging_state(
    session: AsyncSession, transaction_id: int, at: dt.datetime, charging: bool
) -> bool:
    """Store a charging (True) or parked (False) state from `at` unless the transaction was
    already in it then (only changes are kept; a repeat at the same time is the same row).
    True when stored."""
    c = CHARGING_STATES.c
    before = await session.scalar(
        select(c.charging)
        .where(c.transaction_id == transaction_id, c.time <= at)
        .order_by(c.time.desc())
        .limit(1)
    )
    if before is not None and bool(before) == charging:
        return False
    await session.execute(
        dialect_insert(session, CHARGING_STATES)
        .values(transaction_id=transaction_id, time=at, charging=charging)
        .on_conflict_do_nothing()
    )
    return True


async def charging_states_of(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, list[TransactionChargingState]]:
    """The charging ↔ parked changes of these transactions, by time."""
    result: dict[int, list[TransactionChargingState]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = await session.scalars(
        select(TransactionChargingState)
        .where(TransactionChargingState.transaction_id.in_(list(ids)))
        .order_by(TransactionChargingState.transaction_id, TransactionChargingState.time)
    )
    for row in rows:
        result[row.transaction_id].append(row)
    return result


async def last_energy(session: AsyncSession, transaction_id: int) -> int | None:
    """The energy register of the transaction's latest sample that has one."""
    c = METER_VALUES.c
    value = await session.scalar(
        select(c.energy_wh)
        .where(c.transaction_id == transaction_id, c.energy_wh.is_not(None))
        .order_by(c.time.desc())
        .limit(1)
    )
    return int(value) if value is not None else None


async def end(session: AsyncSession, transaction_id: int, values: Mapping[str, Any], at: dt.datetime) -> bool:
    """End a transaction that has not ended yet and queue its handoff in the same transaction;
    False when it had already ended (a repeated Stop / Ended)."""
    c = TRANSACTIONS.c
    result = await session.execute(
        update(TRANSACTIONS).where(c.id == transaction_id, c.stop_time.is_(None)).values(**values)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        dialect_insert(session, OUTBOX)
        .values(transaction_id=transaction_id, create_time=at, relay_time=None)
        .on_conflict_do_nothing()
    )
    return True


async def waiting_handoffs(session: AsyncSession, limit: int) -> list[int]:
    """Completed transactions whose workflow has not been confirmed started, oldest first."""
    c = OUTBOX.c
    rows = await session.scalars(
        select(c.transaction_id).where(c.relay_time.is_(None)).order_by(c.transaction_id).limit(limit)
    )
    return [int(r) for r in rows]


async def record_handoff(
    session: AsyncSession, transaction_id: int, workflow_id: str, at: dt.datetime
) -> TransactionHandoff:
    """Record one delivery of a transaction (an upsert); returns the handoff as it is now."""
    stmt = dialect_insert(session, HANDOFFS).values(
        transaction_id=transaction_id, workflow_id=workflow_id, first_time=at, deliveries=1
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["transaction_id"], set_={"deliveries": HANDOFFS.c.deliveries + 1}
        )
    )
    row = await session.get(TransactionHandoff, transaction_id, populate_existing=True)
    assert row is not None
    return row


async def get_transaction(session: AsyncSession, transaction_id: int) -> Transaction | None:
    """One transaction row."""
    return await session.get(Transaction, transaction_id)


async def list_transactions(
    session: AsyncSession, where: ColumnElement[bool], limit: int
) -> list[Transaction]:
    """Transactions matching `where` (visibility, filter, page key), newest first (by id: ids
    are handed out as transactions start, and the id is the page key)."""
    stmt = select(Transaction).where(where).order_by(Transaction.id.desc())
    return list(await session.scalars(stmt.limit(limit)))


async def meter_values_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[MeterValue]]:
    """The samples of these transactions, by time."""
    result: dict[int, list[MeterValue]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = await session.scalars(
        select(MeterValue)
        .where(MeterValue.transaction_id.in_(list(ids)))
        .order_by(MeterValue.transaction_id, MeterValue.time)
    )
    for row in rows:
        result[row.transaction_id].append(row)
    return result


async def count_rows(session: AsyncSession, table: Table) -> int:
    """How many rows `table` holds (tests and the bench's count checks)."""
    return int(await session.scalar(select(func.count()).select_from(table)) or 0)
