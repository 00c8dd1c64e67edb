"""MonthlySettlement and SettleChunk: pure orchestration of billing's settlement RPCs.

MonthlySettlement pages the month's recipients (payers with open charge records) and runs one
SettleChunk child per page of at most `chunk_size` (≤ 500) recipients, one after another, with the
deterministic id `settlement-{issuer}-{month}-chunk-{n}`; after `chunks_per_run` chunks it
continues as new with the next page token, so neither its history (51,200 events) nor its
pending children (2,000) grow with the number of recipients. A chunk settles its recipients
`BATCH` at a time, one activity each. Billing makes each invoice once (keyed by issuer, month,
payer and currency), so a retried activity, a re-run of the month or a run killed half-way and
started again never makes a second invoice."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from wattlane.contracts.settlement import CHUNK_WORKFLOW, WORKFLOW, chunk_workflow_id
    from wattlane.workflows.settlement.activities import SettlementActivities
    from wattlane.workflows.settlement.calendar import previous_month
    from wattlane.workflows.settlement.types import (
        ChunkInput,
        ChunkResult,
        Period,
        RecipientsRequest,
        SettlementInput,
        SettlementResult,
        SettleRequest,
    )

MAX_CHUNK = 500  # recipients per child workflow (and per page of recipients), at most
BATCH = 50  # recipients per settle activity: a retry redoes little
COLLISION_WAIT = timedelta(seconds=30)
# Billing may be down for a while: keep trying (capped backoff) rather than leave a month half done.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


@workflow.defn(name=CHUNK_WORKFLOW)
class SettleChunk:
    @workflow.run
    async def run(self, input: ChunkInput) -> ChunkResult:
        done = ChunkResult()
        for start in range(0, len(input.recipients), BATCH):
            request = SettleRequest(input.period, input.recipients[start : start + BATCH], input.vat_country)
            done = done + await workflow.execute_activity_method(
                SettlementActivities.settle,
                request,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RETRY,
            )
        return done


@workflow.defn(name=WORKFLOW)
class MonthlySettlement:
    @workflow.run
    async def run(self, input: SettlementInput) -> SettlementResult:
        """Settle `input`'s month (empty: the month before today's in the issuer's zone, as the
        schedule starts it), picking up where a run continued as new left off."""
        month = input.month or previous_month(workflow.now(), input.time_zone)
        period = Period(input.issuer, month, input.time_zone)
        so_far = input.done or SettlementResult(month)
        token, chunk = input.page_token, so_far.chunks
        done = ChunkResult(so_far.created, so_far.existing, so_far.charge_records, so_far.skipped)
        size = max(1, min(input.chunk_size, MAX_CHUNK))
        for _ in range(max(1, input.chunks_per_run)):
            page = await workflow.execute_activity_method(
                SettlementActivities.list_recipients,
                RecipientsRequest(period, size, token),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
            )
            if page.recipients:
                try:
                    done = done + await workflow.execute_child_workflow(
                        SettleChunk.run,
                        ChunkInput(period, page.recipients, input.vat_country),
                        id=chunk_workflow_id(period.issuer, period.month, chunk),
                        task_queue=workflow.info().task_queue,
                    )
                except WorkflowAlreadyStartedError:
                    # Another run of the month (the schedule's and an operator's) is settling a
                    # chunk of that id: wait, then list again from the same place (what it
                    # invoiced is gone from the list by then) and take the id once it is free.
                    await workflow.sleep(COLLISION_WAIT)
                    continue
                chunk += 1
            token = page.next_page_token
            so_far = SettlementResult(
                month, done.created, done.existing, done.charge_records, done.skipped, chunk
            )
            if not token:
                return so_far
        workflow.continue_as_new(dataclasses.replace(input, month=month, page_token=token, done=so_far))
