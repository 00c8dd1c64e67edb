"""Inputs, outputs and names of the approval workflow: the contract identity and the worker share."""

from __future__ import annotations

from dataclasses import dataclass, field

TASK_QUEUE = "accounts"
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


@dataclass
class RefusedDecision:
    actor: str
    approve: bool
    why: str


@dataclass
class ApprovalState:
    application: str
    state: str = "PENDING"  # PENDING | DECIDING | APPROVED | REJECTED
    decided_by: str = ""
    reminders_sent: int = 0
    refused: list[RefusedDecision] = field(default_factory=list)
    outcome: ApprovalOutcome | None = None


# Activity inputs/outputs.


@dataclass
class ApplyDecisionInput:
    application: str
    decision: Decision
    effective_date: str  # YYYY-MM-DD, from the workflow's clock


@dataclass
class ApplyDecisionResult:
    outcome: ApprovalOutcome
    kind: str
    time_zone: str


@dataclass
class CheckActorInput:
    application: str
    actor: str


@dataclass
class CheckActorResult:
    allowed: bool


@dataclass
class NotifyInput:
    application: str
    template: str  # application_approved | application_rejected | application_reminder
    key: str  # idempotency key of the notification
    include_approvers: bool = False
    only_approvers: bool = False


@dataclass
class NotifyResult:
    sent: int
    skipped: int


@dataclass
class ScheduleRenewalInput:
    account: str
    expiry_date: str
    time_zone: str
