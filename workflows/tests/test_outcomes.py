"""Workflow outcomes are counted by the activities that achieve them (identity and the CSMS are
stubbed in memory, mails go to a real SMTP sink), once per execution, never on replay."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from prometheus_client import REGISTRY
from temporalio.client import WorkflowHistory
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from wattlane.api.billing.v1 import internal_pb2 as billing_internal_pb2
from wattlane.api.csms.v1 import internal_pb2 as csms_pb2
from wattlane.api.identity.v1 import accounts_pb2, internal_pb2
from wattlane.contracts import approval, handoff, settlement, user_mail
from wattlane.contracts.handoff import HandoffInput
from wattlane.contracts.user_mail import UserMailInput
from wattlane.core.clients.billing import BillingClient
from wattlane.workflows import outcomes
from wattlane.workflows.approval.activities import ApprovalActivities
from wattlane.workflows.approval.types import ApplyDecisionInput, CheckActorInput, Decision, NotifyInput
from wattlane.workflows.csms import CsmsInternal
from wattlane.workflows.handoff.activities import HandoffActivities
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.mail.sink import MailSink
from wattlane.workflows.mail.smtp import SmtpSender
from wattlane.workflows.renewal import types as renewal
from wattlane.workflows.renewal.activities import RenewalActivities
from wattlane.workflows.settlement import types as settling
from wattlane.workflows.settlement.activities import SettlementActivities
from wattlane.workflows.usermail.activities import UserMailActivities
from wattlane.workflows.worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
Recipient = internal_pb2.MailContext.Recipient


def outcome(workflow: str, name: str) -> float:
    value = REGISTRY.get_sample_value(
        "wattlane_workflow_outcomes_total", {"workflow": workflow, "outcome": name}
    )
    return value or 0.0


@contextmanager
def counted() -> Iterator[dict[tuple[str, str], float]]:
    """How much each (workflow, outcome) grew inside the block (filled in when it ends)."""
    keys = [(w, o) for w, names in outcomes.OUTCOMES.items() for o in names]
    before = {key: outcome(*key) for key in keys}
    grown: dict[tuple[str, str], float] = {}
    yield grown
    grown.update({key: outcome(*key) - before[key] for key in keys if outcome(*key) != before[key]})


class FakeIdentity:
    """Identity's internal API as the activities see it (`.stub`), answering from memory."""

    def __init__(self) -> None:
        self.stub = self
        self.state = accounts_pb2.Application.APPROVED  # how DecideApplication decides
        self.allowed = True  # CheckPermission's answer
        self.account_state = accounts_pb2.Account.EXPIRED  # ExpireAccount's answer
        self.user_mail_refusal: grpc.StatusCode | None = None
        self.sent: set[str] = set()  # notification keys

    async def DecideApplication(
        self, request: internal_pb2.DecideApplicationRequest
    ) -> internal_pb2.DecideApplicationResponse:
        return internal_pb2.DecideApplicationResponse(
            application=accounts_pb2.Application(
                name=request.application, state=self.state, kind=accounts_pb2.Application.CREATE_ACCOUNT
            ),
            account=accounts_pb2.Account(name="accounts/a1", state=accounts_pb2.Account.ACTIVE),
            time_zone="Europe/Amsterdam",
        )

    async def CheckPermission(
        self, request: internal_pb2.CheckPermissionRequest
    ) -> internal_pb2.CheckPermissionResponse:
        return internal_pb2.CheckPermissionResponse(allowed=self.allowed)

    async def GetMailContext(self, request: internal_pb2.GetMailContextRequest) -> internal_pb2.MailContext:
        return internal_pb2.MailContext(
            recipients=[
                Recipient(email="requester@example.test", role="requester", locale="en"),
                Recipient(email="cs@example.test", role="approver", locale="en"),
                Recipient(email="admin@example.test", role="account_admin", locale="nl"),
                Recipient(email="partner@example.test", role="partner", locale="en"),
            ],
            brand_name="Voltera",
            mail_domain="mail.voltera.example",
            account=accounts_pb2.Account(name="accounts/a1", display_name="Fleet charging"),
            application=accounts_pb2.Application(name="applications/p1"),
            customer_display_name="Acme",
        )

    async def GetNotification(
        self, request: internal_pb2.GetNotificationRequest
    ) -> internal_pb2.Notification:
        return internal_pb2.Notification(key=request.key, sent=request.key in self.sent)

    async def CompleteNotification(
        self, request: internal_pb2.CompleteNotificationRequest
    ) -> internal_pb2.Notification:
        self.sent.add(request.key)
        return internal_pb2.Notification(key=request.key, sent=True)

    async def ExpireAccount(self, request: internal_pb2.ExpireAccountRequest) -> accounts_pb2.Account:
        return accounts_pb2.Account(name=request.account, state=self.account_state)

    async def PrepareUserMail(self, request: internal_pb2.PrepareUserMailRequest) -> internal_pb2.UserMail:
        if self.user_mail_refusal is not None:
            raise grpc.aio.AioRpcError(
                self.user_mail_refusal,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details="accepted already",
                debug_error_string="",
            )
        return internal_pb2.UserMail(
            name=request.name,
            kind="INVITATION",
            recipient=Recipient(email="invitee@example.test", locale="en"),
            token="t0ken",
            brand_name="Voltera",
            mail_domain="mail.voltera.example",
            tenant_display_name="Acme",
        )


class FakeCsms:
    """The CSMS's internal API: counts deliveries per transaction, as RecordHandoff does."""

    def __init__(self) -> None:
        self.stub = self
        self.deliveries: dict[str, int] = {}

    async def RecordHandoff(self, request: csms_pb2.RecordHandoffRequest) -> csms_pb2.Handoff:
        self.deliveries[request.transaction] = self.deliveries.get(request.transaction, 0) + 1
        return csms_pb2.Handoff(
            transaction=request.transaction, deliveries=self.deliveries[request.transaction]
        )


@pytest.fixture
def identity() -> FakeIdentity:
    return FakeIdentity()


@pytest.fixture
def mailer(identity: FakeIdentity, mail_sink: MailSink) -> Mailer:
    return Mailer(SmtpSender("127.0.0.1", mail_sink.port), cast(IdentityInternal, identity))


def run(fn: Any, *args: Any) -> Any:
    return ActivityEnvironment().run(fn, *args)


async def test_approvals_count_decisions_refused_signals_and_reminder_mails(
    identity: FakeIdentity, mailer: Mailer
) -> None:
    activities = ApprovalActivities(cast(IdentityInternal, identity), mailer, cast(Any, None))
    w = approval.WORKFLOW
    with counted() as grown:
        await run(
            activities.apply_decision, ApplyDecisionInput("applications/p1", Decision("users/cs", True))
        )
    assert grown == {(w, "approved"): 1}
    identity.state = accounts_pb2.Application.REJECTED
    with counted() as grown:
        await run(
            activities.apply_decision, ApplyDecisionInput("applications/p2", Decision("users/cs", False))
        )
    assert grown == {(w, "rejected"): 1}
    with counted() as grown:
        assert (await run(activities.check_actor, CheckActorInput("applications/p3", "users/cs"))).allowed
    assert grown == {}
    identity.allowed = False
    with counted() as grown:
        await run(activities.check_actor, CheckActorInput("applications/p3", "users/someone"))
        await run(activities.check_actor, CheckActorInput("applications/p3", "operator"))
    assert grown == {(w, "decision_refused"): 2}
    # One reminder mail per approver; the same reminder again sends (and counts) nothing.
    reminder = NotifyInput(
        "applications/p3", "application_reminder", key="p3/reminder/1", only_approvers=True
    )
    with counted() as grown:
        await run(activities.notify, reminder)
        await run(activities.notify, reminder)
    assert grown == {(w, "reminder_sent"): 1}
    with counted() as grown:  # the decision mail is not a reminder
        await run(
            activities.notify, NotifyInput("applications/p3", "application_approved", key="p3/decision")
        )
    assert grown == {}


async def test_renewals_count_reminder_mails_expiry_notices_and_expiries(
    identity: FakeIdentity, mailer: Mailer
) -> None:
    activities = RenewalActivities(cast(IdentityInternal, identity), mailer)
    w = renewal.WORKFLOW
    with counted() as grown:  # to the account's admin and its partner
        await run(activities.send_reminder, renewal.ReminderInput("accounts/a1", "2027-03-01", 30))
    assert grown == {(w, "reminder_sent"): 2}
    with counted() as grown:
        await run(activities.send_reminder, renewal.ReminderInput("accounts/a1", "2027-03-01", 0))
        await run(activities.expire_account, renewal.ExpireInput("accounts/a1", "2027-03-01"))
    assert grown == {(w, "expiry_notice_sent"): 2, (w, "expired"): 1}
    identity.account_state = accounts_pb2.Account.ACTIVE  # renewed meanwhile: identity keeps it
    with counted() as grown:
        await run(activities.expire_account, renewal.ExpireInput("accounts/a1", "2027-03-01"))
    assert grown == {(w, "still_active"): 1}


async def test_user_mails_count_sent_already_sent_and_skipped(identity: FakeIdentity, mailer: Mailer) -> None:
    activities = UserMailActivities(cast(IdentityInternal, identity), mailer, "http://localhost:8080")
    w = user_mail.WORKFLOW
    with counted() as grown:
        assert (await run(activities.send, UserMailInput("userMails/m1"))).sent
        assert (await run(activities.send, UserMailInput("userMails/m1"))).sent  # a retried workflow
    assert grown == {(w, "sent"): 1, (w, "already_sent"): 1}
    identity.user_mail_refusal = grpc.StatusCode.FAILED_PRECONDITION
    with counted() as grown:
        assert not (await run(activities.send, UserMailInput("userMails/m2"))).sent
    assert grown == {(w, "skipped"): 1}


async def test_handoffs_count_first_deliveries_and_redeliveries() -> None:
    activities = HandoffActivities(cast(CsmsInternal, FakeCsms()))
    w = handoff.WORKFLOW
    with counted() as grown:
        assert (await run(activities.record, HandoffInput("transactions/1"))).deliveries == 1
        assert (await run(activities.record, HandoffInput("transactions/1"))).deliveries == 2
        assert (await run(activities.record, HandoffInput("transactions/2"))).deliveries == 1
    assert grown == {(w, "recorded"): 2, (w, "redelivered"): 1}


def test_outcomes_come_from_a_closed_vocabulary_of_every_workflow_the_worker_runs() -> None:
    assert set(outcomes.OUTCOMES) == {
        approval.WORKFLOW,
        renewal.WORKFLOW,
        user_mail.WORKFLOW,
        handoff.WORKFLOW,
        settlement.WORKFLOW,
    }
    with pytest.raises(ValueError, match="not an outcome"):
        outcomes.record(approval.WORKFLOW, "approved-by-alice")
    assert outcomes.WORKFLOWS("SomeoneElsesWorkflow") == "other"


def _samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    families = {"wattlane_workflow_outcomes", "wattlane_activity_seconds"}
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in REGISTRY.collect()
        if family.name in families
        for s in family.samples
        if not s.name.endswith("_created")
    }


async def test_replaying_histories_counts_nothing() -> None:
    """Workflow code runs again on every replay: nothing there counts (activities do not run)."""
    before = _samples()
    replayer = Replayer(
        workflows=WORKFLOWS,
        interceptors=[outcomes.ActivityMetrics()],
    )
    for path in HISTORIES:
        await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))
    assert len(HISTORIES) >= 8
    assert _samples() == before


class FakeSettlingBilling:
    """SettleRecipients as billing answers it: the first call makes the invoices, a repeat finds
    them; a payer named `users/gone` is skipped."""

    def __init__(self) -> None:
        self.made: set[str] = set()

    async def settle_recipients(
        self, issuer: str, month: str, time_zone: str, recipients: Any, vat_country: str
    ) -> billing_internal_pb2.SettleRecipientsResponse:
        out = []
        for payer, currency in recipients:
            recipient = billing_internal_pb2.SettlementRecipient(payer=payer, currency=currency)
            if payer == "users/gone":
                out.append(billing_internal_pb2.SettledRecipient(recipient=recipient, skipped_reason="gone"))
                continue
            created = payer not in self.made
            self.made.add(payer)
            out.append(
                billing_internal_pb2.SettledRecipient(
                    recipient=recipient, invoice=f"invoices/{payer[6:]}", charge_records=2, created=created
                )
            )
        return billing_internal_pb2.SettleRecipientsResponse(settled=out)


async def test_settlements_count_invoices_made_found_and_skipped() -> None:
    activities = SettlementActivities(cast(BillingClient, FakeSettlingBilling()))
    w = settlement.WORKFLOW
    period = settling.Period("tenants/op", "2026-11", "Europe/Brussels")
    payers = [settling.Recipient("users/a", "EUR"), settling.Recipient("users/gone", "EUR")]
    request = settling.SettleRequest(period, payers, "BE")
    with counted() as grown:
        first = await run(activities.settle, request)
        again = await run(activities.settle, request)  # a retried activity
    assert (first.created, first.existing, first.skipped, first.charge_records) == (1, 0, 1, 2)
    assert (again.created, again.existing, again.skipped) == (0, 1, 1)
    assert grown == {(w, "invoiced"): 1, (w, "already_invoiced"): 1, (w, "skipped"): 2}
