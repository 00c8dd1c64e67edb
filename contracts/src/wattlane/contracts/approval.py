"""The approval workflow as identity sees it: identity starts one per application and sends
Customer Success's decision to it as an update whose result is the outcome."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.contracts import task_queues

TASK_QUEUE = task_queues.ACCOUNTS
WORKFLOW = "ApplicationApproval"
DECIDE = "decide"  # the update (from identity) and the signal (raw, from operators) share a name
STATE_QUERY = "state"


def workflow_id(application_id: str) -> str:
    """One workflow per application: a retried start finds the running one."""
    return f"application-{application_id}"


@dataclass
class ApprovalInput:
    application: str  # applications/{id}
    reminder_after_seconds: float = 2 * 24 * 3600  # remind Customer Success after this long
    max_reminders: int = 10


@dataclass
class Decision:
    actor: str  # users/{id}
    approve: bool
    reason: str = ""


@dataclass
class ApprovalOutcome:
    application: str
    state: str  # APPROVED | REJECTED
    decided_by: str
    reason: str = ""
    account: str = ""
    account_state: str = ""
    expiry_date: str = ""
