"""Activities of the renewal workflow: reminder mails and marking the account expired."""

from __future__ import annotations

import grpc
from temporalio import activity

from wattlane.api.identity.v1 import accounts_pb2, internal_pb2
from wattlane.workflows import outcomes
from wattlane.workflows.activity_errors import business_error
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.brands import brand_of
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.renewal.types import WORKFLOW, ActivityDone, ExpireInput, ReminderInput


class RenewalActivities:
    def __init__(self, identity: IdentityInternal, mailer: Mailer) -> None:
        self._identity = identity
        self._mailer = mailer

    @activity.defn(name="send_renewal_reminder")
    async def send_reminder(self, input: ReminderInput) -> ActivityDone:
        """Mail the account's admins and its partner; once per (account, expiry, offset)."""
        context = await self._identity.stub.GetMailContext(
            internal_pb2.GetMailContextRequest(resource=input.account)
        )
        account = context.account
        template = "account_expired" if input.offset_days == 0 else "renewal_reminder"
        values = {
            "account_name": account.display_name,
            "customer": context.customer_display_name,
            "expiry_date": input.expiry_date,
            "days": input.offset_days,
            "account_state": accounts_pb2.Account.State.Name(account.state),
        }
        sent = 0
        for recipient in context.recipients:
            if recipient.role not in ("account_admin", "partner"):
                continue
            key = f"{input.account}/renewal/{input.expiry_date}/{input.offset_days}/{recipient.email}"
            sent += await self._mailer.deliver(
                key=key, template=template, recipient=recipient, brand=brand_of(context), values=values
            )
        outcomes.record(WORKFLOW, "expiry_notice_sent" if input.offset_days == 0 else "reminder_sent", sent)
        return ActivityDone(detail=f"{sent} sent")

    @activity.defn(name="expire_account")
    async def expire_account(self, input: ExpireInput) -> ActivityDone:
        """Mark the account expired (identity does nothing if it was renewed meanwhile)."""
        try:
            account = await self._identity.stub.ExpireAccount(
                internal_pb2.ExpireAccountRequest(account=input.account, expiry_date=input.expiry_date)
            )
        except grpc.aio.AioRpcError as error:
            if (final := business_error(error)) is not None:
                raise final from None
            raise
        expired = account.state == accounts_pb2.Account.EXPIRED
        outcomes.record(WORKFLOW, "expired" if expired else "still_active")
        return ActivityDone(detail=accounts_pb2.Account.State.Name(account.state))
