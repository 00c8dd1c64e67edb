"""Applications: requested account changes. Creating one validates the request and reserves
what it needs (a pending account and its organizations' coverage); deciding one applies it —
idempotently, because the approval workflow's activity may run more than once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.clock import utcnow
from wattlane.core.errors import FailedPrecondition, InvalidArgument, NotFound
from wattlane.core.ids import new_id
from wattlane.core.scope import EffectiveScope
from wattlane.identity import accounts, tenants
from wattlane.identity.models import Account, AccountOrganization, Application, Tenant

KINDS = ("CREATE_ACCOUNT", "CHANGE_DATAPOINTS", "CHANGE_PLAN", "EXTEND", "RENEW")
STATES = ("PENDING", "APPROVED", "REJECTED")


def application_name(application_id: str) -> str:
    return f"applications/{application_id}"


@dataclass(frozen=True)
class Request:
    """What the requester asked for (fields by kind; see the proto)."""

    kind: str
    account_id: str | None
    new_account: dict[str, Any]
    datapoints: int
    plan: str
    months: int
    comment: str


async def _customer(session: AsyncSession, scope: EffectiveScope, customer_id: str) -> Tenant:
    customer = await tenants.get_in_scope(session, scope, customer_id, "accounts.apply")
    if customer.kind != "CUSTOMER":
        raise FailedPrecondition("applications are made for a customer", reason="NOT_A_CUSTOMER")
    return customer


async def _organizations(session: AsyncSession, customer: Tenant, names: list[str]) -> list[Tenant]:
    if not names:
        raise InvalidArgument.field(
            "application.new_account.organizations", "must name at least one organization"
        )
    found: list[Tenant] = []
    for i, name in enumerate(names):
        field = f"application.new_account.organizations[{i}]"
        if not name.startswith("tenants/"):
            raise InvalidArgument.field(field, "must look like tenants/{id}")
        org = await tenants.load(session, name.removeprefix("tenants/"))
        if org is None or org.kind != "ORGANIZATION" or not org.path.startswith(customer.path):
            raise InvalidArgument.field(field, "is not an organization of this customer")
        covered = (
            await session.execute(
                select(AccountOrganization.account_id).where(AccountOrganization.organization_id == org.id)
            )
        ).scalar_one_or_none()
        if covered is not None:
            raise FailedPrecondition(
                f"{name} is already covered by accounts/{covered}", reason="ORGANIZATION_ALREADY_COVERED"
            )
        found.append(org)
    return found


async def _pending_exists(session: AsyncSession, account_id: str) -> str | None:
    return (
        await session.execute(
            select(Application.id).where(Application.account_id == account_id, Application.state == "PENDING")
        )
    ).scalar_one_or_none()


async def create(
    session: AsyncSession, scope: EffectiveScope, customer_id: str, request: Request, requester: str
) -> tuple[Application, Account]:
    """Validate and store a pending application (and, for a new account, the pending account)."""
    if request.kind not in KINDS:
        raise InvalidArgument.field("application.kind", f"must be one of {', '.join(KINDS)}")
    customer = await _customer(session, scope, customer_id)
    payload: dict[str, Any] = {}
    if request.kind == "CREATE_ACCOUNT":
        fields = accounts.validate_new_account(request.new_account, customer)
        orgs = await _organizations(session, customer, list(fields.organizations))
        account = Account(
            id=new_id(),
            customer_id=customer.id,
            customer_path=customer.path,
            display_name=fields.display_name,
            plan=fields.plan,
            datapoints=fields.datapoints,
            period_months=fields.period_months,
            sector=fields.sector,
            rtc_lines=fields.rtc_lines,
            mail_domain=fields.mail_domain or None,
            comment=fields.comment,
            state="PENDING",
            version=1,
        )
        session.add(account)
        await session.flush()
        for org in orgs:  # reserve coverage now, so two applications cannot claim one organization
            session.add(
                AccountOrganization(organization_id=org.id, account_id=account.id, organization_path=org.path)
            )
        payload = fields.as_payload()
    else:
        if not request.account_id:
            raise InvalidArgument.field("application.account", "is required for this kind")
        account = await accounts.get_in_scope(session, scope, request.account_id, "accounts.read")
        if account.customer_id != customer.id:
            raise InvalidArgument.field("application.account", "does not belong to this customer")
        if account.state in ("PENDING", "REJECTED"):
            raise FailedPrecondition(
                f"accounts/{account.id} is {account.state.lower()}", reason="ACCOUNT_NOT_IN_FORCE"
            )
        if pending := await _pending_exists(session, account.id):
            raise FailedPrecondition(
                f"accounts/{account.id} already has a pending application ({application_name(pending)})",
                reason="APPLICATION_PENDING",
            )
        if request.kind == "CHANGE_DATAPOINTS":
            in_use = await accounts.usage(session, account.id)
            payload = {
                "datapoints": accounts.check_datapoints(
                    request.datapoints, "application.datapoints", in_use=in_use
                )
            }
        elif request.kind == "CHANGE_PLAN":
            plan = accounts.check_plan(request.plan, "application.plan")
            if plan == account.plan:
                raise InvalidArgument.field("application.plan", f"the account already has plan {plan!r}")
            payload = {"plan": plan}
        elif request.kind == "EXTEND":
            payload = {"months": accounts.check_months(request.months, "application.months")}
        else:  # RENEW
            payload = {
                "months": accounts.check_months(request.months or account.period_months, "application.months")
            }
    partner_id = customer.parent_id or ""
    application = Application(
        id=new_id(),
        kind=request.kind,
        account_id=account.id,
        customer_id=customer.id,
        customer_path=customer.path,
        partner_id=partner_id,
        payload=payload,
        state="PENDING",
        requested_by=scope.subject,
        comment=request.comment,
        create_time=utcnow(),
        decide_time=None,
        workflow_started=False,
    )
    session.add(application)
    await session.flush()
    return application, account


async def get_in_scope(
    session: AsyncSession, scope: EffectiveScope, application_id: str, permission: str
) -> Application:
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound(application_name(application_id))
    scope.require(permission, application.customer_path, application_name(application_id))
    return application


@dataclass(frozen=True)
class Decision:
    approve: bool
    actor: str  # user id
    reason: str
    effective_date: dt.date | None  # in the customer's calendar
    effective_time: dt.datetime | None = None  # when effective_date is None: its date there; None: now


async def decide(
    session: AsyncSession, application_id: str, decision: Decision
) -> tuple[Application, Account, bool]:
    """Apply a decision once; returns the rows and whether this call changed them. Repeating
    the same decision returns the result; another decision on a decided application is
    FAILED_PRECONDITION (nothing changes)."""
    application = (
        await session.execute(select(Application).where(Application.id == application_id).with_for_update())
    ).scalar_one_or_none()
    if application is None:
        raise NotFound(application_name(application_id))
    account = (
        await session.execute(select(Account).where(Account.id == application.account_id).with_for_update())
    ).scalar_one()
    wanted = "APPROVED" if decision.approve else "REJECTED"
    if application.state != "PENDING":
        if application.state == wanted and application.decided_by == decision.actor:
            return application, account, False  # a retried activity: already applied
        raise FailedPrecondition(
            f"{application_name(application_id)} was already {application.state.lower()}",
            reason="ALREADY_DECIDED",
        )
    if not decision.approve and not decision.reason.strip():
        raise InvalidArgument.field("reason", "is required to reject an application")
    customer = await session.get(Tenant, application.customer_id)
    assert customer is not None
    today = decision.effective_date or accounts.today_in(customer.time_zone, decision.effective_time)
    if decision.approve:
        _apply(application, account, today)
        if application.kind == "CHANGE_DATAPOINTS":
            in_use = await accounts.usage(session, account.id)
            if application.payload["datapoints"] < in_use:
                raise FailedPrecondition(
                    f"cannot lower accounts/{account.id} to {application.payload['datapoints']} datapoints: "
                    f"{in_use} are in use now",
                    reason="DATAPOINTS_IN_USE",
                )
    elif application.kind == "CREATE_ACCOUNT":
        account.state = "REJECTED"
        await session.execute(delete(AccountOrganization).where(AccountOrganization.account_id == account.id))
    application.state = wanted
    application.decided_by = decision.actor
    application.reason = decision.reason
    application.decide_time = utcnow()
    account.version += 1
    account.update_time = utcnow()
    await session.flush()
    return application, account, True


def _apply(application: Application, account: Account, today: dt.date) -> None:
    payload = application.payload
    kind = application.kind
    if kind == "CREATE_ACCOUNT":
        account.state = "ACTIVE"
        account.start_date = today
        account.expiry_date = accounts.add_months(today, account.period_months)
    elif kind == "CHANGE_DATAPOINTS":
        account.datapoints = int(payload["datapoints"])
    elif kind == "CHANGE_PLAN":
        account.plan = str(payload["plan"])
    elif kind == "EXTEND":
        assert account.expiry_date is not None
        account.expiry_date = accounts.add_months(account.expiry_date, int(payload["months"]))
        account.state = "ACTIVE" if account.expiry_date > today else account.state
    elif kind == "RENEW":
        assert account.expiry_date is not None
        months = int(payload["months"])
        if account.expiry_date <= today:  # lapsed: a new period starts today
            account.start_date = today
            account.expiry_date = accounts.add_months(today, months)
        else:  # in force: the next period follows the current one
            account.expiry_date = accounts.add_months(account.expiry_date, months)
        account.period_months = months
        account.state = "ACTIVE"


async def pending_workflow_starts(session: AsyncSession, limit: int = 100) -> list[Application]:
    """Applications whose approval workflow has not been confirmed started (the outbox)."""
    rows = await session.execute(
        select(Application)
        .where(Application.workflow_started.is_(False))
        .order_by(Application.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def has_open_application(session: AsyncSession, account_id: str) -> bool:
    return bool(
        await session.scalar(
            select(exists().where(Application.account_id == account_id, Application.state == "PENDING"))
        )
    )
