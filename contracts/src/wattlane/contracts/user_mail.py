"""The user-mail workflow as identity sees it: one per queued invitation or reset mail."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.contracts import task_queues

TASK_QUEUE = task_queues.ACCOUNTS
WORKFLOW = "UserMailDelivery"


def workflow_id(user_mail_id: str) -> str:
    """One workflow per queued mail: a relay retry finds the running one."""
    return f"user-mail-{user_mail_id}"


@dataclass(frozen=True)
class UserMailInput:
    """`userMails/{id}`."""

    name: str


@dataclass(frozen=True)
class UserMailResult:
    """`sent`: mailed now or before; `reason`: why not, when it no longer applied."""

    sent: bool
    reason: str = ""
