"""Recorded workflow histories replay against the current workflow code: a change that would
break running workflows (non-determinism) fails here. Re-record with
WATTLANE_RECORD_HISTORIES=1 only for intended changes (and use workflow.patched()).

A history stands for workflows running in production: when a workflow's inputs or results
change shape, the old history stays and a new one (`*_v2`, or a new scenario) is recorded next
to it, so both shapes are proven."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from wattlane.workflows.approval.types import ApplyDecisionInput, ScheduleRenewalResult
from wattlane.workflows.handoff.types import HandoffResult
from wattlane.workflows.worker import WORKFLOWS

HISTORIES = {p.stem: p.read_text() for p in sorted((Path(__file__).parent / "histories").glob("*.json"))}


def test_fixtures_exist() -> None:
    assert {
        "approval_reminded_then_signalled",
        "renewal_renewed_before_expiry",
        "renewal_full_year",
        "user_mail_invitation",
        "transaction_handoff",
        # Recorded after the approval's decision input (effective_time) and the schedule_renewal
        # and AccountRenewal results (dataclasses) changed.
        "approval_reminded_then_signalled_v2",
        "approval_decided_after_local_midnight",
        "renewal_full_year_v2",
        # Recorded after the handoff had billing seal the charge record first (workflow.patched):
        # the old history proves running handoffs finish without it.
        "transaction_handoff_v2",
        # A canary and three waves of a firmware campaign, every gate passed.
        "firmware_campaign",
        # The monthly settlement as the schedule starts it (the month resolved from its start
        # time) and one of its chunks.
        "monthly_settlement",
        "monthly_settlement_continued",
        "settle_chunk",
    } <= set(HISTORIES)


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(workflows=WORKFLOWS)
    await replayer.replay_workflow(history)


def _activity_payloads(history: str, activity_type: str) -> tuple[Payload, Payload]:
    """The input and the result of the first `activity_type` activity in a committed history."""
    events = WorkflowHistory.from_json(history, HISTORIES[history]).events
    scheduled = next(
        e for e in events if e.activity_task_scheduled_event_attributes.activity_type.name == activity_type
    )
    completed = next(
        e
        for e in events
        if e.HasField("activity_task_completed_event_attributes")
        and e.activity_task_completed_event_attributes.scheduled_event_id == scheduled.event_id
    )
    return (
        scheduled.activity_task_scheduled_event_attributes.input.payloads[0],
        completed.activity_task_completed_event_attributes.result.payloads[0],
    )


def test_old_activity_payloads_decode_into_the_new_dataclasses() -> None:
    """What runs started before the change hold decodes into today's dataclasses: a new worker
    replays their results and runs the activities they scheduled."""
    converter = DataConverter.default.payload_converter
    # schedule_renewal returned None: the null result decodes as None (the workflow reads none).
    _, old_result = _activity_payloads("approval_reminded_then_signalled", "schedule_renewal")
    assert converter.from_payload(old_result, ScheduleRenewalResult) is None
    _, new_result = _activity_payloads("approval_reminded_then_signalled_v2", "schedule_renewal")
    assert converter.from_payload(new_result, ScheduleRenewalResult).workflow_id.startswith("renewal-")
    # apply_decision took a UTC effective_date: it is dropped, and identity takes the customer's
    # date at its own clock.
    old_input, _ = _activity_payloads("approval_reminded_then_signalled", "apply_decision")
    assert converter.from_payload(old_input, ApplyDecisionInput).effective_time is None
    new_input, _ = _activity_payloads("approval_decided_after_local_midnight", "apply_decision")
    effective = converter.from_payload(new_input, ApplyDecisionInput).effective_time
    assert effective is not None and (effective.hour, effective.minute) == (23, 30)  # 00:30 in Amsterdam


def _activities(history: str) -> list[str]:
    events = WorkflowHistory.from_json(history, HISTORIES[history]).events
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def test_the_handoff_histories_are_before_and_after_the_charge_record() -> None:
    """The patch is proven both ways: a handoff started before billing records only the delivery
    (and replays without the patch marker), a new one seals the charge record first."""
    assert _activities("transaction_handoff") == ["record_transaction_handoff"]
    assert _activities("transaction_handoff_v2") == ["record_charge", "record_transaction_handoff"]
    _, old_result = _activity_payloads("transaction_handoff", "record_transaction_handoff")
    converter = DataConverter.default.payload_converter
    assert converter.from_payload(old_result, HandoffResult).charge_record == ""
