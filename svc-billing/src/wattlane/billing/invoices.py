"""Invoices and credit notes as the service keeps them (BILLING.md, "Invoices").

Life of a document: a DRAFT (no number; its lines and fields may change; it may be deleted) is
FINALIZED once — in that transaction it gets the next gapless number of its issuer's series and
its totals per EN 16931 — and is final from then on: only its status moves, to PAID (marked by
hand or matched from a bank statement) or VOID (fully credited). A correction is a credit note
referencing the invoice, for all of it or for part of its lines; a credit note is finalized when
created (numbered in the issuer's credit note series).

Who sees what: the issuer's subtree and the recipient's tenant (its subtree) with `billing.read`,
and a user recipient (an employee's self-billed credit, a private customer) always; issuing,
editing, finalizing, crediting and marking paid need `billing.manage` at the issuer. Anything
else reads as absent (NOT_FOUND). Every function works inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.billing import money, numbering
from wattlane.billing.models import InvoiceLineRow, InvoiceRow
from wattlane.core.clients.directory import Owner
from wattlane.core.clock import utcnow
from wattlane.core.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from wattlane.core.ids import new_id
from wattlane.core.scope import EffectiveScope

READ = "billing.read"
MANAGE = "billing.manage"
KINDS = ("INVOICE", "CREDIT_NOTE")
STATUSES = ("DRAFT", "FINALIZED", "PAID", "VOID")
RECIPIENT_KINDS = ("ORGANIZATION", "EMPLOYEE", "PRIVATE", "PARTNER")
ISSUER_KINDS = ("OPERATOR", "PARTNER")
DEFAULT_TERM = dt.timedelta(days=30)


def invoice_name(invoice_id: str) -> str:
    """`invoices/{id}`."""
    return f"invoices/{invoice_id}"


@dataclass(frozen=True)
class LineSpec:
    """A line as written on a draft (validated by the API layer, naming its fields)."""

    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal
    vat_country: str
    charge_records: tuple[str, ...] = ()
    period_start: dt.date | None = None
    period_end: dt.date | None = None


@dataclass(frozen=True)
class DraftSpec:
    """What a draft says besides issuer and recipient."""

    currency: str
    locale: str = "en"
    due_date: dt.date | None = None
    self_billed: bool = False
    lines: tuple[LineSpec, ...] = ()


@dataclass
class Invoice:
    """A document with its lines, in position order."""

    row: InvoiceRow
    lines: list[InvoiceLineRow] = field(default_factory=list)

    @property
    def name(self) -> str:
        return invoice_name(self.row.id)

    def total_minor(self) -> int:
        """Net plus VAT (a draft's as it would finalize now)."""
        if self.row.status == "DRAFT":
            return draft_totals(self.lines).total_minor
        return self.row.net_minor + self.row.vat_minor


def recipient_kind(recipient: Owner) -> str:
    """What kind of recipient a `tenants/` or `users/` name is: a user at their own home
    sub-organization is an employee (reimbursed by self-billing), any other user a private
    customer; a partner tenant a partner, any other tenant an organization."""
    if recipient.name.startswith("users/"):
        return "EMPLOYEE" if recipient.home_of == recipient.name else "PRIVATE"
    return "PARTNER" if recipient.kind == "PARTNER" else "ORGANIZATION"


def draft_totals(lines: Sequence[InvoiceLineRow]) -> money.Totals:
    """EN 16931 totals of stored lines."""
    return money.totals(
        money.Line(line.net_minor, Decimal(line.vat_rate), line.vat_country) for line in lines
    )


def _check_self_billing(kind: str, spec: DraftSpec) -> None:
    if not spec.self_billed:
        return
    if kind != "EMPLOYEE":
        raise InvalidArgument.field(
            "invoice.self_billed", "only an employee reimbursed for home charging is self-billed"
        )
    for i, line in enumerate(spec.lines):
        if line.vat_rate != 0:
            raise InvalidArgument.field(
                f"invoice.lines[{i}].vat_rate", "a self-billed credit to a private person carries no VAT"
            )


def line_rows(invoice_id: str, currency: str, lines: Sequence[LineSpec]) -> list[InvoiceLineRow]:
    return [
        InvoiceLineRow(
            invoice_id=invoice_id,
            position=i,
            description=line.description,
            quantity=str(line.quantity),
            unit=line.unit,
            unit_price=str(line.unit_price),
            net_minor=money.line_net(line.quantity, line.unit_price, currency),
            vat_rate=str(line.vat_rate),
            vat_country=line.vat_country,
            charge_records=list(line.charge_records),
            period_start=line.period_start,
            period_end=line.period_end,
        )
        for i, line in enumerate(lines, start=1)
    ]


# --- reads -------------------------------------------------------------------------------------


def visible(scope: EffectiveScope, user_id: str) -> ColumnElement[bool]:
    """Rows the caller may read: issuer's or recipient's path in the scope of `billing.read`, or
    the caller's own (a user recipient)."""
    clauses = [
        scope.filter(READ, InvoiceRow.issuer_path),
        scope.filter(READ, InvoiceRow.recipient_path),
    ]
    if user_id:
        clauses.append(InvoiceRow.recipient_user_id == user_id)
    return or_(*clauses)


def _require(scope: EffectiveScope, user_id: str, row: InvoiceRow, permission: str) -> None:
    """NOT_FOUND when the caller cannot see the document; PERMISSION_DENIED when it sees it
    without `permission` where it counts (the issuer, for writes)."""
    name = invoice_name(row.id)
    if permission == READ:
        if user_id and row.recipient_user_id == user_id:
            return
        if scope.can(READ, row.issuer_path, (name,)) or scope.can(READ, row.recipient_path, (name,)):
            return
    elif scope.can(MANAGE, row.issuer_path, (name,)):
        return
    readable = (user_id and row.recipient_user_id == user_id) or any(
        scope.visible(path, (name,)) for path in (row.issuer_path, row.recipient_path)
    )
    if readable:
        raise PermissionDenied(permission, name)
    raise NotFound(name)


async def _lines(session: AsyncSession, invoice_id: str) -> list[InvoiceLineRow]:
    query = select(InvoiceLineRow).where(InvoiceLineRow.invoice_id == invoice_id)
    return list((await session.execute(query.order_by(InvoiceLineRow.position))).scalars())


async def _row(session: AsyncSession, invoice_id: str, *, for_update: bool = False) -> InvoiceRow:
    query = select(InvoiceRow).where(InvoiceRow.id == invoice_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(invoice_name(invoice_id))
    return row


async def get_in_scope(
    session: AsyncSession, scope: EffectiveScope, user_id: str, invoice_id: str
) -> Invoice:
    """A document the caller may read, with its lines."""
    row = await _row(session, invoice_id)
    _require(scope, user_id, row, READ)
    return Invoice(row, await _lines(session, invoice_id))


async def list_visible(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    where: ColumnElement[bool],
    *,
    limit: int,
    after: str | None,
) -> list[Invoice]:
    """Documents the caller may read, oldest first (by id), up to `limit`, with their lines."""
    if not scope.grants_for(READ) and not user_id:
        raise PermissionDenied(READ)
    query = select(InvoiceRow).where(visible(scope, user_id), where)
    if after is not None:
        query = query.where(InvoiceRow.id > after)
    rows = list((await session.execute(query.order_by(InvoiceRow.id).limit(limit))).scalars())
    if not rows:
        return []
    found = select(InvoiceLineRow).where(InvoiceLineRow.invoice_id.in_([r.id for r in rows]))
    by_invoice: dict[str, list[InvoiceLineRow]] = {}
    for line in (await session.execute(found.order_by(InvoiceLineRow.position))).scalars():
        by_invoice.setdefault(line.invoice_id, []).append(line)
    return [Invoice(r, by_invoice.get(r.id, [])) for r in rows]


# --- drafts ------------------------------------------------------------------------------------


def draft_row(issuer: Owner, recipient: Owner, spec: DraftSpec) -> InvoiceRow:
    """A new draft's row from `issuer` to `recipient` (no permission check: the caller's job).
    Pure: no I/O."""
    kind = recipient_kind(recipient)
    _check_self_billing(kind, spec)
    now = utcnow()
    return InvoiceRow(
        id=new_id(),
        kind="INVOICE",
        status="DRAFT",
        issuer_id=issuer.tenant_id,
        issuer_path=issuer.path,
        issuer_name=issuer.display_name,
        recipient_kind=kind,
        recipient_tenant_id=recipient.tenant_id,
        recipient_path=recipient.path,
        recipient_user_id=recipient.name.removeprefix("users/") if kind in ("EMPLOYEE", "PRIVATE") else "",
        recipient_name=recipient.display_name,
        self_billed=spec.self_billed,
        currency=spec.currency,
        locale=spec.locale,
        due_date=spec.due_date,
        breakdown=[],
        revision=1,
        create_time=now,
        update_time=now,
    )


async def create_draft(
    session: AsyncSession, scope: EffectiveScope, issuer: Owner, recipient: Owner, spec: DraftSpec
) -> Invoice:
    """A new draft invoice from `issuer` (`billing.manage` there) to `recipient`."""
    scope.require(MANAGE, issuer.path, issuer.name)
    if issuer.kind not in ISSUER_KINDS:
        raise InvalidArgument.field("parent", "the issuer must be the operator or a partner")
    row = draft_row(issuer, recipient, spec)
    session.add(row)
    await session.flush()
    lines = line_rows(row.id, spec.currency, spec.lines)
    session.add_all(lines)
    await session.flush()
    return Invoice(row, lines)


def _check_etag(row: InvoiceRow, etag: str) -> None:
    if etag and etag != str(row.revision):
        raise Aborted(
            f"{invoice_name(row.id)} was changed by someone else (etag {etag} is stale); read it again",
            reason="ETAG_MISMATCH",
        )


def _require_draft(row: InvoiceRow, action: str) -> None:
    if row.status != "DRAFT":
        raise FailedPrecondition(
            f"{invoice_name(row.id)} is {row.status.lower()}: a finalized document is never "
            f"{action}; correct it with a credit note",
            reason="INVOICE_FINALIZED",
        )


async def _for_write(
    session: AsyncSession, scope: EffectiveScope, user_id: str, invoice_id: str, etag: str = ""
) -> InvoiceRow:
    row = await _row(session, invoice_id, for_update=True)
    _require(scope, user_id, row, MANAGE)
    _check_etag(row, etag)
    return row


async def update_draft(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    invoice_id: str,
    spec: DraftSpec,
    paths: set[str],
    *,
    etag: str = "",
) -> Invoice:
    """Change the fields of a draft named in `paths` (`billing.manage` at the issuer);
    FAILED_PRECONDITION once finalized."""
    row = await _for_write(session, scope, user_id, invoice_id, etag)
    _require_draft(row, "edited")
    lines = (
        spec.lines if "lines" in paths else tuple(_spec_of(line) for line in await _lines(session, row.id))
    )
    merged = DraftSpec(
        currency=spec.currency if "currency" in paths else row.currency,
        locale=spec.locale if "locale" in paths else row.locale,
        due_date=spec.due_date if "due_date" in paths else row.due_date,
        self_billed=spec.self_billed if "self_billed" in paths else row.self_billed,
        lines=lines,
    )
    _check_self_billing(row.recipient_kind, merged)
    row.currency, row.locale, row.due_date = merged.currency, merged.locale, merged.due_date
    row.self_billed = merged.self_billed
    row.revision += 1
    row.update_time = utcnow()
    if "lines" in paths or "currency" in paths:
        # Nets are rounded in the draft's currency: a new currency re-rounds every line.
        await session.execute(delete(InvoiceLineRow).where(InvoiceLineRow.invoice_id == row.id))
        session.add_all(line_rows(row.id, row.currency, lines))
    await session.flush()
    return Invoice(row, await _lines(session, row.id))


def _spec_of(line: InvoiceLineRow) -> LineSpec:
    return LineSpec(
        description=line.description,
        quantity=Decimal(line.quantity),
        unit=line.unit,
        unit_price=Decimal(line.unit_price),
        vat_rate=Decimal(line.vat_rate),
        vat_country=line.vat_country,
        charge_records=tuple(line.charge_records),
        period_start=line.period_start,
        period_end=line.period_end,
    )


async def delete_draft(
    session: AsyncSession, scope: EffectiveScope, user_id: str, invoice_id: str, *, etag: str = ""
) -> InvoiceRow:
    """Delete a draft and its lines (`billing.manage` at the issuer); FAILED_PRECONDITION once
    finalized (a finalized document is kept for ever)."""
    row = await _for_write(session, scope, user_id, invoice_id, etag)
    _require_draft(row, "deleted")
    await session.execute(delete(InvoiceLineRow).where(InvoiceLineRow.invoice_id == row.id))
    await session.delete(row)
    await session.flush()
    return row


# --- finalizing --------------------------------------------------------------------------------


async def assign_number(
    session: AsyncSession, row: InvoiceRow, lines: Sequence[InvoiceLineRow], today: dt.date
) -> None:
    """Finalize `row`: totals per EN 16931, then the next number of the issuer's series, in the
    caller's transaction (no checks: the caller's job)."""
    result = draft_totals(lines)
    row.net_minor, row.vat_minor = result.net_minor, result.vat_minor
    row.breakdown = [
        {
            "vat_country": g.vat_country,
            "vat_rate": str(g.vat_rate),
            "taxable_minor": g.taxable_minor,
            "vat_minor": g.vat_minor,
        }
        for g in result.breakdown
    ]
    row.series = numbering.series_of(row.kind, today)
    row.sequence = await numbering.allocate(session, row.issuer_id, row.series)
    row.number = numbering.format_number(row.series, row.sequence)
    row.issue_date = today
    if row.due_date is None:
        row.due_date = today + DEFAULT_TERM
    row.status = "FINALIZED"
    row.finalize_time = utcnow()
    row.revision += 1
    row.update_time = row.finalize_time


async def finalize(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    invoice_id: str,
    *,
    today: dt.date,
    etag: str = "",
) -> Invoice:
    """Finalize a draft (`billing.manage` at the issuer): totals per EN 16931 and the issuer's next
    gapless number, in this transaction."""
    row = await _for_write(session, scope, user_id, invoice_id, etag)
    if row.status != "DRAFT":
        raise FailedPrecondition(
            f"{invoice_name(row.id)} is already {row.status.lower()}", reason="NOT_A_DRAFT"
        )
    lines = await _lines(session, row.id)
    if not lines:
        raise FailedPrecondition(f"{invoice_name(row.id)} has no lines", reason="EMPTY_INVOICE")
    if row.due_date is not None and row.due_date < today:
        raise FailedPrecondition(
            f"{invoice_name(row.id)} is due {row.due_date.isoformat()}, before today",
            reason="DUE_DATE_PASSED",
        )
    await assign_number(session, row, lines, today)
    await session.flush()
    return Invoice(row, lines)


@dataclass(frozen=True)
class CreditLine:
    """Credit `quantity` of line `position` of the invoice (None: what is left of it)."""

    position: int
    quantity: Decimal | None = None


async def _credited(session: AsyncSession, invoice_id: str) -> dict[int, Decimal]:
    """Quantity already credited per invoice line, by the invoice's credit notes."""
    query = (
        select(InvoiceLineRow.credits_line, InvoiceLineRow.quantity)
        .join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
        .where(InvoiceRow.credits == invoice_id)
    )
    out: dict[int, Decimal] = {}
    for position, quantity in (await session.execute(query)).all():
        out[position] = out.get(position, Decimal(0)) + Decimal(quantity)
    return out


async def credit(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    invoice_id: str,
    lines: Sequence[CreditLine],
    *,
    today: dt.date,
    reason: str = "",
) -> tuple[Invoice, Invoice]:
    """A finalized credit note for all that is left of a finalized invoice (`lines` empty) or for
    the given quantities of its lines (`billing.manage` at the issuer). The invoice turns VOID
    once every line is fully credited. Returns (credit note, invoice)."""
    invoice = await _for_write(session, scope, user_id, invoice_id)
    if invoice.kind != "INVOICE" or invoice.status not in ("FINALIZED", "PAID"):
        raise FailedPrecondition(
            f"{invoice_name(invoice.id)} is {invoice.status.lower()}: only a finalized invoice is credited",
            reason="NOT_CREDITABLE",
        )
    originals = {line.position: line for line in await _lines(session, invoice.id)}
    done = await _credited(session, invoice.id)
    left = {p: Decimal(line.quantity) - done.get(p, Decimal(0)) for p, line in originals.items()}
    wanted = lines or [CreditLine(p) for p in originals if left[p] > 0]
    specs: list[tuple[int, LineSpec]] = []
    for i, item in enumerate(wanted):
        where = f"lines[{i}]"
        if item.position not in originals:
            raise InvalidArgument.field(f"{where}.invoice_line", f"the invoice has no line {item.position}")
        quantity = left[item.position] if item.quantity is None else item.quantity
        if quantity <= 0 or quantity > left[item.position]:
            raise InvalidArgument.field(
                f"{where}.quantity",
                f"must be more than 0 and at most {left[item.position]} (not yet credited)",
            )
        left[item.position] -= quantity
        original = _spec_of(originals[item.position])
        specs.append((item.position, replace(original, quantity=quantity, unit_price=-original.unit_price)))
    if not specs:
        raise FailedPrecondition(
            f"{invoice_name(invoice.id)} is already fully credited", reason="FULLY_CREDITED"
        )
    now = utcnow()
    note = InvoiceRow(
        **{
            c.key: getattr(invoice, c.key)
            for c in InvoiceRow.__table__.columns  # type: ignore[attr-defined]
            if c.key.startswith(("issuer_", "recipient_")) or c.key in ("self_billed", "currency", "locale")
        },
        id=new_id(),
        kind="CREDIT_NOTE",
        status="DRAFT",
        credits=invoice.id,
        due_date=today,
        breakdown=[],
        revision=1,
        create_time=now,
        update_time=now,
    )
    session.add(note)
    await session.flush()
    note_lines = line_rows(note.id, note.currency, [spec for _, spec in specs])
    for line, (position, _) in zip(note_lines, specs, strict=True):
        line.credits_line = position
        if reason:
            line.description = f"{line.description} ({reason})"
    session.add_all(note_lines)
    await session.flush()
    await assign_number(session, note, note_lines, today)
    invoice.credited_minor -= note.net_minor + note.vat_minor
    if all(q <= 0 for q in left.values()):
        invoice.status = "VOID"
    invoice.revision += 1
    invoice.update_time = now
    await session.flush()
    return Invoice(note, note_lines), Invoice(invoice, list(originals.values()))


# --- payments ----------------------------------------------------------------------------------


async def mark_paid(
    session: AsyncSession,
    scope: EffectiveScope,
    user_id: str,
    invoice_id: str,
    *,
    paid_time: dt.datetime,
    payment_reference: str = "",
    etag: str = "",
) -> Invoice:
    """Mark a finalized invoice paid (`billing.manage` at the issuer)."""
    row = await _for_write(session, scope, user_id, invoice_id, etag)
    if row.status != "FINALIZED":
        raise FailedPrecondition(
            f"{invoice_name(row.id)} is {row.status.lower()}: only a finalized, unpaid document "
            "is marked paid",
            reason="NOT_PAYABLE",
        )
    row.status = "PAID"
    row.paid_time = paid_time
    row.payment_reference = payment_reference
    row.revision += 1
    row.update_time = utcnow()
    await session.flush()
    return Invoice(row, await _lines(session, row.id))


@dataclass(frozen=True)
class Payment:
    """A credit line of a bank statement."""

    end_to_end_id: str
    amount_minor: int
    currency: str
    booked: dt.datetime


@dataclass(frozen=True)
class Match:
    """What became of one statement line (`outcome` as PaymentMatch.Outcome names it)."""

    end_to_end_id: str
    outcome: str
    invoice: str = ""
    detail: str = ""


async def import_payments(
    session: AsyncSession, scope: EffectiveScope, issuer: Owner, payments: Sequence[Payment]
) -> list[Match]:
    """Mark paid the issuer's finalized invoices the statement lines pay (`billing.manage` at the
    issuer): the end-to-end id is the invoice number (what our SEPA collections and invoices
    quote), and amount and currency must be the invoice's total. Anything else is reported."""
    scope.require(MANAGE, issuer.path, issuer.name)
    numbers = sorted({p.end_to_end_id for p in payments})
    query = (
        select(InvoiceRow)
        .where(InvoiceRow.issuer_id == issuer.tenant_id, InvoiceRow.number.in_(numbers))
        .with_for_update()
    )
    by_number = {row.number: row for row in (await session.execute(query)).scalars()}
    out = []
    now = utcnow()
    for payment in payments:
        row = by_number.get(payment.end_to_end_id)
        if row is None:
            out.append(
                Match(
                    payment.end_to_end_id,
                    "UNKNOWN_INVOICE",
                    detail="no invoice of the issuer has this number",
                )
            )
            continue
        name = invoice_name(row.id)
        if row.status == "PAID" and row.payment_reference == payment.end_to_end_id:
            out.append(Match(payment.end_to_end_id, "ALREADY_PAID", name))
        elif row.kind != "INVOICE" or row.status != "FINALIZED":
            out.append(
                Match(payment.end_to_end_id, "NOT_PAYABLE", name, f"the document is {row.status.lower()}")
            )
        elif payment.currency != row.currency or payment.amount_minor != row.net_minor + row.vat_minor:
            due = money.format_minor(row.net_minor + row.vat_minor, row.currency)
            got = money.format_minor(payment.amount_minor, payment.currency)
            out.append(
                Match(
                    payment.end_to_end_id,
                    "AMOUNT_MISMATCH",
                    name,
                    f"{got} {payment.currency} paid, {due} {row.currency} due",
                )
            )
        else:
            row.status = "PAID"
            row.paid_time = payment.booked
            row.payment_reference = payment.end_to_end_id
            row.revision += 1
            row.update_time = now
            out.append(Match(payment.end_to_end_id, "MATCHED", name))
    await session.flush()
    return out


def is_overdue(row: InvoiceRow, today: dt.date) -> bool:
    """A finalized invoice still unpaid after its due date."""
    return (
        row.kind == "INVOICE"
        and row.status == "FINALIZED"
        and row.due_date is not None
        and row.due_date < today
    )


async def count_in_series(session: AsyncSession, issuer_id: str, series: str) -> int:
    """How many documents an issuer's series holds (for checks of gaplessness)."""
    query = select(func.count()).where(InvoiceRow.issuer_id == issuer_id, InvoiceRow.series == series)
    return int((await session.execute(query)).scalar_one())
