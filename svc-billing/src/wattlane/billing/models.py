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
from wattlane.core.orm import (
    BaseModel,
    Currency,
    Id,
    MinorUnits,
    SoftDelete,
    Timestamps,
    TreePath,
    new_metadata,
)


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
    create_time: Mapped[dt.datetime]  # when it was recorded: its settlement month's instant
    # The invoice it ended up on ("" while open): the one column a sealed record ever has set,
    # once, by the settlement, guarded by `invoice_id = ''` so no record lands on two invoices.
    invoice_id: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("uq_charge_records_transaction_id_revision", "transaction_id", "revision", unique=True),
        Index("ix_charge_records_invoice_id_payer", "invoice_id", "payer"),
        Index("ix_charge_records_owner_path_id", "owner_path", "id"),
        Index("ix_charge_records_card_owner_path_id", "card_owner_path", "id"),
        Index("ix_charge_records_cardholder_id_id", "cardholder_id", "id"),
    )


class InvoiceRow(Timestamps, Base):
    """An invoice or a credit note (`kind`). A draft has no number and may be edited or deleted;
    finalizing allocates `number` gaplessly in its issuer's series (see `numbering`) and makes it
    final: from then on only its status moves on (PAID, or VOID once fully credited).

    The issuer is a tenant (the operator or a partner issuing under its brand); the recipient a
    tenant (organization, partner) or a user (an employee reimbursed by self-billing, a private
    customer), with `recipient_path` the path of the recipient's tenant (a user's home
    organization) so recipients' admins read it by scope. Amounts are integer minor units,
    totals per EN 16931 (`wattlane.billing.money`)."""

    __tablename__ = "invoices"

    id: Mapped[Id] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # INVOICE | CREDIT_NOTE
    status: Mapped[str] = mapped_column(String(12))  # DRAFT | FINALIZED | PAID | VOID
    issuer_id: Mapped[str] = mapped_column(String(64))
    issuer_path: Mapped[TreePath]
    issuer_name: Mapped[str] = mapped_column(String(200), default="")  # the brand on the document
    recipient_kind: Mapped[str] = mapped_column(String(16))  # ORGANIZATION | EMPLOYEE | PRIVATE | PARTNER
    recipient_tenant_id: Mapped[str] = mapped_column(String(64))
    recipient_path: Mapped[TreePath]
    recipient_user_id: Mapped[str] = mapped_column(String(64), default="")
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    self_billed: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[Currency]
    locale: Mapped[str] = mapped_column(String(16), default="en")
    series: Mapped[str] = mapped_column(String(32), default="")  # "" until finalized
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # 0 until finalized
    number: Mapped[str] = mapped_column(String(64), default="")  # e.g. INV-2026-000042
    issue_date: Mapped[dt.date | None] = mapped_column(default=None)
    due_date: Mapped[dt.date | None] = mapped_column(default=None)
    credits: Mapped[str] = mapped_column(String(64), default="")  # a credit note's invoice id
    net_minor: Mapped[MinorUnits] = mapped_column(default=0)
    vat_minor: Mapped[MinorUnits] = mapped_column(default=0)
    credited_minor: Mapped[MinorUnits] = mapped_column(default=0)  # by finalized credit notes
    breakdown: Mapped[list[Any]] = mapped_column(default=list)  # VAT groups, when finalized
    finalize_time: Mapped[dt.datetime | None] = mapped_column(default=None)
    paid_time: Mapped[dt.datetime | None] = mapped_column(default=None)
    payment_reference: Mapped[str] = mapped_column(String(140), default="")  # SEPA end-to-end id
    revision: Mapped[int] = mapped_column(Integer, default=1)  # the etag

    __table_args__ = (
        Index("ix_invoices_issuer_path_id", "issuer_path", "id"),
        Index("ix_invoices_recipient_path_id", "recipient_path", "id"),
        Index("ix_invoices_recipient_user_id_id", "recipient_user_id", "id"),
        Index("ix_invoices_credits", "credits"),
        Index("ix_invoices_payment_reference", "payment_reference"),
    )


class InvoiceLineRow(Base):
    """One line of an invoice or credit note: its net is rounded once (EN 16931), its VAT group
    is its country and rate, and it says what it bills (charge records or a subscription period)."""

    __tablename__ = "invoice_lines"

    invoice_id: Mapped[str] = mapped_column(String(64), ForeignKey("invoices.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1, 2, ...
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[str] = mapped_column(String(64))  # exact decimal
    unit: Mapped[str] = mapped_column(String(16))  # kWh, h, month, piece
    unit_price: Mapped[str] = mapped_column(String(64))  # exact decimal, excl. VAT
    net_minor: Mapped[MinorUnits]
    vat_rate: Mapped[str] = mapped_column(String(16))  # percent, exact decimal
    vat_country: Mapped[str] = mapped_column(String(2))
    charge_records: Mapped[list[Any]] = mapped_column(default=list)  # chargeRecords/{id} names
    period_start: Mapped[dt.date | None] = mapped_column(default=None)  # a subscription period
    period_end: Mapped[dt.date | None] = mapped_column(default=None)
    credits_line: Mapped[int] = mapped_column(Integer, default=0)  # a credit note line's invoice line


class InvoiceCounterRow(Base):
    """The last number given in one issuer's series: the row finalization locks (SELECT … FOR
    UPDATE) and bumps in its own transaction, so numbers are gapless and never shared."""

    __tablename__ = "invoice_counters"

    issuer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class SettlementRow(Base):
    """The invoice the monthly settlement made for one recipient (payer and currency) of an
    issuer's month: the key a re-run finds, so each is made once. Inserted in the transaction
    that creates the invoice; a concurrent run loses on the primary key."""

    __tablename__ = "settlements"

    issuer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    payer: Mapped[str] = mapped_column(String(200), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(64))
    charge_records: Mapped[int] = mapped_column(Integer, default=0)
    create_time: Mapped[dt.datetime]
