"""TransactionHandoff's order and patience with its activities stubbed under their names (on
the time-skipping server): billing seals the charge record before the CSMS records the delivery,
and billing down only delays the record, it never fails the workflow."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from wattlane.workflows.handoff.types import ChargeRecorded, HandoffInput, HandoffResult
from wattlane.workflows.handoff.workflows import TransactionHandoff

HISTORIES = Path(__file__).parent / "histories"


class Stubs:
    """The two activities, recording their order; billing fails its first `billing_down` calls."""

    def __init__(self, billing_down: int = 0) -> None:
        self.calls: list[str] = []
        self.billing_down = billing_down

    @activity.defn(name="record_charge")
    async def record_charge(self, input: HandoffInput) -> ChargeRecorded:
        self.calls.append("record_charge")
        if self.calls.count("record_charge") <= self.billing_down:
            raise RuntimeError("billing is unavailable")  # what a gRPC UNAVAILABLE does: retried
        return ChargeRecorded(charge_record=f"chargeRecords/for-{input.transaction.split('/')[-1]}")

    @activity.defn(name="record_transaction_handoff")
    async def record(self, input: HandoffInput) -> HandoffResult:
        self.calls.append("record_transaction_handoff")
        return HandoffResult(deliveries=1)


async def _run(env: WorkflowEnvironment, stubs: Stubs, transaction: str) -> tuple[HandoffResult, str]:
    queue = f"billing-{secrets.token_hex(4)}"
    workflow_id = f"transaction-{secrets.token_hex(4)}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[TransactionHandoff],
        activities=[stubs.record_charge, stubs.record],
    ):
        result = await env.client.execute_workflow(
            TransactionHandoff.run, HandoffInput(transaction), id=workflow_id, task_queue=queue
        )
    return result, workflow_id


async def test_the_charge_record_is_sealed_before_the_delivery_is_recorded(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    stubs = Stubs()
    result, workflow_id = await _run(temporal_skipping, stubs, "transactions/7")
    assert stubs.calls == ["record_charge", "record_transaction_handoff"]
    assert result == HandoffResult(deliveries=1, charge_record="chargeRecords/for-7")
    if os.environ.get("WATTLANE_RECORD_HISTORIES") == "1":  # the replay fixture of this version
        history = await temporal_skipping.client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / "transaction_handoff_v2.json").write_text(history.to_json())


async def test_billing_down_delays_the_record_and_the_delivery_never_fails(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    stubs = Stubs(billing_down=5)  # about 1 + 2 + 4 + 8 + 16 s of backoff, skipped
    result, _ = await _run(temporal_skipping, stubs, "transactions/8")
    assert stubs.calls == ["record_charge"] * 6 + ["record_transaction_handoff"]
    assert result.charge_record == "chargeRecords/for-8"
