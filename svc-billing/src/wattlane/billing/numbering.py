"""Gapless invoice numbers per issuer and series (BILLING.md: Belgium demands no gaps).

A series is a year and document type ("2026-INV", "2026-CN"); each issuer has its own. A number is
allocated only at finalization, inside the finalizing transaction, by bumping the series'
counter row under a row lock:

- concurrent finalizations queue on the lock (PostgreSQL `SELECT … FOR UPDATE`; SQLite takes
  the database's write lock at BEGIN IMMEDIATE, see `wattlane.core.db`), so no two share a
  number and none is skipped;
- a crash between allocation and commit rolls the bump back with the invoice, so the next
  finalization takes the same number: there is no gap to explain.

A number never comes from a sequence object: sequences are not transactional and leave gaps."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.billing.models import InvoiceCounterRow
from wattlane.core.db import insert_ignoring_conflicts

PREFIXES = {"INVOICE": "INV", "CREDIT_NOTE": "CN"}


def series_of(kind: str, day: dt.date) -> str:
    """The series a document of `kind` finalized on `day` is numbered in, e.g. "2026-INV"."""
    return f"{day.year}-{PREFIXES[kind]}"


def format_number(series: str, sequence: int) -> str:
    """The printed number: "INV-2026-000042" for the 42nd of series "2026-INV"."""
    year, prefix = series.split("-", 1)
    return f"{prefix}-{year}-{sequence:06d}"


async def allocate(session: AsyncSession, issuer_id: str, series: str) -> int:
    """The next number of `issuer_id`'s `series` (1 for a new series), held by the caller's
    transaction until it commits or rolls back. Concurrent callers wait here for each other."""
    counter = InvoiceCounterRow.__table__
    # A new series: two first finalizations may race to create its row; the loser's insert waits
    # for the winner's transaction (PostgreSQL) and then does nothing.
    await insert_ignoring_conflicts(session, counter, [{"issuer_id": issuer_id, "series": series, "last": 0}])  # type: ignore[arg-type]
    row = (
        await session.execute(
            select(InvoiceCounterRow)
            .where(InvoiceCounterRow.issuer_id == issuer_id, InvoiceCounterRow.series == series)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    row.last += 1
    await session.flush()
    return row.last
