"""Assets' tables (ORM). Every tenant-owned row stores its owning node's id and a copy of the
node's path (only identity stores the tree), so every query filters by scope in SQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from wattlane.core.audit import audit_table
from wattlane.core.idempotency import idempotency_table
from wattlane.core.orm import (
    BaseModel,
    Id,
    SoftDelete,
    Timestamps,
    TreePath,
    Watts,
    live_unique_index,
    new_metadata,
)


class Base(BaseModel):
    __abstract__ = True
    metadata = new_metadata()


IDEMPOTENCY = idempotency_table(Base.metadata)
AUDIT = audit_table(Base.metadata)

RatePlan = String(100)


class OrganizationSettings(Base):
    """An organization's own inherited settings (the top of the rate plan chain)."""

    __tablename__ = "organization_settings"

    tenant_id: Mapped[Id] = mapped_column(primary_key=True)
    tenant_path: Mapped[TreePath]
    rate_plan: Mapped[str] = mapped_column(RatePlan, default="")
    rate_plan_override: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_organization_settings_tenant_path", "tenant_path"),)


class Location(Timestamps, SoftDelete, Base):
    """A site of an organization."""

    __tablename__ = "locations"

    id: Mapped[Id] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[TreePath]
    display_name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    time_zone: Mapped[str] = mapped_column(String(64))
    latitude: Mapped[float] = mapped_column(Float, default=0.0)
    longitude: Mapped[float] = mapped_column(Float, default=0.0)
    grid_capacity_w: Mapped[Watts] = mapped_column(default=0)
    rate_plan: Mapped[str] = mapped_column(RatePlan, default="")
    rate_plan_override: Mapped[bool] = mapped_column(Boolean, default=False)
    access_mode: Mapped[str] = mapped_column(String(24), default="OPEN")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_locations_owner_path_id", "owner_path", "id"),
        Index("ix_locations_owner_id", "owner_id"),
    )


class ChargingPoint(Timestamps, SoftDelete, Base):
    """A charging station (one OCPP identity).

    `state`: PROVISIONING while its datapoint and license are being allocated, ACTIVE, DELETING
    while they are released. Only ACTIVE rows are visible; the others are the journal the
    reconciler finishes from when a process died half-way."""

    __tablename__ = "charging_points"

    id: Mapped[Id] = mapped_column(primary_key=True)
    location_id: Mapped[str] = mapped_column(String(64), ForeignKey("locations.id"))
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[TreePath]
    state: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    ocpp_identity: Mapped[str] = mapped_column(String(48))
    vendor: Mapped[str] = mapped_column(String(50), default="")
    model: Mapped[str] = mapped_column(String(50), default="")
    serial_number: Mapped[str] = mapped_column(String(50), default="")
    alias: Mapped[str] = mapped_column(String(100), default="")
    current_type: Mapped[str] = mapped_column(String(2))  # AC | DC
    max_power_w: Mapped[Watts] = mapped_column(default=0)
    ocpp_version: Mapped[str] = mapped_column(String(8), default="1.6")
    onboarding: Mapped[str] = mapped_column(String(16), default="PRE_APPROVED")
    first_seen_time: Mapped[dt.datetime | None] = mapped_column(default=None)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    charging_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_plan: Mapped[str] = mapped_column(RatePlan, default="")
    rate_plan_override: Mapped[bool] = mapped_column(Boolean, default=False)
    access_mode: Mapped[str] = mapped_column(String(24), default="")
    access_mode_override: Mapped[bool] = mapped_column(Boolean, default=False)
    max_price_per_kwh: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="")
    certificate_subject: Mapped[str] = mapped_column(String(255), default="")
    key_salt: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    key_digest: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    credential_version: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        live_unique_index("uq_charging_points_ocpp_identity_live", "ocpp_identity"),
        Index("ix_charging_points_owner_path_id", "owner_path", "id"),
        Index("ix_charging_points_location_id_id", "location_id", "id"),
        Index("ix_charging_points_state", "state"),
    )


class Connector(Base):
    """A plug of a charging point (OCPP EVSE id + connector id)."""

    __tablename__ = "connectors"

    id: Mapped[Id] = mapped_column(primary_key=True)
    charging_point_id: Mapped[str] = mapped_column(String(64), ForeignKey("charging_points.id"))
    location_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[TreePath]
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    max_power_w: Mapped[Watts] = mapped_column(default=0)
    create_time: Mapped[dt.datetime]

    __table_args__ = (
        Index(
            "uq_connectors_charging_point_id_evse_id_connector_id",
            "charging_point_id",
            "evse_id",
            "connector_id",
            unique=True,
        ),
    )


class Card(Timestamps, SoftDelete, Base):
    """A charge card / token: a user's private card or a customer's public (roaming) card.

    `customer_path` is the owning customer's path: a UID is unique among a customer's live cards."""

    __tablename__ = "cards"

    id: Mapped[Id] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(8))  # PRIVATE | PUBLIC
    holder_id: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[TreePath]
    customer_path: Mapped[TreePath]
    label: Mapped[str] = mapped_column(String(100), default="")
    valid_from: Mapped[dt.datetime | None] = mapped_column(default=None)
    valid_to: Mapped[dt.datetime | None] = mapped_column(default=None)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    public_mode: Mapped[str] = mapped_column(String(16), default="")  # WHITELIST | ROAMING_FREE
    issuer: Mapped[str] = mapped_column(String(50), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        live_unique_index("uq_cards_customer_path_uid_live", "customer_path", "uid"),
        Index("ix_cards_uid", "uid"),
        Index("ix_cards_owner_path_id", "owner_path", "id"),
        Index("ix_cards_holder_id_id", "holder_id", "id"),
    )


class WhitelistEntry(Base):
    """A card, or every card of a user, on an organization's whitelist."""

    __tablename__ = "whitelist_entries"

    id: Mapped[Id] = mapped_column(primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    organization_path: Mapped[TreePath]
    card_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("cards.id"))
    user_id: Mapped[str | None] = mapped_column(String(64))
    create_time: Mapped[dt.datetime]

    __table_args__ = (
        Index("uq_whitelist_entries_organization_id_card_id", "organization_id", "card_id", unique=True),
        Index("uq_whitelist_entries_organization_id_user_id", "organization_id", "user_id", unique=True),
        Index("ix_whitelist_entries_organization_path_id", "organization_path", "id"),
        Index("ix_whitelist_entries_card_id", "card_id"),
        Index("ix_whitelist_entries_user_id", "user_id"),
    )
