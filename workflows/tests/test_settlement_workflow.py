"""MonthlySettlement's orchestration with its activities stubbed under their names (on the
time-skipping server): recipients paged into chunks, one child per chunk with deterministic ids,
continue-as-new after `chunks_per_run` children, the month resolved from the start time in the
issuer's zone when none is given, and billing down only delaying the month."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from wattlane.contracts.settlement import SettlementInput, SettlementResult, workflow_id
from wattlane.workflows.settlement.calendar import previous_month
from wattlane.workflows.settlement.types import (
    ChunkResult,
    Recipient,
    RecipientsPage,
    RecipientsRequest,
    SettleRequest,
)
from wattlane.workflows.settlement.workflows import MonthlySettlement, SettleChunk

HISTORIES = Path(__file__).parent / "histories"


class FakeBilling:
    """What billing's settlement RPCs do, in memory: the open recipients in payer order, paged by
    the last payer; settling one makes its invoice once (a repeat finds it)."""

    def __init__(self, payers: int, down: int = 0) -> None:
        self.open = {f"users/{i:04d}" for i in range(payers)}
        self.invoiced: dict[str, int] = {}
        self.months: set[str] = set()
        self.down = down
        self.settle_calls = 0

    @activity.defn(name="list_settlement_recipients")
    async def list_recipients(self, request: RecipientsRequest) -> RecipientsPage:
        self.months.add(request.period.month)
        after = request.page_token
        found = sorted(p for p in self.open if p > after)
        page = found[: request.page_size]
        token = page[-1] if len(found) > request.page_size else ""
        return RecipientsPage([Recipient(p, "EUR") for p in page], token)

    @activity.defn(name="settle_recipients")
    async def settle(self, request: SettleRequest) -> ChunkResult:
        self.settle_calls += 1
        if self.settle_calls <= self.down:
            raise RuntimeError("billing is unavailable")  # what a gRPC UNAVAILABLE does: retried
        result = ChunkResult()
        for r in request.recipients:
            created = r.payer in self.open
            self.open.discard(r.payer)
            self.invoiced[r.payer] = self.invoiced.get(r.payer, 0) + int(created)
            result = result + ChunkResult(created=int(created), existing=int(not created), charge_records=2)
        return result


async def _run(
    env: WorkflowEnvironment, billing: FakeBilling, input: SettlementInput, workflow: str = ""
) -> tuple[SettlementResult, str]:
    queue = f"billing-{secrets.token_hex(4)}"
    workflow = workflow or f"{workflow_id(input.issuer, input.month)}-{secrets.token_hex(3)}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[MonthlySettlement, SettleChunk],
        activities=[billing.list_recipients, billing.settle],
    ):
        handle = await env.client.start_workflow(MonthlySettlement.run, input, id=workflow, task_queue=queue)
        result = await handle.result()
    return result, handle.result_run_id or ""


async def _children(env: WorkflowEnvironment, workflow: str, run_id: str) -> tuple[list[str], bool]:
    """The children a run started and whether it continued as new."""
    events = [e async for e in env.client.get_workflow_handle(workflow, run_id=run_id).fetch_history_events()]
    started = [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]
    return started, events[-1].HasField("workflow_execution_continued_as_new_event_attributes")


async def test_recipients_are_chunked_into_children_with_deterministic_ids_and_continue_as_new(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    billing = FakeBilling(payers=7)
    issuer = f"tenants/op{secrets.token_hex(3)}"
    input = SettlementInput(issuer, "2026-11", "Europe/Brussels", chunk_size=2, chunks_per_run=2)
    workflow = workflow_id(issuer, "2026-11")
    result, first_run = await _run(temporal_skipping, billing, input, workflow)
    assert result == SettlementResult("2026-11", created=7, charge_records=14, chunks=4)
    assert billing.invoiced == {f"users/{i:04d}": 1 for i in range(7)}
    # Two children per run: the first run started chunks 0 and 1, then continued as new.
    children, continued = await _children(temporal_skipping, workflow, first_run)
    assert children == [f"{workflow}-chunk-0", f"{workflow}-chunk-1"] and continued
    if os.environ.get("WATTLANE_RECORD_HISTORIES") == "1":  # a run that continued as new
        history = await temporal_skipping.client.get_workflow_handle(
            workflow, run_id=first_run
        ).fetch_history()
        (HISTORIES / "monthly_settlement_continued.json").write_text(history.to_json())
    latest = (await temporal_skipping.client.get_workflow_handle(workflow).describe()).run_id
    children, continued = await _children(temporal_skipping, workflow, latest)
    assert children == [f"{workflow}-chunk-2", f"{workflow}-chunk-3"] and not continued
    # A re-run of the month (the same id, once it ended) makes nothing new.
    again, _ = await _run(temporal_skipping, billing, input, workflow)
    assert again == SettlementResult("2026-11")


async def test_the_schedule_s_run_settles_the_month_before_in_the_issuer_s_zone(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    billing = FakeBilling(payers=3)
    input = SettlementInput(f"tenants/op{secrets.token_hex(3)}", "", "Pacific/Kiritimati")
    workflow = f"settlement-scheduled-{secrets.token_hex(3)}"
    result, _ = await _run(temporal_skipping, billing, input, workflow)
    started = (await temporal_skipping.client.get_workflow_handle(workflow).describe()).start_time
    assert result.month == previous_month(started, "Pacific/Kiritimati") and result.created == 3
    if os.environ.get("WATTLANE_RECORD_HISTORIES") == "1":  # the replay fixtures of this version
        client = temporal_skipping.client
        history = await client.get_workflow_handle(workflow).fetch_history()
        (HISTORIES / "monthly_settlement.json").write_text(history.to_json())
        chunk = f"{workflow_id(input.issuer, result.month)}-chunk-0"
        history = await client.get_workflow_handle(chunk).fetch_history()
        (HISTORIES / "settle_chunk.json").write_text(history.to_json())


async def test_billing_down_delays_the_month_and_never_invoices_twice(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    billing = FakeBilling(payers=120, down=4)  # about 1 + 2 + 4 + 8 s of backoff, skipped
    input = SettlementInput(f"tenants/op{secrets.token_hex(3)}", "2026-10", "UTC")
    result, _ = await _run(temporal_skipping, billing, input)
    assert result.created == 120 and set(billing.invoiced.values()) == {1}
    assert billing.settle_calls == 4 + 3  # 120 recipients in batches of 50, after 4 failures


@workflow.defn(name="OtherRunsChunk")
class OtherRunsChunk:
    """Stands for the chunk of another run of the month holding the id for a while."""

    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(seconds=10))


async def test_a_chunk_id_held_by_another_run_of_the_month_is_waited_for(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    billing = FakeBilling(payers=3)
    issuer = f"tenants/op{secrets.token_hex(3)}"
    queue = f"billing-{secrets.token_hex(4)}"
    workflow_of_month = workflow_id(issuer, "2026-09")
    async with Worker(
        temporal_skipping.client,
        task_queue=queue,
        workflows=[MonthlySettlement, SettleChunk, OtherRunsChunk],
        activities=[billing.list_recipients, billing.settle],
    ):
        await temporal_skipping.client.start_workflow(
            OtherRunsChunk.run, id=f"{workflow_of_month}-chunk-0", task_queue=queue
        )
        result = await temporal_skipping.client.execute_workflow(
            MonthlySettlement.run,
            SettlementInput(issuer, "2026-09", "UTC"),
            id=workflow_of_month,
            task_queue=queue,
        )
    assert (result.created, result.chunks) == (3, 1)
    events = [
        e
        async for e in temporal_skipping.client.get_workflow_handle(workflow_of_month).fetch_history_events()
    ]
    assert any(e.HasField("timer_started_event_attributes") for e in events)  # it waited
