"""Gapless invoice numbers: finalizations running at once never share or skip a number, and a
process killed between allocating a number and committing leaves no gap (the number is reused).
Runs on SQLite and, with WATTLANE_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from wattlane.billing import invoices
from wattlane.billing.schema import MIGRATIONS
from wattlane.core.clients.directory import Owner
from wattlane.core.db import Database
from wattlane.core.migrations import upgrade_async
from wattlane.core.scope import EffectiveScope, Grant
from wattlane.core.testing.databases import DatabaseFactory

TODAY = dt.date(2026, 12, 7)
ISSUER = Owner("tenants/p1", "p1", "/op/p1/", "PARTNER", "Voltera")
RECIPIENT = Owner("tenants/o1", "o1", "/op/p1/o1/", "ORGANIZATION", "Acme")
SCOPE = EffectiveScope.build(
    "users/admin", {"billing.manage": [Grant(ISSUER.path)], "billing.read": [Grant(ISSUER.path)]}
)
LINE = invoices.LineSpec("Charging", Decimal("10"), "kWh", Decimal("0.30"), Decimal(21), "NL")


@pytest.fixture(name="db")
async def db_fixture(databases: DatabaseFactory) -> AsyncIterator[Database]:
    url = await databases.create("numbering")
    await upgrade_async(url, MIGRATIONS)
    database = Database(url, pool_size=16)
    try:
        yield database
    finally:
        await database.dispose()


async def drafts(db: Database, count: int) -> list[str]:
    out = []
    for _ in range(count):
        async with db.transaction() as session:
            draft = await invoices.create_draft(
                session, SCOPE, ISSUER, RECIPIENT, invoices.DraftSpec("EUR", lines=(LINE,))
            )
            out.append(draft.row.id)
    return out


async def finalize(db: Database, invoice_id: str) -> invoices.Invoice:
    async with db.transaction() as session:
        return await invoices.finalize(session, SCOPE, "", invoice_id, today=TODAY)


async def test_parallel_finalizations_number_one_to_n_without_gaps_or_duplicates(db: Database) -> None:
    ids = await drafts(db, 12)
    done = await asyncio.gather(*(finalize(db, i) for i in ids))
    assert sorted(d.row.sequence for d in done) == list(range(1, 13))
    assert len({d.row.number for d in done}) == 12
    assert {d.row.series for d in done} == {"2026-INV"}
    assert min(d.row.number for d in done) == "INV-2026-000001"
    async with db.reader() as session:
        assert await invoices.count_in_series(session, ISSUER.tenant_id, "2026-INV") == 12
    # Another issuer's series starts at 1 of its own.
    other = Owner("tenants/p2", "p2", "/op/p2/", "PARTNER", "ChargeCo")
    scope = EffectiveScope.build("users/x", {"billing.manage": [Grant(other.path)]})
    async with db.transaction() as session:
        draft = await invoices.create_draft(
            session, scope, other, RECIPIENT, invoices.DraftSpec("EUR", lines=(LINE,))
        )
        final = await invoices.finalize(session, scope, "", draft.row.id, today=TODAY)
    assert final.row.number == "INV-2026-000001"


_CHILD = textwrap.dedent(
    """
    import asyncio, datetime as dt, sys, time
    from wattlane.billing import invoices
    from wattlane.core.clients.directory import Owner
    from wattlane.core.db import Database
    from wattlane.core.scope import EffectiveScope, Grant

    async def main(url: str, invoice_id: str) -> None:
        scope = EffectiveScope.build("users/admin", {"billing.manage": [Grant("/op/p1/")]})
        db = Database(url)
        async with db.transaction() as session:
            final = await invoices.finalize(session, scope, "", invoice_id, today=dt.date(2026, 12, 7))
            print(final.row.number, flush=True)
            time.sleep(600)  # killed here: allocated, not committed

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_a_crash_between_allocation_and_commit_leaves_no_gap(db: Database) -> None:
    first, second = await drafts(db, 2)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, db.url.render_as_string(hide_password=False), first,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        assert line.decode().strip() == "INV-2026-000001"  # allocated inside the open transaction
    finally:
        os.kill(child.pid, signal.SIGKILL)
        await asyncio.wait_for(child.wait(), 30)
    # The killed transaction is rolled back: its number is free again, the draft is still a draft.
    done = await finalize(db, second)
    assert done.row.number == "INV-2026-000001"
    again = await finalize(db, first)
    assert again.row.number == "INV-2026-000002"
