"""wattlane invoices list | show | finalize | pdf | csv | credit | mark-paid | import-payments:
billing's invoices and credit notes as their issuer or recipient sees them.

`credit` corrects a finalized invoice with a credit note: everything not yet credited, or with
`--line POSITION[:QUANTITY]` (repeatable) part of its lines. `import-payments` marks paid what a
bank statement's lines pay (their SEPA end-to-end id is the invoice number). The billing address
is the one stored by `wattlane login` (WATTLANE_BILLING_ADDRESS overrides it)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path

from wattlane.api.billing.v1 import invoices_pb2
from wattlane.cli.clients import billing_client
from wattlane.cli.output import as_json, output_flags, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.currencies import minor_units

I = invoices_pb2  # noqa: E741 (short for the many messages)


def state_of(invoice: I.Invoice) -> str:
    """The state as people read it: draft, finalized (or overdue), paid, void."""
    if invoice.overdue:
        return "overdue"
    return I.InvoiceState.Name(invoice.state).lower()


def kind_of(invoice: I.Invoice) -> str:
    """invoice, credit note or self-billed."""
    if invoice.kind == I.CREDIT_NOTE:
        return "credit note"
    return "self-billed" if invoice.self_billed else "invoice"


def amount(minor: int, currency: str) -> str:
    """Minor units as a decimal with the currency code ("6.05 EUR", "605 JPY")."""
    return f"{Decimal(minor).scaleb(-minor_units(currency)):f} {currency}"


def credit_lines(specs: list[str]) -> list[I.CreditLine]:
    """`--line 2` (all that is left of line 2) or `--line 2:1.5` as CreditLines."""
    out = []
    for spec in specs:
        position, _, quantity = spec.partition(":")
        if not position.isdigit():
            raise SystemExit(f"--line wants POSITION or POSITION:QUANTITY, got {spec!r}")
        out.append(I.CreditLine(invoice_line=int(position), quantity=quantity))
    return out


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    clauses = [args.filter] if args.filter else []
    if args.state:
        clauses.append(f"state = {args.state.upper()}")
    found: list[I.Invoice] = []
    token = ""
    try:
        while True:
            page = await billing.invoices.ListInvoices(
                I.ListInvoicesRequest(filter=" AND ".join(clauses), page_size=500, page_token=token)
            )
            found.extend(page.invoices)
            token = page.next_page_token
            if not token:
                break
    finally:
        await billing.close()
    if args.json:
        print(as_json(found))
        return
    rows = [
        (
            i.name,
            i.number or "-",
            kind_of(i),
            state_of(i),
            i.recipient_display_name or i.recipient,
            amount(i.total_minor, i.currency),
            i.due_date or "-",
            i.issuer_display_name,
        )
        for i in found
    ]
    print(table(["name", "number", "kind", "state", "recipient", "total", "due", "issuer"], rows))


def _print(invoice: I.Invoice) -> None:
    title = f"{kind_of(invoice)} {invoice.number or '(draft)'}"
    print(
        f"{invoice.name}: {title}, {state_of(invoice)}, from {invoice.issuer_display_name} ({invoice.parent})"
    )
    print(f"  to {invoice.recipient_display_name} ({invoice.recipient}), locale {invoice.locale}")
    if invoice.issue_date:
        print(f"  issued {invoice.issue_date}, due {invoice.due_date}")
    if invoice.credits:
        print(f"  corrects {invoice.credits}")
    if invoice.state == I.PAID:
        print(
            f"  paid {invoice.paid_time.ToDatetime():%Y-%m-%d}, reference {invoice.payment_reference or '-'}"
        )
    print(
        table(
            ["#", "description", "quantity", "unit price", "VAT %", "country", "net"],
            [
                (
                    ln.position,
                    ln.description,
                    f"{ln.quantity} {ln.unit}",
                    ln.unit_price,
                    ln.vat_rate,
                    ln.vat_country,
                    ln.net_amount,
                )
                for ln in invoice.lines
            ],
        )
    )
    currency = invoice.currency
    for group in invoice.vat_breakdown:
        print(
            f"  VAT {group.vat_rate}% ({group.vat_country}) on {amount(group.taxable_minor, currency)}: "
            f"{amount(group.vat_minor, currency)}"
        )
    print(
        f"  net {amount(invoice.net_minor, currency)}, VAT {amount(invoice.vat_minor, currency)}, "
        f"total {amount(invoice.total_minor, currency)}"
    )


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    try:
        invoice = await billing.invoices.GetInvoice(I.GetInvoiceRequest(name=resource("invoices", args.name)))
    finally:
        await billing.close()
    print(as_json(invoice)) if args.json else _print(invoice)


async def finalize(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    try:
        invoice = await billing.invoices.FinalizeInvoice(
            I.FinalizeInvoiceRequest(name=resource("invoices", args.name))
        )
    finally:
        await billing.close()
    print(as_json(invoice)) if args.json else _print(invoice)


async def pdf(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    name = resource("invoices", args.name)
    try:
        data = b"".join(
            [c.pdf async for c in billing.invoices.RenderInvoice(I.RenderInvoiceRequest(name=name))]
        )
    finally:
        await billing.close()
    target = Path(args.output or f"{name.replace('/', '-')}.pdf")
    await asyncio.to_thread(target.write_bytes, data)
    print(f"{name}: {len(data)} bytes written to {target}")


async def csv_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    name = resource("invoices", args.name)
    try:
        chunks = billing.invoices.ExportInvoiceLines(I.ExportInvoiceLinesRequest(name=name))
        data = b"".join([c.csv async for c in chunks])
    finally:
        await billing.close()
    if args.output:
        await asyncio.to_thread(Path(args.output).write_bytes, data)
        print(f"{name}: lines written to {args.output}")
    else:
        print(data.decode(), end="")


async def credit(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    request = I.CreateCreditNoteRequest(
        invoice=resource("invoices", args.name), lines=credit_lines(args.line or []), reason=args.reason or ""
    )
    try:
        done = await billing.invoices.CreateCreditNote(request)
    finally:
        await billing.close()
    if args.json:
        print(as_json(done))
        return
    _print(done.credit_note)
    print(f"{done.invoice.name} is now {state_of(done.invoice)}")


async def mark_paid(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    request = I.MarkInvoicePaidRequest(
        name=resource("invoices", args.name), payment_reference=args.reference or ""
    )
    try:
        invoice = await billing.invoices.MarkInvoicePaid(request)
    finally:
        await billing.close()
    print(as_json(invoice)) if args.json else _print(invoice)


STATEMENT_COLUMNS = ("end_to_end_id", "amount", "currency", "booking_date")


def statement(text: str) -> list[I.StatementPayment]:
    """A bank statement's credit lines from CSV with the columns end_to_end_id, amount, currency
    and (optional) booking_date, as a bank export or a converted camt.053 gives them."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in STATEMENT_COLUMNS[:3] if c not in (reader.fieldnames or [])]
    if missing:
        raise SystemExit(f"the statement needs the columns {', '.join(missing)}")
    return [
        I.StatementPayment(
            end_to_end_id=row["end_to_end_id"],
            amount=row["amount"],
            currency=row["currency"],
            booking_date=row.get("booking_date") or "",
        )
        for row in reader
    ]


async def import_payments(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    payments = statement(await asyncio.to_thread(Path(args.file).read_text))
    billing = billing_client(session)
    request = I.ImportPaymentsRequest(parent=resource("tenants", args.issuer), payments=payments)
    try:
        reply = await billing.invoices.ImportPayments(request)
    finally:
        await billing.close()
    if args.json:
        print(as_json(reply))
        return
    rows = [
        (
            m.end_to_end_id,
            I.PaymentMatch.Outcome.Name(m.outcome).lower().replace("_", " "),
            m.invoice or "-",
            m.detail,
        )
        for m in reply.matches
    ]
    print(table(["end-to-end id", "outcome", "invoice", "detail"], rows))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("invoices", help="invoices and credit notes").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="invoices and credit notes you issue or receive")
    p.add_argument("--state", choices=["draft", "finalized", "paid", "void"], help="only in this state")
    p.add_argument("--filter", help='e.g. kind = CREDIT_NOTE AND recipient = "tenants/ID"')
    output_flags(p)
    p.set_defaults(handler=list_)
    for action, handler, text in (
        ("show", show, "one invoice: its lines, VAT per rate and totals"),
        ("finalize", finalize, "finalize a draft: it gets its number and is final"),
    ):
        p = group.add_parser(action, help=text)
        p.add_argument("name", help="invoices/ID or ID")
        output_flags(p)
        p.set_defaults(handler=handler)
    p = group.add_parser("pdf", help="write the invoice as a PDF")
    p.add_argument("name", help="invoices/ID or ID")
    p.add_argument("-o", "--output", help="file to write (default invoices-ID.pdf)")
    p.set_defaults(handler=pdf)
    p = group.add_parser("csv", help="the invoice's lines as CSV")
    p.add_argument("name", help="invoices/ID or ID")
    p.add_argument("-o", "--output", help="file to write (default: print)")
    p.set_defaults(handler=csv_)
    p = group.add_parser("credit", help="correct a finalized invoice with a credit note")
    p.add_argument("name", help="invoices/ID or ID")
    p.add_argument(
        "--line", action="append", help="POSITION or POSITION:QUANTITY to credit (default: all that is left)"
    )
    p.add_argument("--reason", help="why, added to each line's description")
    output_flags(p)
    p.set_defaults(handler=credit)
    p = group.add_parser("mark-paid", help="mark a finalized invoice paid")
    p.add_argument("name", help="invoices/ID or ID")
    p.add_argument("--reference", help="the payment's reference (SEPA end-to-end id)")
    output_flags(p)
    p.set_defaults(handler=mark_paid)
    p = group.add_parser("import-payments", help="mark invoices paid from a bank statement (CSV)")
    p.add_argument("file", help="CSV: end_to_end_id (the invoice number), amount, currency, booking_date")
    p.add_argument("--issuer", required=True, help="the issuer whose account received them, tenants/ID")
    output_flags(p)
    p.set_defaults(handler=import_payments)
