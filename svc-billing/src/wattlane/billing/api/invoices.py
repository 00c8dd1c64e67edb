"""InvoiceService: invoices and credit notes (proto ⇄ domain; the rules are in
`wattlane.billing.invoices`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.billing.v1 import invoices_pb2, invoices_pb2_grpc
from wattlane.billing import invoice_files, invoices, money
from wattlane.billing.invoices import Invoice
from wattlane.billing.models import InvoiceRow
from wattlane.billing.runtime import Runtime
from wattlane.core import validation
from wattlane.core.caller import Caller, current_caller
from wattlane.core.clock import utcnow
from wattlane.core.currencies import is_currency
from wattlane.core.errors import FieldViolation, InvalidArgument, NotFound
from wattlane.core.fieldmasks import mask_paths
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name
from wattlane.core.paging import Page
from wattlane.core.timestamps import optional_instant, to_timestamp

MAX_PAGE = 500
MAX_LINES = 10_000
PDF_CHUNK = 64 * 1024
UPDATABLE = ("currency", "locale", "due_date", "self_billed", "lines")
UNITS = ("kWh", "h", "min", "month", "piece", "session")


def _tenant_id(raw: str) -> str:
    return raw.removeprefix("tenants/")


R = InvoiceRow
FILTERS = {
    "state": Field(R.status, "enum", invoices.STATUSES),
    "kind": Field(R.kind, "enum", invoices.KINDS),
    "recipient": Field(R.recipient_tenant_id, convert=_tenant_id),
    "issuer": Field(R.issuer_id, convert=_tenant_id),
    "currency": Field(R.currency),
    "number": Field(R.number),
}


def _user_id(caller: Caller) -> str:
    return "" if caller.principal.is_service else caller.principal.subject


def _date(text: str, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument.field(field, f"must be a date YYYY-MM-DD, got {text[:20]!r}") from None


def _decimal(found: list[FieldViolation], text: str, field: str, *, maximum: Decimal) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        found.append(FieldViolation(field, "must be a decimal number"))
        return Decimal(0)
    if not value.is_finite() or value < 0 or value > maximum:
        found.append(FieldViolation(field, f"must be a number from 0 to {maximum}"))
        return Decimal(0)
    return value


def line_specs(lines: list[invoices_pb2.InvoiceLine], prefix: str) -> tuple[invoices.LineSpec, ...]:
    """Validated lines, every bad field named (`invoice.lines[2].vat_rate`)."""
    if len(lines) > MAX_LINES:
        raise InvalidArgument.field(prefix, f"at most {MAX_LINES} lines")
    found: list[FieldViolation] = []
    out = []
    for i, line in enumerate(lines):
        at = f"{prefix}[{i}]"
        description = line.description.strip()
        if not description or len(description) > 500:
            found.append(FieldViolation(f"{at}.description", "is required (at most 500 characters)"))
        if line.unit not in UNITS:
            found.append(FieldViolation(f"{at}.unit", f"must be one of {', '.join(UNITS)}"))
        quantity = _decimal(found, line.quantity, f"{at}.quantity", maximum=Decimal(10) ** 9)
        price = _decimal(found, line.unit_price, f"{at}.unit_price", maximum=Decimal(10) ** 9)
        rate = _decimal(found, line.vat_rate, f"{at}.vat_rate", maximum=Decimal(100))
        try:
            country = validation.country(line.vat_country, f"{at}.vat_country")
        except InvalidArgument as error:
            found.extend(error.violations)
            country = ""
        records = []
        for j, record in enumerate(line.charge_records):
            try:
                records.append(
                    f"chargeRecords/{parse_name(record, 'chargeRecords', f'{at}.charge_records[{j}]')}"
                )
            except InvalidArgument as error:
                found.extend(error.violations)
        start = _date(line.period_start, f"{at}.period_start")
        end = _date(line.period_end, f"{at}.period_end")
        if start and end and end < start:
            found.append(FieldViolation(f"{at}.period_end", "must not be before period_start"))
        out.append(
            invoices.LineSpec(
                description, quantity, line.unit, price, rate, country, tuple(records), start, end
            )
        )
    if found:
        raise InvalidArgument(found)
    return tuple(out)


def draft_spec(message: invoices_pb2.Invoice, paths: set[str] | None = None) -> invoices.DraftSpec:
    """The draft fields of `invoice` (only those in `paths` when updating), validated."""

    def wanted(name: str) -> bool:
        return paths is None or name in paths

    currency = message.currency
    if wanted("currency") and not is_currency(currency):
        raise InvalidArgument.field("invoice.currency", f"unknown ISO 4217 currency {currency[:8]!r}")
    locale = message.locale or "en"
    if wanted("locale"):
        validation.locale(locale, "invoice.locale")
        if invoice_files.language(locale) is None:
            raise InvalidArgument.field(
                "invoice.locale", f"documents are written in {', '.join(invoice_files.LANGUAGES)}"
            )
    lines = line_specs(list(message.lines), "invoice.lines") if wanted("lines") else ()
    return invoices.DraftSpec(
        currency=currency,
        locale=locale,
        due_date=_date(message.due_date, "invoice.due_date") if wanted("due_date") else None,
        self_billed=message.self_billed,
        lines=lines,
    )


def statement_payments(lines: list[invoices_pb2.StatementPayment]) -> list[invoices.Payment]:
    """Validated statement lines, every bad field named (`payments[3].amount`)."""
    if not lines:
        raise InvalidArgument.field("payments", "give at least one statement line")
    if len(lines) > MAX_LINES:
        raise InvalidArgument.field("payments", f"at most {MAX_LINES} lines per import")
    found: list[FieldViolation] = []
    out = []
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    for i, line in enumerate(lines):
        at = f"payments[{i}]"
        reference = line.end_to_end_id.strip()
        if not reference or len(reference) > 35:
            found.append(
                FieldViolation(f"{at}.end_to_end_id", "is required (a SEPA id has at most 35 characters)")
            )
        if not is_currency(line.currency):
            found.append(FieldViolation(f"{at}.currency", f"unknown ISO 4217 currency {line.currency[:8]!r}"))
        paid = _decimal(found, line.amount, f"{at}.amount", maximum=Decimal(10) ** 12)
        minor = money.to_minor(paid, line.currency) if is_currency(line.currency) else 0
        if is_currency(line.currency) and money.from_minor(minor, line.currency) != paid:
            found.append(FieldViolation(f"{at}.amount", f"has more digits than {line.currency} has"))
        day = _date(line.booking_date, f"{at}.booking_date")
        booked = dt.datetime.combine(day, dt.time(), dt.UTC) if day else today
        out.append(invoices.Payment(reference, minor, line.currency, booked))
    if found:
        raise InvalidArgument(found)
    return out


def invoice_message(invoice: Invoice, today: dt.date) -> invoices_pb2.Invoice:
    """A document as the API shows it."""
    row = invoice.row
    totals = invoices.draft_totals(invoice.lines) if row.status == "DRAFT" else None
    net = totals.net_minor if totals else row.net_minor
    vat = totals.vat_minor if totals else row.vat_minor
    message = invoices_pb2.Invoice(
        name=invoice.name,
        kind=invoices_pb2.InvoiceKind.Value(row.kind),
        state=invoices_pb2.InvoiceState.Value(row.status),
        overdue=invoices.is_overdue(row, today),
        parent=f"tenants/{row.issuer_id}",
        issuer_display_name=row.issuer_name,
        recipient=f"users/{row.recipient_user_id}"
        if row.recipient_user_id
        else f"tenants/{row.recipient_tenant_id}",
        recipient_kind=invoices_pb2.RecipientKind.Value(row.recipient_kind),
        recipient_display_name=row.recipient_name,
        self_billed=row.self_billed,
        currency=row.currency,
        locale=row.locale,
        number=row.number,
        issue_date=row.issue_date.isoformat() if row.issue_date else "",
        due_date=row.due_date.isoformat() if row.due_date else "",
        credits=invoices.invoice_name(row.credits) if row.credits else "",
        net_minor=net,
        vat_minor=vat,
        total_minor=net + vat,
        total_amount=money.format_minor(net + vat, row.currency),
        credited_minor=row.credited_minor,
        create_time=to_timestamp(row.create_time),
        update_time=to_timestamp(row.update_time),
        finalize_time=to_timestamp(row.finalize_time),
        paid_time=to_timestamp(row.paid_time),
        payment_reference=row.payment_reference,
        etag=str(row.revision),
    )
    for line in invoice.lines:
        message.lines.add(
            position=line.position,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            net_minor=line.net_minor,
            net_amount=money.format_minor(line.net_minor, row.currency),
            vat_rate=line.vat_rate,
            vat_country=line.vat_country,
            charge_records=line.charge_records,
            period_start=line.period_start.isoformat() if line.period_start else "",
            period_end=line.period_end.isoformat() if line.period_end else "",
            credits_line=line.credits_line,
        )
    for group in row.breakdown:
        message.vat_breakdown.add(**group)
    return message


def _after(page: Page) -> str | None:
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, str):
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key


def _today() -> dt.date:
    return utcnow().date()


class InvoiceServicer(invoices_pb2_grpc.InvoiceServiceServicer):
    """Invoices and credit notes: drafts, gapless finalization, credit notes, payments, files."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _read(self, name: str) -> Invoice:
        invoice_id = parse_name(name, "invoices")
        caller = current_caller()
        scope = await caller.scope()
        async with self.rt.db.reader() as session:
            return await invoices.get_in_scope(session, scope, _user_id(caller), invoice_id)

    async def GetInvoice(
        self, request: invoices_pb2.GetInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.Invoice:
        """Gets an invoice or credit note (`billing.read` at issuer or recipient, or its user
        recipient)."""
        return invoice_message(await self._read(request.name), _today())

    async def ListInvoices(
        self, request: invoices_pb2.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.ListInvoicesResponse:
        """Lists visible invoices and credit notes, oldest first, one page."""
        call = await list_call(request, "ListInvoices", filter_fields=FILTERS)
        page = call.page
        if page.size > MAX_PAGE:
            page = type(page)(MAX_PAGE, page.after, page.binding)
        async with self.rt.db.reader() as session:
            rows = await invoices.list_visible(
                session,
                call.scope,
                _user_id(call.caller),
                call.where,
                limit=page.size + 1,
                after=_after(page),
            )
        today = _today()
        return invoices_pb2.ListInvoicesResponse(
            invoices=[invoice_message(r, today) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.row.id),
        )

    async def CreateInvoice(
        self, request: invoices_pb2.CreateInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.Invoice:
        """Creates a draft invoice issued by `parent` (`billing.manage` there) to
        `invoice.recipient` (`tenants/{id}` or `users/{id}`)."""
        parse_name(request.parent, "tenants", "parent")
        recipient_name = request.invoice.recipient
        if not recipient_name.startswith(("tenants/", "users/")):
            raise InvalidArgument.field("invoice.recipient", "must be tenants/{id} or users/{id}")
        parse_name(recipient_name, recipient_name.split("/", 1)[0], "invoice.recipient")
        spec = draft_spec(request.invoice)
        scope = await current_caller().scope()
        issuer = await self.rt.directory.owner(request.parent)
        if not scope.visible(issuer.path):
            raise NotFound(request.parent)
        recipient = await self.rt.directory.owner(recipient_name)
        if not recipient.path.startswith(issuer.path):
            # An issuer bills its own branch; a name outside it is, to this issuer, unknown.
            raise NotFound(recipient_name)

        async def write(session: AsyncSession) -> invoices_pb2.Invoice:
            created = await invoices.create_draft(session, scope, issuer, recipient, spec)
            await self.rt.audit.record(
                session,
                resource=created.name,
                tenant_path=created.row.issuer_path,
                changes={"state": "DRAFT", "recipient": recipient_name, "lines": len(spec.lines)},
            )
            return invoice_message(created, _today())

        return await self.rt.idempotency.once(request, invoices_pb2.Invoice, write)

    async def UpdateInvoice(
        self, request: invoices_pb2.UpdateInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.Invoice:
        """Changes a draft's fields in `update_mask` (`billing.manage` at the issuer);
        FAILED_PRECONDITION once finalized."""
        invoice_id = parse_name(request.invoice.name, "invoices", "invoice.name")
        paths = {p.split(".", 1)[0] for p in mask_paths(request.update_mask, UPDATABLE)}
        spec = draft_spec(request.invoice, paths)
        caller = current_caller()
        scope = await caller.scope()

        async def write(session: AsyncSession) -> invoices_pb2.Invoice:
            updated = await invoices.update_draft(
                session, scope, _user_id(caller), invoice_id, spec, paths, etag=request.invoice.etag
            )
            await self.rt.audit.record(
                session, resource=updated.name, tenant_path=updated.row.issuer_path, changes=sorted(paths)
            )
            return invoice_message(updated, _today())

        return await self.rt.idempotency.once(request, invoices_pb2.Invoice, write)

    async def DeleteInvoice(
        self, request: invoices_pb2.DeleteInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Deletes a draft (`billing.manage` at the issuer); FAILED_PRECONDITION once finalized."""
        invoice_id = parse_name(request.name, "invoices")
        caller = current_caller()
        scope = await caller.scope()

        async def write(session: AsyncSession) -> empty_pb2.Empty:
            row = await invoices.delete_draft(session, scope, _user_id(caller), invoice_id, etag=request.etag)
            await self.rt.audit.record(
                session, resource=request.name, tenant_path=row.issuer_path, changes=["delete"]
            )
            return empty_pb2.Empty()

        return await self.rt.idempotency.once(request, empty_pb2.Empty, write)

    async def FinalizeInvoice(
        self, request: invoices_pb2.FinalizeInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.Invoice:
        """Finalizes a draft: EN 16931 totals and the issuer's next gapless number, in one
        transaction (`billing.manage` at the issuer)."""
        invoice_id = parse_name(request.name, "invoices")
        caller = current_caller()
        scope = await caller.scope()

        async def write(session: AsyncSession) -> invoices_pb2.Invoice:
            final = await invoices.finalize(
                session, scope, _user_id(caller), invoice_id, today=_today(), etag=request.etag
            )
            await self.rt.audit.record(
                session,
                resource=final.name,
                tenant_path=final.row.issuer_path,
                changes={"state": "FINALIZED", "number": final.row.number},
            )
            return invoice_message(final, _today())

        return await self.rt.idempotency.once(request, invoices_pb2.Invoice, write)

    async def MarkInvoicePaid(
        self, request: invoices_pb2.MarkInvoicePaidRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.Invoice:
        """Marks a finalized document paid (`billing.manage` at the issuer)."""
        invoice_id = parse_name(request.name, "invoices")
        paid = optional_instant(request, "paid_time", "paid_time") or utcnow()
        if paid > utcnow() + dt.timedelta(minutes=5):
            raise InvalidArgument.field("paid_time", "must not be in the future")
        reference = validation.text(
            request.payment_reference, "payment_reference", max_length=140, required=False
        )
        caller = current_caller()
        scope = await caller.scope()

        async def write(session: AsyncSession) -> invoices_pb2.Invoice:
            done = await invoices.mark_paid(
                session,
                scope,
                _user_id(caller),
                invoice_id,
                paid_time=paid,
                payment_reference=reference,
                etag=request.etag,
            )
            await self.rt.audit.record(
                session,
                resource=done.name,
                tenant_path=done.row.issuer_path,
                changes={"state": "PAID", "payment_reference": reference},
            )
            return invoice_message(done, _today())

        return await self.rt.idempotency.once(request, invoices_pb2.Invoice, write)

    async def CreateCreditNote(
        self, request: invoices_pb2.CreateCreditNoteRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.CreateCreditNoteResponse:
        """Credits a finalized invoice fully (no `lines`) or partly with a finalized credit note
        (`billing.manage` at the issuer); the invoice is VOID once fully credited."""
        invoice_id = parse_name(request.invoice, "invoices", "invoice")
        found: list[FieldViolation] = []
        parts = []
        for i, line in enumerate(request.lines):
            quantity = None
            if line.quantity:
                quantity = _decimal(found, line.quantity, f"lines[{i}].quantity", maximum=Decimal(10) ** 9)
            if line.invoice_line < 1:
                found.append(
                    FieldViolation(f"lines[{i}].invoice_line", "must be a line position (1, 2, ...)")
                )
            parts.append(invoices.CreditLine(line.invoice_line, quantity))
        if found:
            raise InvalidArgument(found)
        reason = validation.text(request.reason, "reason", max_length=200, required=False)
        caller = current_caller()
        scope = await caller.scope()

        async def write(session: AsyncSession) -> invoices_pb2.CreateCreditNoteResponse:
            note, invoice = await invoices.credit(
                session, scope, _user_id(caller), invoice_id, parts, today=_today(), reason=reason
            )
            for document, changes in (
                (note, {"state": "FINALIZED", "number": note.row.number, "credits": invoice.name}),
                (invoice, {"state": invoice.row.status, "credited_minor": invoice.row.credited_minor}),
            ):
                await self.rt.audit.record(
                    session, resource=document.name, tenant_path=document.row.issuer_path, changes=changes
                )
            today = _today()
            return invoices_pb2.CreateCreditNoteResponse(
                credit_note=invoice_message(note, today), invoice=invoice_message(invoice, today)
            )

        return await self.rt.idempotency.once(request, invoices_pb2.CreateCreditNoteResponse, write)

    async def ImportPayments(
        self, request: invoices_pb2.ImportPaymentsRequest, context: grpc.aio.ServicerContext
    ) -> invoices_pb2.ImportPaymentsResponse:
        """Marks paid the issuer's finalized invoices that bank statement lines pay (end-to-end id
        = invoice number, amount and currency = its total); reports every other line
        (`billing.manage` at the issuer)."""
        parse_name(request.parent, "tenants", "parent")
        payments = statement_payments(list(request.payments))
        scope = await current_caller().scope()
        issuer = await self.rt.directory.owner(request.parent)
        if not scope.visible(issuer.path):
            raise NotFound(request.parent)

        async def write(session: AsyncSession) -> invoices_pb2.ImportPaymentsResponse:
            matches = await invoices.import_payments(session, scope, issuer, payments)
            for match in matches:
                if match.outcome == "MATCHED":
                    await self.rt.audit.record(
                        session,
                        resource=match.invoice,
                        tenant_path=issuer.path,
                        changes={"state": "PAID", "payment_reference": match.end_to_end_id},
                    )
            return invoices_pb2.ImportPaymentsResponse(
                matches=[
                    invoices_pb2.PaymentMatch(
                        end_to_end_id=m.end_to_end_id,
                        outcome=invoices_pb2.PaymentMatch.Outcome.Value(m.outcome),
                        invoice=m.invoice,
                        detail=m.detail,
                    )
                    for m in matches
                ]
            )

        return await self.rt.idempotency.once(request, invoices_pb2.ImportPaymentsResponse, write)

    async def ExportInvoiceLines(
        self, request: invoices_pb2.ExportInvoiceLinesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[invoices_pb2.ExportInvoiceLinesResponse]:
        """Streams an invoice's lines as CSV (header first; amounts as decimals of the currency)."""
        invoice = await self._read(request.name)
        yield invoices_pb2.ExportInvoiceLinesResponse(csv=invoice_files.lines_csv(invoice))

    async def RenderInvoice(
        self, request: invoices_pb2.RenderInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[invoices_pb2.RenderInvoiceResponse]:
        """Streams an invoice as a PDF in its locale under its issuer's brand."""
        invoice = await self._read(request.name)
        pdf = invoice_files.pdf(invoice, _today())
        for start in range(0, len(pdf), PDF_CHUNK):
            yield invoices_pb2.RenderInvoiceResponse(pdf=pdf[start : start + PDF_CHUNK])
