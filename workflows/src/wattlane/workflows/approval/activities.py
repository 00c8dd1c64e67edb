"""Activities of the approval workflow: every call to identity, Temporal and SMTP."""

from __future__ import annotations

import grpc
from temporalio import activity
from temporalio.client import Client

from wattlane.api.identity.v1 import accounts_pb2, internal_pb2
from wattlane.core.timestamps import to_timestamp
from wattlane.workflows import outcomes
from wattlane.workflows.activity_errors import business_error
from wattlane.workflows.approval.types import (
    WORKFLOW,
    ApplyDecisionInput,
    ApplyDecisionResult,
    ApprovalOutcome,
    CheckActorInput,
    CheckActorResult,
    NotifyInput,
    NotifyResult,
    ScheduleRenewalInput,
    ScheduleRenewalResult,
)
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.brands import brand_of
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.renewal import types as renewal


class ApprovalActivities:
    def __init__(self, identity: IdentityInternal, mailer: Mailer, temporal: Client) -> None:
        self._identity = identity
        self._mailer = mailer
        self._temporal = temporal

    @activity.defn(name="apply_decision")
    async def apply_decision(self, input: ApplyDecisionInput) -> ApplyDecisionResult:
        """Apply the decision in identity (idempotent there), on the customer's calendar date at
        the workflow's `effective_time` (identity holds the customer's time zone)."""
        try:
            reply = await self._identity.stub.DecideApplication(
                internal_pb2.DecideApplicationRequest(
                    application=input.application,
                    approve=input.decision.approve,
                    actor=input.decision.actor,
                    reason=input.decision.reason,
                    effective_time=to_timestamp(input.effective_time),
                )
            )
        except grpc.aio.AioRpcError as error:
            if (final := business_error(error)) is not None:
                raise final from None
            raise
        app, account = reply.application, reply.account
        approved = app.state == accounts_pb2.Application.APPROVED
        outcomes.record(WORKFLOW, "approved" if approved else "rejected")
        return ApplyDecisionResult(
            outcome=ApprovalOutcome(
                application=app.name,
                state=accounts_pb2.Application.State.Name(app.state),
                decided_by=app.decided_by,
                reason=app.reason,
                account=account.name,
                account_state=accounts_pb2.Account.State.Name(account.state),
                expiry_date=account.expiry_date,
            ),
            kind=accounts_pb2.Application.Kind.Name(app.kind),
            time_zone=reply.time_zone,
        )

    @activity.defn(name="check_actor")
    async def check_actor(self, input: CheckActorInput) -> CheckActorResult:
        """Does the signal's actor hold `accounts.approve` over this application? (A refused
        decision is recorded by the workflow, not applied.)"""
        allowed = await self._actor_may_approve(input)
        if not allowed:
            outcomes.record(WORKFLOW, "decision_refused")
        return CheckActorResult(allowed)

    async def _actor_may_approve(self, input: CheckActorInput) -> bool:
        if not input.actor.startswith("users/"):
            return False
        try:
            reply = await self._identity.stub.CheckPermission(
                internal_pb2.CheckPermissionRequest(
                    user=input.actor, permission="accounts.approve", resource=input.application
                )
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
                return False
            raise
        return bool(reply.allowed)

    @activity.defn(name="notify_application")
    async def notify(self, input: NotifyInput) -> NotifyResult:
        """Mail the requester (decisions) or Customer Success (reminders), once per key."""
        context = await self._identity.stub.GetMailContext(
            internal_pb2.GetMailContextRequest(
                resource=input.application, include_approvers=input.include_approvers or input.only_approvers
            )
        )
        wanted = (
            {"approver"}
            if input.only_approvers
            else {"requester"} | ({"approver"} if input.include_approvers else set())
        )
        app, account = context.application, context.account
        values = {
            "application": app.name,
            "kind": accounts_pb2.Application.Kind.Name(app.kind),
            "account_name": account.display_name,
            "customer": context.customer_display_name,
            "account_state": accounts_pb2.Account.State.Name(account.state),
            "expiry_date": account.expiry_date or "-",
            "reason": app.reason or "-",
            "created": app.create_time.ToDatetime().date().isoformat(),
        }
        sent = skipped = 0
        for recipient in context.recipients:
            if recipient.role not in wanted:
                continue
            if await self._mailer.deliver(
                key=f"{input.key}/{recipient.email}",
                template=input.template,
                recipient=recipient,
                brand=brand_of(context),
                values=values,
            ):
                sent += 1
            else:
                skipped += 1
        if input.template == "application_reminder":
            outcomes.record(WORKFLOW, "reminder_sent", sent)
        return NotifyResult(sent, skipped)

    @activity.defn(name="schedule_renewal")
    async def schedule_renewal(self, input: ScheduleRenewalInput) -> ScheduleRenewalResult:
        """Start the account's renewal workflow, or tell the running one the new expiry date."""
        account_id = input.account.removeprefix("accounts/")
        handle = await self._temporal.start_workflow(
            renewal.WORKFLOW,
            renewal.RenewalInput(
                account=input.account, expiry_date=input.expiry_date, time_zone=input.time_zone
            ),
            id=renewal.workflow_id(account_id),
            task_queue=activity.info().task_queue,  # the queue this worker serves
            start_signal=renewal.RENEWED,
            start_signal_args=[renewal.Renewed(input.expiry_date)],
        )
        return ScheduleRenewalResult(workflow_id=handle.id, run_id=handle.result_run_id or "")
