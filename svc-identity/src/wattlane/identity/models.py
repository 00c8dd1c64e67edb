"""Identity's tables (ORM). Only identity stores the tenant tree; other services keep copies of
a node's id and path on their own rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wattlane.core.audit import audit_table
from wattlane.core.idempotency import idempotency_table
from wattlane.core.orm import BaseModel, Id, SoftDelete, Timestamps, TreePath, live_unique_index, new_metadata


class Base(BaseModel):
    __abstract__ = True
    metadata = new_metadata()


IDEMPOTENCY = idempotency_table(Base.metadata)
AUDIT = audit_table(Base.metadata)


class Tenant(Timestamps, SoftDelete, Base):
    """A node of the tenant tree."""

    __tablename__ = "tenants"

    id: Mapped[Id] = mapped_column(primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(16))  # OPERATOR | PARTNER | CUSTOMER | ORGANIZATION
    customer_type: Mapped[str | None] = mapped_column(String(16))  # COMPANY | PRIVATE_USER
    display_name: Mapped[str] = mapped_column(String(200))
    path: Mapped[TreePath]
    depth: Mapped[int] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    owner_user_id: Mapped[str | None] = mapped_column(String(64))
    brand_name: Mapped[str | None] = mapped_column(String(200))
    brand_logo_url: Mapped[str | None] = mapped_column(String(500))
    brand_primary_color: Mapped[str | None] = mapped_column(String(7))
    brand_secondary_color: Mapped[str | None] = mapped_column(String(7))
    brand_mail_domain: Mapped[str | None] = mapped_column(String(253))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_tenants_path", "path"),
        Index("ix_tenants_parent_id_id", "parent_id", "id"),
        live_unique_index("uq_tenants_parent_id_display_name_live", "parent_id", "display_name"),
    )


class User(Timestamps, SoftDelete, Base):
    """A person who can sign in; belongs to one tenant."""

    __tablename__ = "users"

    id: Mapped[Id] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"))
    tenant_path: Mapped[TreePath]
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # INVITED | ACTIVE | DISABLED
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Bumping the epoch revokes every token issued before (removal, disable, password change).
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        live_unique_index("uq_users_email_live", "email"),
        Index("ix_users_tenant_path_id", "tenant_path", "id"),
        Index("ix_users_tenant_id_id", "tenant_id", "id"),
    )


class Role(Timestamps, SoftDelete, Base):
    """A named set of permissions: built-in (tenant_id NULL) or defined at a tenant."""

    __tablename__ = "roles"

    id: Mapped[Id] = mapped_column(primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("tenants.id"))
    tenant_path: Mapped[str | None] = mapped_column(String(512))
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[str]]
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (live_unique_index("uq_roles_tenant_id_display_name_live", "tenant_id", "display_name"),)


class RoleBinding(Base):
    """A user holds a role at a tenant (and below it when `propagate`)."""

    __tablename__ = "role_bindings"

    id: Mapped[Id] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    role_id: Mapped[str] = mapped_column(String(64), ForeignKey("roles.id"))
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"))
    tenant_path: Mapped[TreePath]
    propagate: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_resources: Mapped[list[str]]
    create_time: Mapped[dt.datetime]

    __table_args__ = (
        Index("uq_role_bindings_user_id_role_id_tenant_id", "user_id", "role_id", "tenant_id", unique=True),
        Index("ix_role_bindings_tenant_path_id", "tenant_path", "id"),
        Index("ix_role_bindings_role_id", "role_id"),
    )


class ActionToken(Base):
    """One-time tokens (invitation, password reset); only a hash of the secret is stored."""

    __tablename__ = "action_tokens"

    id: Mapped[Id] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # INVITATION | PASSWORD_RESET
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expire_time: Mapped[dt.datetime]
    use_time: Mapped[dt.datetime | None]
    create_time: Mapped[dt.datetime]


class UserMail(Base):
    """Outbox of mails carrying a one-time link (invitation, password reset). The token is issued
    when the mail is sent, so no usable secret is ever stored; `workflow_started` marks rows the
    relay has handed to Temporal."""

    __tablename__ = "user_mails"
    __table_args__ = (
        Index("ix_user_mails_user_id_kind_create_time", "user_id", "kind", "create_time"),
        Index("ix_user_mails_workflow_started", "workflow_started"),
    )

    id: Mapped[Id] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # INVITATION | PASSWORD_RESET
    create_time: Mapped[dt.datetime]
    workflow_started: Mapped[bool] = mapped_column(Boolean, default=False)


class ServiceAccount(SoftDelete, Base):
    """An internal service's identity; the secret is stored as a SHA-256 hash (it is random)."""

    __tablename__ = "service_accounts"

    id: Mapped[Id] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]]
    create_time: Mapped[dt.datetime]

    __table_args__ = (live_unique_index("uq_service_accounts_service_live", "service"),)


class SigningKey(Base):
    """Ed25519 keys tokens are signed with; the newest signs, all verify."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[dt.datetime]


class RevokedToken(Base):
    """Tokens revoked before expiry (logout); rows can go once `expire_time` has passed."""

    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    expire_time: Mapped[dt.datetime] = mapped_column(index=True)


class Revocation(Base):
    """The feed other services follow (ListRevocations) to refuse revoked user tokens at once:
    one token (`token_id`, a logout) or every token of a user below an auth `epoch` (removal,
    disable, password change). Rows go once the tokens they revoke have expired."""

    __tablename__ = "revocations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(64))
    epoch: Mapped[int | None] = mapped_column(Integer)
    revoke_time: Mapped[dt.datetime] = mapped_column(index=True)
    expire_time: Mapped[dt.datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """Failed sign-ins per e-mail (known or not, so a lockout reveals nothing), and a lockout."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]


class Account(Timestamps, Base):
    """A customer's contracted subscription. `state` is stored; EXPIRED also follows from
    `expiry_date` when read (see accounts.effective_state)."""

    __tablename__ = "accounts"

    id: Mapped[Id] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"))
    customer_path: Mapped[TreePath]
    display_name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(32))
    datapoints: Mapped[int] = mapped_column(Integer)
    period_months: Mapped[int] = mapped_column(Integer)
    sector: Mapped[str] = mapped_column(String(32))
    rtc_lines: Mapped[int] = mapped_column(Integer, default=0)
    mail_domain: Mapped[str | None] = mapped_column(String(253))
    comment: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))  # PENDING | ACTIVE | EXPIRED | REJECTED
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    expiry_date: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_accounts_customer_path_id", "customer_path", "id"),)


class AccountOrganization(Base):
    """An organization covered by an account; an organization has at most one account."""

    __tablename__ = "account_organizations"

    organization_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.id"), index=True)
    organization_path: Mapped[TreePath]


class DatapointAllocation(Base):
    """One datapoint of an account in use by a resource (usage is counted from these rows)."""

    __tablename__ = "datapoint_allocations"

    resource: Mapped[str] = mapped_column(String(160), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.id"), index=True)
    organization_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"))
    create_time: Mapped[dt.datetime]


class Application(Base):
    """A requested change to an account, waiting for (or decided by) Customer Success."""

    __tablename__ = "applications"

    id: Mapped[Id] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"))
    customer_path: Mapped[TreePath]
    partner_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]  # requested values (datapoints, plan, months, account fields)
    state: Mapped[str] = mapped_column(String(16))  # PENDING | APPROVED | REJECTED
    requested_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[dt.datetime]
    decide_time: Mapped[dt.datetime | None]
    # Outbox flag: the approval workflow is started after commit, and retried until it is.
    workflow_started: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_applications_customer_path_id", "customer_path", "id"),
        Index("ix_applications_state_id", "state", "id"),
    )


class LicensePurchase(Base):
    """A batch of feature licenses bought by an organization."""

    __tablename__ = "license_purchases"

    id: Mapped[Id] = mapped_column(primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), index=True)
    organization_path: Mapped[TreePath]
    type: Mapped[str] = mapped_column(String(24))
    quantity: Mapped[int] = mapped_column(Integer)
    purchase_time: Mapped[dt.datetime]
    purchased_by: Mapped[str] = mapped_column(String(64))


class LicenseAllocation(Base):
    """One license of an organization's pool in use by a resource."""

    __tablename__ = "license_allocations"

    type: Mapped[str] = mapped_column(String(24), primary_key=True)
    resource: Mapped[str] = mapped_column(String(160), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), index=True)
    organization_path: Mapped[TreePath]
    create_time: Mapped[dt.datetime]


class Notification(Base):
    """Delivery record of a notification, so a retried activity never mails twice."""

    __tablename__ = "notifications"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    recipients: Mapped[list[str]]
    send_time: Mapped[dt.datetime]
