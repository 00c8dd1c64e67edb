"""Inputs, outputs and names of the renewal workflow."""

from __future__ import annotations

from dataclasses import dataclass, field

TASK_QUEUE = "accounts"
WORKFLOW = "AccountRenewal"
RENEWED = "renewed"
NEXT_REMINDER_QUERY = "next_reminder"


def workflow_id(account_id: str) -> str:
    return f"renewal-{account_id}"


@dataclass
class RenewalInput:
    account: str  # accounts/{id}
    expiry_date: str  # YYYY-MM-DD in the customer's time zone
    time_zone: str
    offsets_days: list[int] = field(default_factory=lambda: [30, 7, 0])
    send_hour: int = 8  # local time of day reminders go out
    sent_offsets: list[int] = field(default_factory=list)  # carried over continue-as-new


@dataclass
class RenewalResult:
    """A run that ended: the account lapsed on `expiry_date` after these reminders (days before
    expiry). A renewal ends a run with continue-as-new instead, never with a result."""

    account: str
    expiry_date: str
    sent_offsets: list[int] = field(default_factory=list)


@dataclass
class Renewed:
    """The approval path's signal: the account's expiry date moved (renewal, extension)."""

    expiry_date: str


@dataclass
class NextReminder:
    date: str  # YYYY-MM-DD, '' when none is left
    offset_days: int
    expiry_date: str


@dataclass
class ReminderInput:
    account: str
    expiry_date: str
    offset_days: int


@dataclass
class ExpireInput:
    account: str
    expiry_date: str


@dataclass
class ActivityDone:
    done: bool = True
    detail: str = ""
