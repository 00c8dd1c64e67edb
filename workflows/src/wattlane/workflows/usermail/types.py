"""The user-mail workflow's contract, shared by identity (which starts it) and the worker."""

from __future__ import annotations

from dataclasses import dataclass

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
