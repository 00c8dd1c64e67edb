"""Rows → API messages (one place, so every RPC shows a resource the same way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from wattlane.api.identity.v1 import accounts_pb2, auth_pb2, roles_pb2, tenants_pb2, users_pb2
from wattlane.core.timestamps import timestamp_fields, to_timestamp
from wattlane.identity.models import (
    Account,
    Application,
    LicenseAllocation,
    LicensePurchase,
    Role,
    RoleBinding,
    ServiceAccount,
    Tenant,
    User,
)


def tenant(row: Tenant) -> tenants_pb2.Tenant:
    brand = None
    if row.kind == "PARTNER":
        brand = tenants_pb2.Brand(
            name=row.brand_name or "",
            logo_url=row.brand_logo_url or "",
            primary_color=row.brand_primary_color or "",
            secondary_color=row.brand_secondary_color or "",
            mail_domain=row.brand_mail_domain or "",
        )
    return tenants_pb2.Tenant(
        name=f"tenants/{row.id}",
        parent=f"tenants/{row.parent_id}" if row.parent_id else "",
        kind=tenants_pb2.Tenant.Kind.Value(row.kind),
        display_name=row.display_name,
        customer_type=(
            tenants_pb2.Tenant.CustomerType.Value(row.customer_type)
            if row.customer_type
            else tenants_pb2.Tenant.CUSTOMER_TYPE_UNSPECIFIED
        ),
        brand=brand,
        path=row.path,
        time_zone=row.time_zone,
        locale=row.locale,
        country=row.country,
        owner_user=f"users/{row.owner_user_id}" if row.owner_user_id else "",
        create_time=to_timestamp(row.create_time),
        update_time=to_timestamp(row.update_time),
        etag=str(row.version),
    )


_USER_STATES = dict(users_pb2.User.State.items())


def user_fields(row: User | Row[Any]) -> dict[str, Any]:
    """A user's message fields from a User or a row of the users table (list queries read
    rows): a list response built from these dicts costs less than one from User messages."""
    return {
        "name": f"users/{row.id}",
        "tenant": f"tenants/{row.tenant_id}",
        "email": row.email,
        "display_name": row.display_name,
        "locale": row.locale,
        "state": _USER_STATES[row.state],
        "create_time": timestamp_fields(row.create_time),
        "update_time": timestamp_fields(row.update_time),
        "etag": str(row.version),
    }


def user(row: User | Row[Any]) -> users_pb2.User:
    return users_pb2.User(**user_fields(row))


def role(row: Role) -> roles_pb2.Role:
    return roles_pb2.Role(
        name=f"roles/{row.id}",
        tenant=f"tenants/{row.tenant_id}" if row.tenant_id else "",
        display_name=row.display_name,
        description=row.description,
        permissions=list(row.permissions),
        builtin=row.builtin,
        create_time=to_timestamp(row.create_time),
        etag=str(row.version),
    )


def role_binding(row: RoleBinding) -> roles_pb2.RoleBinding:
    return roles_pb2.RoleBinding(
        name=f"roleBindings/{row.id}",
        user=f"users/{row.user_id}",
        role=f"roles/{row.role_id}",
        tenant=f"tenants/{row.tenant_id}",
        propagate=row.propagate,
        allowed_resources=list(row.allowed_resources),
        create_time=to_timestamp(row.create_time),
    )


def service_account(row: ServiceAccount) -> auth_pb2.ServiceAccount:
    return auth_pb2.ServiceAccount(
        name=f"serviceAccounts/{row.id}",
        service=row.service,
        scopes=list(row.scopes),
        create_time=to_timestamp(row.create_time),
    )


def account(row: Account, *, state: str, used: int, organizations: list[str]) -> accounts_pb2.Account:
    """An account as read: `state` is the effective state (expiry derived from the date)."""
    return accounts_pb2.Account(
        name=f"accounts/{row.id}",
        customer=f"tenants/{row.customer_id}",
        display_name=row.display_name,
        plan=row.plan,
        datapoints=row.datapoints,
        period_months=row.period_months,
        sector=row.sector,
        rtc_lines=row.rtc_lines,
        mail_domain=row.mail_domain or "",
        comment=row.comment,
        state=accounts_pb2.Account.State.Value(state),
        start_date=row.start_date.isoformat() if row.start_date else "",
        expiry_date=row.expiry_date.isoformat() if row.expiry_date else "",
        organizations=[f"tenants/{o}" for o in organizations],
        datapoints_used=used,
        datapoints_left=max(row.datapoints - used, 0),
        create_time=to_timestamp(row.create_time),
        update_time=to_timestamp(row.update_time),
    )


def application(row: Application) -> accounts_pb2.Application:
    payload = row.payload
    message = accounts_pb2.Application(
        name=f"applications/{row.id}",
        kind=accounts_pb2.Application.Kind.Value(row.kind),
        account=f"accounts/{row.account_id}",
        datapoints=int(payload.get("datapoints", 0)) if row.kind == "CHANGE_DATAPOINTS" else 0,
        plan=str(payload.get("plan", "")) if row.kind == "CHANGE_PLAN" else "",
        months=int(payload.get("months", 0)),
        customer=f"tenants/{row.customer_id}",
        partner=f"tenants/{row.partner_id}" if row.partner_id else "",
        state=accounts_pb2.Application.State.Value(row.state),
        requested_by=f"users/{row.requested_by}",
        decided_by=f"users/{row.decided_by}" if row.decided_by else "",
        reason=row.reason,
        comment=row.comment,
        create_time=to_timestamp(row.create_time),
        decide_time=to_timestamp(row.decide_time),
        workflow_id=f"application-{row.id}",
    )
    if row.kind == "CREATE_ACCOUNT":
        message.new_account.CopyFrom(
            accounts_pb2.Account(
                display_name=payload["display_name"],
                plan=payload["plan"],
                datapoints=payload["datapoints"],
                period_months=payload["period_months"],
                sector=payload["sector"],
                rtc_lines=payload["rtc_lines"],
                mail_domain=payload["mail_domain"],
                comment=payload["comment"],
                organizations=list(payload["organizations"]),
            )
        )
    return message


def license_purchase(row: LicensePurchase) -> accounts_pb2.LicensePurchase:
    return accounts_pb2.LicensePurchase(
        name=f"licensePurchases/{row.id}",
        organization=f"tenants/{row.organization_id}",
        type=accounts_pb2.LicenseType.Value(row.type),
        quantity=row.quantity,
        purchase_time=to_timestamp(row.purchase_time),
        purchased_by=f"users/{row.purchased_by}",
    )


def license_allocation(row: LicenseAllocation) -> accounts_pb2.LicenseAllocation:
    return accounts_pb2.LicenseAllocation(
        organization=f"tenants/{row.organization_id}",
        type=accounts_pb2.LicenseType.Value(row.type),
        resource=row.resource,
        create_time=to_timestamp(row.create_time),
    )
