"""Invitation and password-reset mails: queued in the transaction that asks for them, handed to
a Temporal workflow by an outbox relay, and prepared (token issued) only when sent."""

from __future__ import annotations

import contextlib
import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from wattlane.contracts import user_mail as usermail
from wattlane.core.db import Database
from wattlane.core.ids import new_id
from wattlane.core.orm import utcnow
from wattlane.core.outbox import Relay
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


class UserMailRelay:
    """Starts one delivery workflow per queued mail (workflow id from the mail id)."""

    def __init__(self, db: Database, temporal: LazyClient, task_queue: str, interval: float = 2.0) -> None:
        self._db = db
        self._temporal = temporal
        self._task_queue = task_queue
        self.relay = Relay("user-mails", self.relay_once, interval=interval)

    async def relay_once(self) -> int:
        """Start every waiting mail's workflow; returns how many were handed on."""
        if not self._temporal.configured:
            return 0
        async with self._db.reader() as session:
            waiting = list(
                (
                    await session.execute(
                        select(UserMail.id).where(UserMail.workflow_started.is_(False)).limit(500)
                    )
                ).scalars()
            )
        if not waiting:
            return 0
        client = await self._temporal.get()
        for mail_id in waiting:
            # Already started: a previous pass started it and crashed before marking the row.
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await client.start_workflow(
                    usermail.WORKFLOW,
                    usermail.UserMailInput(name=mail_name(mail_id)),
                    id=usermail.workflow_id(mail_id),
                    task_queue=self._task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            async with self._db.transaction() as session:
                row = await session.get(UserMail, mail_id)
                if row is not None:
                    row.workflow_started = True
        return len(waiting)
