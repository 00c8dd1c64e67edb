"""Inputs, outputs and names of the approval workflow and its activities (what identity needs to
start and decide one lives in `wattlane.contracts.approval`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The names and data identity shares with the worker are defined once, in contracts; they are
# re-exported here so the workflow's whole vocabulary reads from one module.
from wattlane.contracts.approval import (
    DECIDE,
    STATE_QUERY,
    TASK_QUEUE,
    WORKFLOW,
    ApprovalInput,
    ApprovalOutcome,
    Decision,
    workflow_id,
)

__all__ = [
    "DECIDE",
    "STATE_QUERY",
    "TASK_QUEUE",
    "WORKFLOW",
    "ApplyDecisionInput",
    "ApplyDecisionResult",
    "ApprovalInput",
    "ApprovalOutcome",
    "ApprovalState",
    "CheckActorInput",
    "CheckActorResult",
    "Decision",
    "NotifyInput",
    "NotifyResult",
    "RefusedDecision",
    "ScheduleRenewalInput",
    "ScheduleRenewalResult",
    "workflow_id",
]


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
    # The workflow's clock when the decision is applied. The account's dates are its date in the
    # customer's time zone, which identity knows (a UTC date is a day off near midnight). None
    # (an input scheduled before this field existed, with a UTC `effective_date` that is now
    # ignored): identity's clock.
    effective_time: datetime | None = None


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


@dataclass
class ScheduleRenewalResult:
    """The renewal workflow that was started or told the new expiry date. (Histories from before
    this result existed hold a null result, which decodes as None.)"""

    workflow_id: str = ""
    run_id: str = ""
