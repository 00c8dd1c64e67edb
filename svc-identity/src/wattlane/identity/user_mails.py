"""Invitation and password-reset mails: queued in the transaction that asks for them, handed to
a Temporal workflow by an outbox relay, and prepared (token issued) only when sent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.contracts import user_mail as usermail
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.ids import new_id
from wattlane.core.outbox import OutboxTable, WorkflowRelay, WorkflowStart
from wattlane.core.temporal import LazyClient
from wattlane.identity.models import User, UserMail

KINDS = ("INVITATION", "PASSWORD_RESET")


def mail_name(mail_id: str) -> str:
    return f"userMails/{mail_id}"


async def queue(
    session: AsyncSession, user: User, kind: str, *, cooldown_seconds: float = 0
) -> UserMail | None:
    """Queue a mail of `kind` for `user`; None when one was queued less than `cooldown_seconds`
    ago (so "forgot password" cannot be used to flood someone's inbox)."""
    now = utcnow()
    if cooldown_seconds > 0:
        recent = (
            await session.execute(
                select(UserMail.id)
                .where(
                    UserMail.user_id == user.id,
                    UserMail.kind == kind,
                    UserMail.create_time > now - dt.timedelta(seconds=cooldown_seconds),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        if recent is not None:
            return None
    row = UserMail(id=new_id(), user_id=user.id, kind=kind, create_time=now, workflow_started=False)
    session.add(row)
    return row


def relay(db: Database, temporal: LazyClient, task_queue: str, interval: float = 2.0) -> WorkflowRelay:
    """Core's outbox relay over the user-mail table: one delivery workflow per queued mail
    (workflow id from the mail id)."""
    return WorkflowRelay(
        db,
        temporal,
        OutboxTable.flagged(
            "user-mails", key=UserMail.id, created=UserMail.create_time, started=UserMail.workflow_started
        ),
        lambda mail_id: WorkflowStart(
            usermail.WORKFLOW,
            usermail.UserMailInput(name=mail_name(mail_id)),
            id=usermail.workflow_id(mail_id),
            task_queue=task_queue,
        ),
        interval=interval,
    )
