"""Identity's tables (ORM). Only identity stores the tenant tree; other services keep copies of
a node's id and path on their own rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
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
