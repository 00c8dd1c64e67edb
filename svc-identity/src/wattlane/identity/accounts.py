"""Accounts: validation of the requested fields, the state as read (expiry follows from the
date in the customer's time zone), datapoint usage, and which account covers an organization."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core import validation
from wattlane.core.clock import utcnow
from wattlane.core.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from wattlane.core.paging import Page
from wattlane.core.scope import PATH_END, EffectiveScope
from wattlane.identity import tenants
from wattlane.identity.models import Account, AccountOrganization, Application, DatapointAllocation, Tenant
from wattlane.identity.plans import (
    DEFAULT_PERIOD_MONTHS,
    MAX_DATAPOINTS,
    MAX_PERIOD_MONTHS,
    MIN_DATAPOINTS,
    PLANS,
    RTC_COUNTRY,
    SECTORS,
)


def account_name(account_id: str) -> str:
    return f"accounts/{account_id}"


@dataclass(frozen=True)
class AccountFields:
    """The requested fields of a new account, validated."""

    display_name: str
    plan: str
    datapoints: int
    period_months: int
    sector: str
    rtc_lines: int
    mail_domain: str
    comment: str
    organizations: tuple[str, ...]

    def as_payload(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "plan": self.plan,
            "datapoints": self.datapoints,
            "period_months": self.period_months,
            "sector": self.sector,
            "rtc_lines": self.rtc_lines,
            "mail_domain": self.mail_domain,
            "comment": self.comment,
            "organizations": list(self.organizations),
        }


def check_plan(plan: str, field: str) -> str:
    if plan not in PLANS:
        raise InvalidArgument.field(field, f"unknown plan {plan!r}; plans: {', '.join(PLANS)}")
    return plan


def check_datapoints(datapoints: int, field: str, *, in_use: int = 0) -> int:
    if datapoints < MIN_DATAPOINTS:
        raise InvalidArgument.field(field, f"must be at least {MIN_DATAPOINTS}, got {datapoints}")
    if datapoints > MAX_DATAPOINTS:
        raise InvalidArgument.field(field, f"must be at most {MAX_DATAPOINTS}")
    if datapoints < in_use:
        raise InvalidArgument.field(field, f"cannot be lower than the {in_use} datapoints in use")
    return datapoints


def check_months(months: int, field: str) -> int:
    if not 1 <= months <= MAX_PERIOD_MONTHS:
        raise InvalidArgument.field(field, f"must be between 1 and {MAX_PERIOD_MONTHS} months")
    return months


def validate_new_account(
    raw: dict[str, Any], customer: Tenant, field: str = "application.new_account"
) -> AccountFields:
    """Check every field of a requested account; all violations at once."""
    violations: list[FieldViolation] = []

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidArgument as error:
            violations.extend(error.violations)
            return None

    display_name = attempt(validation.text, raw.get("display_name", ""), f"{field}.display_name")
    plan = attempt(check_plan, raw.get("plan", ""), f"{field}.plan")
    datapoints = attempt(check_datapoints, int(raw.get("datapoints", 0)), f"{field}.datapoints")
    months = int(raw.get("period_months") or DEFAULT_PERIOD_MONTHS)
    attempt(check_months, months, f"{field}.period_months")
    sector = raw.get("sector", "")
    if sector not in SECTORS:
        violations.append(FieldViolation(f"{field}.sector", f"must be one of {', '.join(SECTORS)}"))
    rtc_lines = int(raw.get("rtc_lines", 0))
    if rtc_lines < 0:
        violations.append(FieldViolation(f"{field}.rtc_lines", "must not be negative"))
    elif rtc_lines and customer.country != RTC_COUNTRY:
        violations.append(
            FieldViolation(
                f"{field}.rtc_lines",
                "RTC lines are only available in Spain; this customer is in "
                + (customer.country or "no country"),
            )
        )
    mail_domain = raw.get("mail_domain", "")
    if mail_domain:
        mail_domain = attempt(validation.hostname, mail_domain, f"{field}.mail_domain")
    comment = (
        attempt(validation.text, raw.get("comment", ""), f"{field}.comment", max_length=2000, required=False)
        or ""
    )
    if violations:
        raise InvalidArgument(violations)
    return AccountFields(
        display_name=display_name,
        plan=plan,
        datapoints=datapoints,
        period_months=months,
        sector=sector,
        rtc_lines=rtc_lines,
        mail_domain=mail_domain or "",
        comment=comment,
        organizations=tuple(raw.get("organizations", ())),
    )


def today_in(time_zone: str, now: dt.datetime | None = None) -> dt.date:
    """The calendar date in a tenant's time zone."""
    return (now or utcnow()).astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def effective_state(account: Account, time_zone: str, now: dt.datetime | None = None) -> str:
    """EXPIRED once the customer's calendar reaches the expiry date, whatever is stored."""
    if (
        account.state == "ACTIVE"
        and account.expiry_date is not None
        and today_in(time_zone, now) >= account.expiry_date
    ):
        return "EXPIRED"
    return account.state


async def usage(session: AsyncSession, account_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(DatapointAllocation)
            .where(DatapointAllocation.account_id == account_id)
        )
        or 0
    )


async def organizations_of(session: AsyncSession, account_id: str) -> list[str]:
    rows = await session.execute(
        select(AccountOrganization.organization_id).where(AccountOrganization.account_id == account_id)
    )
    return sorted(r[0] for r in rows)


async def get_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    account_id: str,
    permission: str,
    *,
    for_update: bool = False,
) -> Account:
    query = select(Account).where(Account.id == account_id)
    if for_update:
        query = query.with_for_update()
    account = (await session.execute(query)).scalar_one_or_none()
    if account is None:
        raise NotFound(account_name(account_id))
    scope.require(permission, account.customer_path, account_name(account_id))
    return account


async def covering(session: AsyncSession, organization: Tenant) -> Account | None:
    """The account covering an organization: its own coverage or the nearest covered ancestor
    organization's (a sub-organization draws on its parent's account)."""
    ancestors = [i for i in organization.path.strip("/").split("/") if i]
    rows = (
        await session.execute(
            select(AccountOrganization.organization_path, Account)
            .join(Account, Account.id == AccountOrganization.account_id)
            .where(AccountOrganization.organization_id.in_(ancestors))
        )
    ).all()
    if not rows:
        return None
    # The deepest covered ancestor wins.
    return max(rows, key=lambda r: len(r[0]))[1]


# The tables whose rows belong to a customer (and carry its path).
_OfCustomer = TypeVar("_OfCustomer", Account, Application)


async def customer_rows_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    model: type[_OfCustomer],
    *,
    parent_id: str | None,
    where: ColumnElement[bool],
    page: Page,
) -> list[_OfCustomer]:
    """Rows of `model` (accounts, applications) of customers at or below `parent_id`, or all in
    scope, that the caller may read (`accounts.read`), oldest first."""
    if parent_id is None and not scope.grants_for("accounts.read"):
        raise PermissionDenied("accounts.read")
    path = model.customer_path
    query = select(model).where(scope.filter("accounts.read", path), where)
    if parent_id is not None:
        parent = await tenants.get_in_scope(session, scope, parent_id, "accounts.read")
        query = query.where(path >= parent.path, path < parent.path + PATH_END)
    return list((await session.execute(page.window(query, [model.id]))).scalars())
