"""The user-mail activity: issue the link's token in identity and send it, once per mail."""

from __future__ import annotations

import grpc
from temporalio import activity

from wattlane.api.identity.v1 import internal_pb2
from wattlane.contracts.user_mail import WORKFLOW, UserMailInput, UserMailResult
from wattlane.workflows import outcomes
from wattlane.workflows.activity_errors import business_error
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.brands import brand_of
from wattlane.workflows.mail.mailer import Mailer

TEMPLATES = {"INVITATION": "invitation", "PASSWORD_RESET": "password_reset"}
LINK_PATHS = {"INVITATION": "accept-invitation", "PASSWORD_RESET": "reset-password"}


class UserMailActivities:
    def __init__(self, identity: IdentityInternal, mailer: Mailer, app_url: str) -> None:
        self._identity = identity
        self._mailer = mailer
        self._app_url = app_url.rstrip("/")

    @activity.defn(name="send_user_mail")
    async def send(self, input: UserMailInput) -> UserMailResult:
        """Send the mail unless it went out before. The token is issued here, just before
        sending, so a stored outbox row never holds a usable secret."""
        if await self._mailer.sent(input.name):
            outcomes.record(WORKFLOW, "already_sent")
            return UserMailResult(sent=True)
        try:
            mail = await self._identity.stub.PrepareUserMail(
                internal_pb2.PrepareUserMailRequest(name=input.name)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
                outcomes.record(WORKFLOW, "skipped")
                return UserMailResult(sent=False, reason=error.details() or "no longer applies")
            if (final := business_error(error)) is not None:
                raise final from None
            raise
        link = f"{self._app_url}/{LINK_PATHS[mail.kind]}?token={mail.token}"
        expires = mail.expire_time.ToDatetime().strftime("%Y-%m-%d %H:%M UTC")
        delivered = await self._mailer.deliver(
            key=input.name,
            template=TEMPLATES[mail.kind],
            recipient=mail.recipient,
            brand=brand_of(mail),
            values={
                "link": link,
                "token": mail.token,
                "expires": expires,
                "tenant": mail.tenant_display_name,
            },
        )
        outcomes.record(WORKFLOW, "sent" if delivered else "already_sent")
        return UserMailResult(sent=True)
