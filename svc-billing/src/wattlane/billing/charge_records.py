"""Charge records: one sealed, priced record per completed transaction (BILLING.md).

A record is written once and never edited. Revision 0 is the record of the delivered
transaction, unique per transaction id, so a repeated or concurrent delivery finds the first and
changes nothing. A correction adds a CREDIT negating the record it corrects and a new DEBIT.

Visibility is the transaction's (ARCHITECTURE.md, cross-branch visibility): the station owner's
subtree and the card owner's organization with `transactions.read` or `billing.read` there, and
the cardholder. Out of scope reads as absent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.billing import pricing
from wattlane.billing.catalog import TariffVersion
from wattlane.billing.documents import priced_document, unpriced_document
from wattlane.billing.models import ChargeRecordRow
from wattlane.billing.transactions import CompletedTransaction, energy_of, session_of
from wattlane.core.clock import utcnow
from wattlane.core.errors import FailedPrecondition, NotFound, PermissionDenied
from wattlane.core.ids import new_id
from wattlane.core.scope import EffectiveScope

PERMISSIONS = ("transactions.read", "billing.read")
PAYER_KINDS = {"free": "FREE", "cardholder": "CARDHOLDER", "roaming": "ROAMING"}
KINDS = ("DEBIT", "CREDIT")
ALLOW_COLUMNS = {
    "locations": ChargeRecordRow.location_id,
    "chargingPoints": ChargeRecordRow.charging_point_id,
}


def record_name(record_id: str) -> str:
    """`chargeRecords/{id}`."""
    return f"chargeRecords/{record_id}"


def payer_of(tx: CompletedTransaction) -> tuple[str, str]:
    """(payer kind, paying party) from the access decision the CSMS recorded at the start:
    the cardholder (a user) or else the card's organization pays; a roaming card's party pays."""
    kind = PAYER_KINDS.get(tx.payer, "")
    if kind == "FREE":
        return kind, ""
    if kind == "ROAMING":
        return kind, f"tenants/{tx.card_owner_id}" if tx.card_owner_id else tx.id_token
    if tx.cardholder_id:
        return kind, f"users/{tx.cardholder_id}"
    return kind, f"tenants/{tx.card_owner_id}" if tx.card_owner_id else ""


def build(
    tx: CompletedTransaction,
    version: TariffVersion | None,
    *,
    owner_path: str,
    card_owner_path: str,
    workflow_id: str = "",
    home_charging_compensation: bool = False,
) -> ChargeRecordRow:
    """The record of a completed transaction, priced with `version` (the tariff version in force at
    its start; None: no tariff, nothing to pay). Pure: no I/O."""
    if not tx.completed or tx.stop is None:
        raise FailedPrecondition(
            f"transactions/{tx.id} has not completed", reason="TRANSACTION_NOT_COMPLETED"
        )
    session = session_of(tx)
    zone = _zone(tx.time_zone)
    stop = session.stop or tx.start
    energy = energy_of(tx)
    document: dict[str, Any]
    if version is None:
        document = unpriced_document(time_zone=zone, start=tx.start, stop=stop, energy_wh=energy)
        excl, incl, currency = "0", "0", ""
    else:
        priced = pricing.price(version.spec.tariff, session, zone)
        document = priced_document(
            priced, version.spec.tariff, tariff_name=version.name, version=version.version, time_zone=zone
        )
        excl = str(priced.total.excl_vat)
        incl = "" if priced.total.incl_vat is None else str(priced.total.incl_vat)
        currency = priced.currency
    kind, payer = payer_of(tx)
    return ChargeRecordRow(
        id=new_id(),
        transaction_id=tx.id,
        revision=0,
        kind="DEBIT",
        corrects="",
        workflow_id=workflow_id,
        owner_id=tx.owner_id,
        owner_path=owner_path,
        location_id=tx.location_id,
        charging_point_id=tx.charging_point_id,
        station=tx.station,
        evse_id=tx.evse_id,
        connector_id=tx.connector_id,
        id_token=tx.id_token,
        card_id=tx.card_id,
        card_owner_id=tx.card_owner_id,
        card_owner_path=card_owner_path,
        cardholder_id=tx.cardholder_id,
        payer_kind=kind,
        payer=payer,
        home_charging_compensation=home_charging_compensation,
        tariff_id=version.tariff_id if version is not None else "",
        tariff_version=version.version if version is not None else 0,
        tariff_snapshot=dict(version.snapshot) if version is not None else None,
        time_zone=zone,
        currency=currency,
        start_time=tx.start,
        stop_time=stop,
        energy_wh=energy,
        total_excl_vat=excl,
        total_incl_vat=incl,
        priced=document,
        create_time=utcnow(),
    )


def _zone(name: str) -> str:
    """The location's zone as the CSMS recorded it; UTC when it sent none (or one this machine's
    time zone database does not know: the record is still sealed, its zone says what was used)."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "UTC"
    return name


async def of_transaction(session: AsyncSession, transaction_id: int) -> ChargeRecordRow | None:
    """The delivered record (revision 0) of a transaction, if sealed."""
    query = select(ChargeRecordRow).where(
        ChargeRecordRow.transaction_id == transaction_id, ChargeRecordRow.revision == 0
    )
    return (await session.execute(query)).scalar_one_or_none()


# --- corrections -------------------------------------------------------------------------------


def _negate(text: str) -> str:
    return "" if text == "" else str(-Decimal(text))


def _negated(document: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(document)
    out["total_cost"] = {k: _negate(str(v)) for k, v in dict(document.get("total_cost", {})).items()}
    out["totals"] = [
        {**t, "cost": {k: _negate(str(v)) for k, v in dict(t.get("cost", {})).items()}}
        for t in document.get("totals", [])
    ]
    return out


async def correct(
    session: AsyncSession,
    scope: EffectiveScope,
    record_id: str,
    version: TariffVersion | None,
    tx: CompletedTransaction,
) -> tuple[ChargeRecordRow, ChargeRecordRow]:
    """Correct the current DEBIT of a transaction: a CREDIT negating it, then a new DEBIT priced
    with `version` (`billing.manage` on the station owner). Returns (credit, debit)."""
    original = await get_in_scope(session, scope, record_id)
    scope.require("billing.manage", original.owner_path, record_name(record_id))
    newest = (
        await session.execute(
            select(ChargeRecordRow)
            .where(ChargeRecordRow.transaction_id == original.transaction_id)
            .order_by(ChargeRecordRow.revision.desc())
            .limit(1)
        )
    ).scalar_one()
    if newest.id != original.id:
        raise FailedPrecondition(
            f"{record_name(record_id)} was already corrected; correct {record_name(newest.id)}",
            reason="ALREADY_CORRECTED",
        )
    now = utcnow()
    credit = ChargeRecordRow(
        **{
            c.key: getattr(original, c.key)
            for c in ChargeRecordRow.__table__.columns  # type: ignore[attr-defined]
            if c.key
            not in (
                "id",
                "revision",
                "kind",
                "corrects",
                "total_excl_vat",
                "total_incl_vat",
                "priced",
                "create_time",
            )
        },
        id=new_id(),
        revision=original.revision + 1,
        kind="CREDIT",
        corrects=original.id,
        total_excl_vat=_negate(original.total_excl_vat),
        total_incl_vat=_negate(original.total_incl_vat),
        priced=_negated(original.priced),
        create_time=now,
    )
    debit = build(
        tx,
        version,
        owner_path=original.owner_path,
        card_owner_path=original.card_owner_path,
        workflow_id=original.workflow_id,
        home_charging_compensation=original.home_charging_compensation,
    )
    debit.revision = original.revision + 2
    debit.corrects = original.id
    session.add(credit)
    await session.flush()
    session.add(debit)
    await session.flush()
    return credit, debit


# --- visibility --------------------------------------------------------------------------------


def visible(scope: EffectiveScope, user_id: str) -> ColumnElement[bool]:
    """Rows the caller may read: the owner's or the card owner's path inside the scope of
    `transactions.read` or `billing.read`, or the caller's own card (`user_id`)."""
    clauses = []
    for permission in PERMISSIONS:
        clauses.append(scope.filter(permission, ChargeRecordRow.owner_path, ALLOW_COLUMNS))
        clauses.append(
            and_(
                ChargeRecordRow.card_owner_path != "",
                scope.filter(permission, ChargeRecordRow.card_owner_path),
            )
        )
    if user_id:
        clauses.append(ChargeRecordRow.cardholder_id == user_id)
    return or_(*clauses)


def require_visible(scope: EffectiveScope, user_id: str, row: ChargeRecordRow) -> None:
    """NOT_FOUND when the caller cannot see the record, PERMISSION_DENIED when it sees the owner
    or card owner only through another permission."""
    name = record_name(row.id)
    places = [f"locations/{row.location_id}"] if row.location_id else []
    if user_id and row.cardholder_id == user_id:
        return
    for permission in PERMISSIONS:
        if row.owner_path and scope.can(permission, row.owner_path, [name, *places]):
            return
        if row.card_owner_path and scope.can(permission, row.card_owner_path, [name]):
            return
    if (row.owner_path and scope.visible(row.owner_path, [name, *places])) or (
        row.card_owner_path and scope.visible(row.card_owner_path, [name])
    ):
        raise PermissionDenied(PERMISSIONS[1], name)
    raise NotFound(name)


async def get_in_scope(
    session: AsyncSession, scope: EffectiveScope, record_id: str, user_id: str = ""
) -> ChargeRecordRow:
    """A record the caller may read."""
    row = await session.get(ChargeRecordRow, record_id)
    if row is None:
        raise NotFound(record_name(record_id))
    require_visible(scope, user_id, row)
    return row


async def list_visible(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    where: ColumnElement[bool],
    *,
    tenant_id: str | None,
    before: str | None,
    limit: int,
) -> list[ChargeRecordRow]:
    """Visible records matching `where` (of one tenant, as owner or card owner), newest first,
    with ids below `before`."""
    clauses = [visible(scope, user_id), where]
    if tenant_id is not None:
        clauses.append(or_(ChargeRecordRow.owner_id == tenant_id, ChargeRecordRow.card_owner_id == tenant_id))
    if before is not None:
        clauses.append(ChargeRecordRow.id < before)
    query = select(ChargeRecordRow).where(*clauses).order_by(ChargeRecordRow.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


CSV_COLUMNS = (
    "name", "transaction", "kind", "corrects", "owner", "location", "charging_point", "station",
    "evse_id", "connector_id", "id_token", "card", "card_owner", "cardholder", "payer_kind", "payer",
    "home_charging_compensation", "tariff", "tariff_version", "time_zone", "start_time", "stop_time",
    "energy_wh", "currency", "total_excl_vat", "total_incl_vat", "create_time",
)  # fmt: skip


def _ref(collection: str, value: str) -> str:
    return f"{collection}/{value}" if value else ""


def csv_row(row: ChargeRecordRow) -> list[str]:
    """One record as the export's columns."""

    def iso(value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

    return [
        record_name(row.id),
        f"transactions/{row.transaction_id}",
        row.kind,
        _ref("chargeRecords", row.corrects),
        _ref("tenants", row.owner_id),
        _ref("locations", row.location_id),
        _ref("chargingPoints", row.charging_point_id),
        _ref("stations", row.station),
        str(row.evse_id),
        str(row.connector_id),
        row.id_token,
        _ref("cards", row.card_id),
        _ref("tenants", row.card_owner_id),
        _ref("users", row.cardholder_id),
        row.payer_kind,
        row.payer,
        "true" if row.home_charging_compensation else "false",
        _ref("tariffs", row.tariff_id),
        str(row.tariff_version or ""),
        row.time_zone,
        iso(row.start_time),
        iso(row.stop_time),
        str(row.energy_wh),
        row.currency,
        row.total_excl_vat,
        row.total_incl_vat,
        iso(row.create_time),
    ]
