"""Delivering a notification at most once per key: identity keeps the delivery record."""

from __future__ import annotations

from typing import Any

from wattlane.api.identity.v1 import internal_pb2
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.brands import Brand
from wattlane.workflows.mail.render import render
from wattlane.workflows.mail.smtp import SmtpSender


class Mailer:
    def __init__(self, sender: SmtpSender, identity: IdentityInternal) -> None:
        self._sender = sender
        self._identity = identity

    async def sent(self, key: str) -> bool:
        """Whether the mail with `key` went out already."""
        record = await self._identity.stub.GetNotification(internal_pb2.GetNotificationRequest(key=key))
        return bool(record.sent)

    async def deliver(
        self,
        *,
        key: str,
        template: str,
        recipient: internal_pb2.MailContext.Recipient,
        brand: Brand,
        values: dict[str, Any],
    ) -> bool:
        """Send unless a mail with `key` went out before; returns whether it sent now.
        (A crash between sending and recording can repeat one mail: at-least-once, by design.)"""
        if await self.sent(key):
            return False
        message = render(
            template, recipient.locale or "en", brand, recipient.email, recipient.display_name, values, key
        )
        await self._sender.send(message)
        await self._identity.stub.CompleteNotification(
            internal_pb2.CompleteNotificationRequest(key=key, recipients=[recipient.email])
        )
        return True
