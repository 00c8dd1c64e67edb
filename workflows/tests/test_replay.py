"""Recorded workflow histories replay against the current workflow code: a change that would
break running workflows (non-determinism) fails here. Re-record with
WATTLANE_RECORD_HISTORIES=1 only for intended changes (and use workflow.patched())."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from wattlane.workflows.approval.workflows import ApplicationApproval
from wattlane.workflows.handoff.workflows import TransactionHandoff
from wattlane.workflows.renewal.workflows import AccountRenewal
from wattlane.workflows.usermail.workflows import UserMailDelivery

HISTORIES = {p.stem: p.read_text() for p in sorted((Path(__file__).parent / "histories").glob("*.json"))}


def test_fixtures_exist() -> None:
    assert {
        "approval_reminded_then_signalled",
        "renewal_renewed_before_expiry",
        "renewal_full_year",
        "user_mail_invitation",
        "transaction_handoff",
    } <= set(HISTORIES)


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(workflows=[ApplicationApproval, AccountRenewal, UserMailDelivery, TransactionHandoff])
    await replayer.replay_workflow(history)
