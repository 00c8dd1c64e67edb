"""The monthly settlement's work in billing: who to invoice for an issuer's month, and one
invoice per recipient, made once (BILLING.md, "Settlement as a workflow").

Which records a month settles: the issuer invoices the records of stations in its subtree
(`owner_path` under the issuer's path) that are still open (on no invoice), priced (a currency)
and paid by a party we can invoice (`tenants/…` or `users/…`: free sessions and roaming tokens
without a known party are not invoiced), and that were **recorded** before the month ended in
the issuer's time zone. The settlement month of a record is the month it was recorded (handed
over) in, not its session's: a session of the 30th handed over on the 1st is in the next month's
run. A record left open by an earlier month (its payer gone, say) is swept up by the next run:
no record is ever silently dropped.

Exactly once: per recipient (payer and currency) of an issuer's month one transaction claims the
open records (`UPDATE … SET invoice_id WHERE invoice_id = ''`: a record already on an invoice
is skipped), sums them per tariff version in the database, writes and finalizes the invoice
(the gapless number is allocated in that transaction) and inserts the (issuer, month, payer,
currency) key. A re-run finds the key and returns the same invoice; a concurrent run loses on
the key and its transaction rolls back whole."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Numeric, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.billing import catalog, invoices
from wattlane.billing.models import ChargeRecordRow, InvoiceRow, SettlementRow, TariffVersionRow
from wattlane.core.clients.directory import Owner
from wattlane.core.clock import utcnow
from wattlane.core.errors import InvalidArgument
from wattlane.core.paging import Page

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_RECIPIENTS = 500


def parse_month(value: str, field: str) -> tuple[int, int]:
    """(year, month) of "YYYY-MM"; INVALID_ARGUMENT naming `field` otherwise."""
    found = MONTH.match(value)
    if found is None:
        raise InvalidArgument.field(field, f"must be a month like 2026-11, got {value[:20]!r}")
    return int(found.group(1)), int(found.group(2))


@dataclass(frozen=True)
class Period:
    """An issuer's settlement month, in its time zone."""

    issuer: Owner
    month: str  # YYYY-MM
    time_zone: str

    @property
    def end(self) -> dt.datetime:
        """The instant the month ends: the next month's 1st, 00:00 in the issuer's zone."""
        year, month = parse_month(self.month, "period.month")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return dt.datetime(year, month, 1, tzinfo=ZoneInfo(self.time_zone)).astimezone(dt.UTC)


@dataclass(frozen=True)
class Recipient:
    payer: str
    currency: str


@dataclass(frozen=True)
class Settled:
    """What became of one recipient (`invoice` None: no open record was left)."""

    recipient: Recipient
    invoice: InvoiceRow | None
    charge_records: int
    created: bool


def open_records(period: Period) -> ColumnElement[bool]:
    """The records the period settles (see the module docstring)."""
    return (
        (ChargeRecordRow.invoice_id == "")
        & ChargeRecordRow.owner_path.startswith(period.issuer.path)
        & (ChargeRecordRow.create_time < period.end)
        & (ChargeRecordRow.currency != "")
        & or_(ChargeRecordRow.payer.startswith("tenants/"), ChargeRecordRow.payer.startswith("users/"))
    )


async def recipients(session: AsyncSession, period: Period, page: Page) -> tuple[list[Recipient], str]:
    """One page of the period's recipients in (payer, currency) order, and the next token."""
    key = [ChargeRecordRow.payer, ChargeRecordRow.currency]
    payers = select(ChargeRecordRow.payer, ChargeRecordRow.currency).where(open_records(period)).distinct()
    query = page.window(payers, key)  # type: ignore[arg-type]  # a two-column Select is a Select
    rows = list((await session.execute(query)).all())
    token = page.next_token(rows, lambda r: (r.payer, r.currency))
    return [Recipient(r.payer, r.currency) for r in rows[: page.size]], token


async def existing(session: AsyncSession, period: Period, recipient: Recipient) -> Settled | None:
    """What an earlier run made for the recipient, if it ran."""
    key = (period.issuer.tenant_id, period.month, recipient.payer, recipient.currency)
    done = await session.get(SettlementRow, key)
    if done is None:
        return None
    row = await session.get(InvoiceRow, done.invoice_id)
    return Settled(recipient, row, done.charge_records, created=False)


def _vat_rate(snapshot: dict[str, object] | None, tariff_id: str) -> Decimal:
    """The VAT rate of a tariff version: its energy component's, else the first one given; 0
    when it gives none (a cost without VAT)."""
    if not snapshot:
        return Decimal(0)
    tariff = catalog.spec_from_json(snapshot, tariff_id).tariff
    components = [c for e in tariff.elements for c in e.price_components if c.vat is not None]
    energy = [c for c in components if c.dimension.value == "ENERGY"]
    chosen = (energy or components)[:1]
    return chosen[0].vat if chosen and chosen[0].vat is not None else Decimal(0)


async def _lines(
    session: AsyncSession, invoice_id: str, vat_country: str
) -> tuple[list[invoices.LineSpec], int]:
    """One line per tariff version of the invoice's records, summed by the database, and how
    many records they hold."""
    R = ChargeRecordRow
    query = (
        select(
            R.tariff_id,
            R.tariff_version,
            func.count().label("n"),
            func.sum(R.energy_wh).label("wh"),
            func.sum(cast(R.total_excl_vat, Numeric(30, 10))).label("net"),
        )
        .where(R.invoice_id == invoice_id)
        .group_by(R.tariff_id, R.tariff_version)
        .order_by(R.tariff_id, R.tariff_version)
    )
    groups = list((await session.execute(query)).all())
    lines, count = [], 0
    for group in groups:
        version = await session.get(TariffVersionRow, (group.tariff_id, group.tariff_version))
        snapshot = version.snapshot if version is not None else None
        name = str(snapshot.get("display_name", "")) if snapshot else ""
        kwh = Decimal(int(group.wh or 0)) / 1000
        # SQLite sums NUMERIC as a float: back to the exact decimal of at most 10 places.
        net = Decimal(str(group.net or 0)).quantize(Decimal("1E-10")).normalize()
        tariff = (
            f"tariff {name or group.tariff_id} v{group.tariff_version}" if group.tariff_id else "no tariff"
        )
        lines.append(
            invoices.LineSpec(
                description=f"Charging, {tariff}: {group.n} sessions, {kwh} kWh",
                quantity=Decimal(1),
                unit="piece",
                unit_price=net,
                vat_rate=_vat_rate(snapshot, group.tariff_id),
                vat_country=vat_country,
            )
        )
        count += int(group.n)
    return lines, count


async def settle(
    session: AsyncSession,
    period: Period,
    recipient: Recipient,
    to: Owner,
    *,
    vat_country: str,
    today: dt.date,
) -> Settled:
    """Invoice the recipient's open records of the period, in the caller's transaction (see the
    module docstring); an earlier run's invoice when there was one."""
    if (done := await existing(session, period, recipient)) is not None:
        return done
    row = invoices.draft_row(period.issuer, to, invoices.DraftSpec(currency=recipient.currency))
    claimed = await session.execute(
        update(ChargeRecordRow)
        .where(
            open_records(period),
            ChargeRecordRow.payer == recipient.payer,
            ChargeRecordRow.currency == recipient.currency,
        )
        .values(invoice_id=row.id)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        # A concurrent run claimed them while our UPDATE waited on its row locks (PostgreSQL
        # re-checks `invoice_id = ''` after it commits): its invoice is the answer.
        return await existing(session, period, recipient) or Settled(recipient, None, 0, created=False)
    specs, count = await _lines(session, row.id, vat_country)
    session.add(row)
    await session.flush()
    lines = invoices.line_rows(row.id, row.currency, specs)
    session.add_all(lines)
    await session.flush()
    await invoices.assign_number(session, row, lines, today)
    session.add(
        SettlementRow(
            issuer_id=period.issuer.tenant_id,
            month=period.month,
            payer=recipient.payer,
            currency=recipient.currency,
            invoice_id=row.id,
            charge_records=count,
            create_time=utcnow(),
        )
    )
    await session.flush()
    return Settled(recipient, row, count, created=True)


def check_recipients(values: Sequence[tuple[str, str]]) -> list[Recipient]:
    """The request's recipients, validated (naming the field of the first bad one)."""
    if len(values) > MAX_RECIPIENTS:
        raise InvalidArgument.field("recipients", f"at most {MAX_RECIPIENTS} per call, got {len(values)}")
    out = []
    for i, (payer, currency) in enumerate(values):
        if not payer.startswith(("tenants/", "users/")) or len(payer) > 200:
            raise InvalidArgument.field(f"recipients[{i}].payer", "must be tenants/{id} or users/{id}")
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise InvalidArgument.field(f"recipients[{i}].currency", "must be an ISO 4217 code like EUR")
        out.append(Recipient(payer, currency))
    return out
