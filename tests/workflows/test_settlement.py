"""The monthly settlement end to end: the real billing service (its database, gRPC, the charge
records sealed through RecordCharge), a real Temporal server and a worker with the real
settlement activities calling billing with the worker's service token.

Counted every time: each charge record of a month is on exactly one invoice (billing's
settlement keys hold as many records as were sealed in the month, and none is left open), each
payer gets one invoice per month, and the issuer's numbers are gapless. A year of settlements
runs on the time-skipping server as the schedule starts them (no month given: the month before
the 1st they start on); a re-run and a run killed half-way (the worker stopped, the workflow
terminated and started again with the same id) and billing killed half-way (restarted on the
same database and port while the run waits) make nothing twice."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from tests.support.settlement import (
    ZONE,
    World,
    first_of_next,
    local,
    world_fixture,  # noqa: F401 (a fixture)
)
from wattlane.billing.main import BillingService
from wattlane.billing.models import SettlementRow
from wattlane.contracts.settlement import SettlementInput, SettlementResult, workflow_id
from wattlane.workflows.settlement.workflows import MonthlySettlement


async def test_a_year_of_scheduled_settlements_invoices_every_record_once(
    world: World, temporal_skipping: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve months, each run started (as the schedule does) on the 1st at 00:30 in Brussels
    with no month: it settles the month before. Each month three payers charge; a session handed
    over at 00:10 on the 1st (before the run) belongs to the new month and is settled a month
    later, never dropped."""
    env = temporal_skipping
    queue = f"billing-{secrets.token_hex(4)}"
    month = first_of_next((await env.get_current_time()).astimezone(ZoneInfo(ZONE)).date())
    await world.seal(monkeypatch, local(month, 0, 5), world.payers[3])  # before the first run
    results: list[SettlementResult] = []
    async with world.worker(env.client, queue):
        for _ in range(12):
            for payer in world.payers[:3]:
                await world.seal(monkeypatch, local(month.replace(day=10), 9), payer)
                await world.seal(monkeypatch, local(month.replace(day=20), 18), payer)
            following = first_of_next(month)
            await world.seal(monkeypatch, local(following, 0, 10), world.payers[3])  # a late one
            # The schedule fires on the 1st at 00:30 in the issuer's zone.
            await env.sleep(local(following, 0, 30) - await env.get_current_time())
            # The run itself in real time: waiting on its result unlocks skipping, and the test
            # server would skip to its farthest timer (years ahead) while billing answers.
            with env.auto_time_skipping_disabled():
                result = await env.client.execute_workflow(
                    MonthlySettlement.run,
                    SettlementInput(world.issuer, "", ZONE, vat_country="BE"),
                    id=f"settlement-scheduled-{following.isoformat()}",
                    task_queue=queue,
                )
            assert result.month == f"{month.year:04d}-{month.month:02d}"
            results.append(result)
            sealed, invoiced, held = await world.counts(result.month)
            assert sealed == invoiced == held == result.charge_records == 6 + 1, result
            month = following
    # Four payers a month (three, and the one whose late record came in on the 1st).
    assert [r.created for r in results] == [4] * 12 and all(r.existing == 0 for r in results)
    assert await world.numbers() == list(range(1, 4 * 12 + 1))  # gapless
    # The last late record waits, open, for the next run.
    sealed, invoiced, _ = await world.counts(f"{month.year:04d}-{month.month:02d}")
    assert (sealed, invoiced) == (1, 0)


async def test_a_re_run_and_a_run_killed_half_way_invoice_nothing_twice(
    world: World, temporal_dev: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = temporal_dev.client
    queue = f"billing-{secrets.token_hex(4)}"
    october, november, december = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)
    for day in (october, november, december):
        for payer in world.payers:
            for hour in (8, 17):
                await world.seal(monkeypatch, local(day.replace(day=15), hour), payer)

    # Small chunks: five children, and a continue-as-new every two. October first: a run also
    # settles what an earlier month left open, so November's would take October's records.
    def settle(month: str, chunk_size: int = 1) -> SettlementInput:
        return SettlementInput(
            world.issuer, month, ZONE, vat_country="BE", chunk_size=chunk_size, chunks_per_run=2
        )

    october_id, november_id = workflow_id(world.issuer, "2026-10"), workflow_id(world.issuer, "2026-11")

    # October, then October again with the same id: nothing new.
    worker = world.worker(client, queue)
    running = asyncio.create_task(worker.run())
    first = await client.execute_workflow(
        MonthlySettlement.run, settle("2026-10"), id=october_id, task_queue=queue
    )
    assert (first.created, first.charge_records, first.chunks) == (5, 10, 5)
    again = await client.execute_workflow(
        MonthlySettlement.run, settle("2026-10"), id=october_id, task_queue=queue
    )
    assert (again.created, again.charge_records) == (0, 0)
    assert await world.counts("2026-10") == (10, 10, 10)
    assert await world.numbers() == [1, 2, 3, 4, 5]

    # November, killed half-way: the worker stops once the first invoice is made, the workflow
    # is terminated, and the same id is started again on a new worker.
    handle = await client.start_workflow(
        MonthlySettlement.run, settle("2026-11"), id=november_id, task_queue=queue
    )
    for _ in range(400):
        if (await world.counts("2026-11"))[2]:
            break
        await asyncio.sleep(0.025)
    await worker.shutdown()
    await running
    await handle.terminate("killed half-way by the test")
    half = await world.counts("2026-11")
    worker = world.worker(client, queue)
    running = asyncio.create_task(worker.run())
    rerun = await client.execute_workflow(
        MonthlySettlement.run, settle("2026-11", 2), id=november_id, task_queue=queue
    )
    assert half[2] < 10 or rerun.created == 0  # the kill landed half-way (or the run had finished)
    assert await world.counts("2026-11") == (10, 10, 10)
    assert await world.numbers() == list(range(1, 11))  # ten invoices, gapless

    # December, billing killed half-way: the same run waits (its activities retried) and finishes
    # once billing is back on the same database and port.
    handle = await client.start_workflow(
        MonthlySettlement.run, settle("2026-12"), id=workflow_id(world.issuer, "2026-12"), task_queue=queue
    )
    for _ in range(400):
        if (await world.counts("2026-12"))[2]:
            break
        await asyncio.sleep(0.025)
    old = world.billing.service
    await old.stop()
    await asyncio.sleep(1.5)
    world.billing.service = BillingService(dataclasses.replace(old.settings, port=old.port))
    await world.billing.service.start()
    december_result = await handle.result()
    await worker.shutdown()
    await running
    assert await world.counts("2026-12") == (10, 10, 10)
    assert december_result.created + december_result.existing <= 5
    assert await world.numbers() == list(range(1, 16))  # fifteen invoices, gapless
    async with world.billing.service.rt.db.reader() as session:
        per_payer = (
            await session.execute(
                select(SettlementRow.month, func.count()).group_by(SettlementRow.month, SettlementRow.payer)
            )
        ).all()
    assert (
        sorted(per_payer) == [("2026-10", 1)] * 5 + [("2026-11", 1)] * 5 + [("2026-12", 1)] * 5
    )  # one invoice per payer and month
