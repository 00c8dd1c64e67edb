"""Rows → API messages (one place, so every RPC shows a resource the same way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from wattlane.api.identity.v1 import auth_pb2, roles_pb2, tenants_pb2, users_pb2
from wattlane.core.timestamps import timestamp_fields, to_timestamp
from wattlane.identity.models import Role, RoleBinding, ServiceAccount, Tenant, User


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
