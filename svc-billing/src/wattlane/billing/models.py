"""Billing's tables (ORM). Every tenant-owned row stores its owning node's id and a copy of the
node's path (only identity stores the tree), so every query filters by scope in SQL.

A tariff's versions are immutable rows; each keeps a JSON snapshot of the version (OCPI-shaped,
see `wattlane.billing.catalog`), which is also what a charge record copies. A charge record is
sealed: written once, never updated (a correction adds a CREDIT and a new DEBIT)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wattlane.core.audit import audit_table
from wattlane.core.idempotency import idempotency_table
from wattlane.core.orm import BaseModel, Id, SoftDelete, Timestamps, TreePath, new_metadata


class Base(BaseModel):
    __abstract__ = True
    metadata = new_metadata()


IDEMPOTENCY = idempotency_table(Base.metadata)
AUDIT = audit_table(Base.metadata)


class TariffRow(Timestamps, SoftDelete, Base):
    """A tariff: who owns it and what it is for; its latest version's name and currency are
    copied here for listing and filtering."""

    __tablename__ = "tariffs"

    id: Mapped[Id] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[TreePath]
    purpose: Mapped[str] = mapped_column(String(24))  # CHARGING | HOME_REIMBURSEMENT
    display_name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    latest_version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_tariffs_owner_path_id", "owner_path", "id"),)


class TariffVersionRow(Base):
    """One immutable version of a tariff, in force from `effective_from`."""

    __tablename__ = "tariff_versions"

    tariff_id: Mapped[str] = mapped_column(String(64), ForeignKey("tariffs.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[dt.datetime]
    create_time: Mapped[dt.datetime]
    snapshot: Mapped[dict[str, Any]]


class ChargeRecordRow(Base):
    """A sealed charge record. `revision` 0 is the record of the delivered transaction (unique
    per transaction: a repeated delivery finds it); a correction n adds revision 2n-1 (CREDIT)
    and 2n (the corrected DEBIT)."""

    __tablename__ = "charge_records"

    id: Mapped[Id] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(8))  # DEBIT | CREDIT
    corrects: Mapped[str] = mapped_column(String(64), default="")
    workflow_id: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[str] = mapped_column(String(64), default="")
    owner_path: Mapped[TreePath] = mapped_column(default="")
    location_id: Mapped[str] = mapped_column(String(64), default="")
    charging_point_id: Mapped[str] = mapped_column(String(64), default="")
    station: Mapped[str] = mapped_column(String(64), default="")
    evse_id: Mapped[int] = mapped_column(Integer, default=0)
    connector_id: Mapped[int] = mapped_column(Integer, default=0)
    id_token: Mapped[str] = mapped_column(String(64), default="")
    card_id: Mapped[str] = mapped_column(String(64), default="")
    card_owner_id: Mapped[str] = mapped_column(String(64), default="")
    card_owner_path: Mapped[TreePath] = mapped_column(default="")
    cardholder_id: Mapped[str] = mapped_column(String(64), default="")
    payer_kind: Mapped[str] = mapped_column(String(16), default="")  # FREE | CARDHOLDER | ROAMING | ""
    payer: Mapped[str] = mapped_column(String(200), default="")
    home_charging_compensation: Mapped[bool] = mapped_column(Boolean, default=False)
    tariff_id: Mapped[str] = mapped_column(String(64), default="")
    tariff_version: Mapped[int] = mapped_column(Integer, default=0)
    tariff_snapshot: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="")
    start_time: Mapped[dt.datetime]
    stop_time: Mapped[dt.datetime]
    energy_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    total_excl_vat: Mapped[str] = mapped_column(String(64))  # exact decimal
    total_incl_vat: Mapped[str] = mapped_column(String(64), default="")  # "" when unknown
    priced: Mapped[dict[str, Any]]
    create_time: Mapped[dt.datetime]

    __table_args__ = (
        Index("uq_charge_records_transaction_id_revision", "transaction_id", "revision", unique=True),
        Index("ix_charge_records_owner_path_id", "owner_path", "id"),
        Index("ix_charge_records_card_owner_path_id", "card_owner_path", "id"),
        Index("ix_charge_records_cardholder_id_id", "cardholder_id", "id"),
    )
