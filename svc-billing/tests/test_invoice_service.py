"""InvoiceService on the running service: drafts, finalization with gapless numbers, finalized is
final, credit notes (partial, full → VOID), payments, validation naming the field, who sees what,
CSV and PDF, and the isolation harness over every invoice RPC (a sibling sees NOT_FOUND)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import zlib
from collections.abc import Iterable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.api.billing.v1 import invoices_pb2
from wattlane.billing.service_testing import Billing, billing_fixture  # noqa: F401 (a fixture)
from wattlane.core.errors import field_violations
from wattlane.core.testing.fake_identity import FakeTenant, FakeUser
from wattlane.core.testing.isolation import Actor, Grant, ListProbe, Probe, Target, check_isolation

I = invoices_pb2  # noqa: E741 (short for the many messages)
MANAGE = {"billing.read", "billing.manage"}


def line(
    description: str = "Charging", quantity: str = "10", price: str = "0.30", **kw: str
) -> I.InvoiceLine:
    base: dict[str, Any] = {"unit": "kWh", "vat_rate": "21", "vat_country": "NL"}
    base.update(kw)
    return I.InvoiceLine(description=description, quantity=quantity, unit_price=price, **base)


def partner_admin(billing: Billing) -> FakeUser:
    return billing.identity.user(billing.partner, {p: [billing.partner] for p in MANAGE})


async def draft(
    billing: Billing, who: FakeUser, recipient: str, lines: Iterable[I.InvoiceLine] = (), **kw: object
) -> I.Invoice:
    invoice = I.Invoice(recipient=recipient, currency="EUR", lines=list(lines) or [line()], **kw)  # type: ignore[arg-type]
    created: I.Invoice = await billing.client(who).invoices.CreateInvoice(
        I.CreateInvoiceRequest(parent=billing.partner.name, invoice=invoice)
    )
    return created


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code()


async def invalid(call: object) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return [v.field for v in field_violations(caught.value)]


async def test_draft_finalize_credit_and_pay(billing: Billing) -> None:
    issuer = billing.client(partner_admin(billing)).invoices
    # 100 small sessions at 21%: VAT per invoice is 1.05 where per line it would be 1.00.
    created = await draft(
        billing, partner_admin(billing), billing.org.name, [line(quantity="1", price="0.05")] * 100
    )
    assert created.state == I.DRAFT and created.number == "" and created.kind == I.INVOICE
    assert created.recipient_kind == I.ORGANIZATION and created.parent == billing.partner.name
    assert (created.net_minor, created.vat_minor, created.total_minor) == (500, 105, 605)
    # A draft may change and is seen by the recipient's readers (not the sibling's).
    updated = await issuer.UpdateInvoice(
        I.UpdateInvoiceRequest(
            invoice=I.Invoice(name=created.name, lines=[line(), line("Parking", "2", "1.50", unit="h")]),
            update_mask=FieldMask(paths=["lines"]),
        )
    )
    assert [ln.net_amount for ln in updated.lines] == ["3.00", "3.00"] and updated.etag == "2"
    got = await billing.client(billing.viewer).invoices.GetInvoice(I.GetInvoiceRequest(name=created.name))
    assert got.name == created.name
    sibling = billing.client(billing.sibling_admin).invoices
    assert (
        await code_of(sibling.GetInvoice(I.GetInvoiceRequest(name=created.name))) == grpc.StatusCode.NOT_FOUND
    )
    # The recipient's admin reads it but may not finalize it (billing.manage at the issuer).
    admin = billing.client(billing.admin).invoices
    assert (
        await code_of(admin.FinalizeInvoice(I.FinalizeInvoiceRequest(name=created.name)))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    final = await issuer.FinalizeInvoice(I.FinalizeInvoiceRequest(name=created.name, request_id="f-1"))
    assert final.state == I.FINALIZED and re.fullmatch(r"INV-\d{4}-000001", final.number)
    assert final.issue_date and final.due_date > final.issue_date and not final.overdue
    assert [(b.vat_country, b.vat_rate, b.taxable_minor, b.vat_minor) for b in final.vat_breakdown] == [
        ("NL", "21", 600, 126)
    ]
    assert (
        await issuer.FinalizeInvoice(I.FinalizeInvoiceRequest(name=created.name, request_id="f-1"))
    ) == final
    # Finalized is final.
    precondition = grpc.StatusCode.FAILED_PRECONDITION
    edit = I.UpdateInvoiceRequest(
        invoice=I.Invoice(name=created.name, locale="nl"), update_mask=FieldMask(paths=["locale"])
    )
    assert await code_of(issuer.UpdateInvoice(edit)) == precondition
    assert await code_of(issuer.DeleteInvoice(I.DeleteInvoiceRequest(name=created.name))) == precondition
    assert await code_of(issuer.FinalizeInvoice(I.FinalizeInvoiceRequest(name=created.name))) == precondition
    # A partial credit note for one kWh of line 1, then the rest: the invoice turns VOID.
    partial = await issuer.CreateCreditNote(
        I.CreateCreditNoteRequest(
            invoice=created.name, lines=[I.CreditLine(invoice_line=1, quantity="1")], reason="meter error"
        )
    )
    note = partial.credit_note
    assert note.kind == I.CREDIT_NOTE and note.state == I.FINALIZED and note.credits == created.name
    assert re.fullmatch(r"CN-\d{4}-000001", note.number)
    assert (note.net_minor, note.vat_minor) == (-30, -6) and note.lines[0].credits_line == 1
    assert partial.invoice.state == I.FINALIZED and partial.invoice.credited_minor == 36
    too_much = I.CreateCreditNoteRequest(
        invoice=created.name, lines=[I.CreditLine(invoice_line=1, quantity="10")]
    )
    assert await invalid(issuer.CreateCreditNote(too_much)) == ["lines[0].quantity"]
    rest = await issuer.CreateCreditNote(I.CreateCreditNoteRequest(invoice=created.name))
    assert rest.invoice.state == I.VOID and rest.invoice.credited_minor == 726
    assert rest.credit_note.number.endswith("000002") and len(rest.credit_note.lines) == 2
    assert (
        await code_of(issuer.CreateCreditNote(I.CreateCreditNoteRequest(invoice=created.name)))
        == precondition
    )
    # A second invoice takes the next number, and is marked paid with its SEPA reference.
    second = await draft(billing, partner_admin(billing), billing.org.name)
    second = await issuer.FinalizeInvoice(I.FinalizeInvoiceRequest(name=second.name))
    assert second.number.endswith("000002")
    paid = await issuer.MarkInvoicePaid(
        I.MarkInvoicePaidRequest(name=second.name, payment_reference="E2E-42")
    )
    assert paid.state == I.PAID and paid.payment_reference == "E2E-42" and paid.HasField("paid_time")
    again = I.MarkInvoicePaidRequest(name=second.name)
    assert await code_of(issuer.MarkInvoicePaid(again)) == precondition
    listed = await billing.client(billing.viewer).invoices.ListInvoices(
        I.ListInvoicesRequest(filter="kind = INVOICE")
    )
    assert [i.name for i in listed.invoices] == sorted([created.name, second.name])
    paged = await issuer.ListInvoices(I.ListInvoicesRequest(page_size=2))
    rest_page = await issuer.ListInvoices(
        I.ListInvoicesRequest(page_size=2, page_token=paged.next_page_token)
    )
    assert len(paged.invoices) + len(rest_page.invoices) == 4 and not rest_page.next_page_token
    voided = await issuer.ListInvoices(I.ListInvoicesRequest(filter="state = VOID"))
    assert [i.name for i in voided.invoices] == [created.name]


async def test_drafts_are_deleted_and_created_once_per_request_id(billing: Billing) -> None:
    who = partner_admin(billing)
    issuer = billing.client(who).invoices
    request = I.CreateInvoiceRequest(
        parent=billing.partner.name,
        invoice=I.Invoice(recipient=billing.org.name, currency="EUR", lines=[line()]),
        request_id="c-1",
    )
    first = await issuer.CreateInvoice(request)
    assert (await issuer.CreateInvoice(request)).name == first.name
    await issuer.DeleteInvoice(I.DeleteInvoiceRequest(name=first.name))
    assert await code_of(issuer.GetInvoice(I.GetInvoiceRequest(name=first.name))) == grpc.StatusCode.NOT_FOUND
    assert list((await issuer.ListInvoices(I.ListInvoicesRequest())).invoices) == []
    # Self-billing is for employees only, whichever field the update names.
    to_org = await draft(billing, who, billing.org.name)
    self_billed = I.UpdateInvoiceRequest(
        invoice=I.Invoice(name=to_org.name, self_billed=True), update_mask=FieldMask(paths=["self_billed"])
    )
    assert await invalid(issuer.UpdateInvoice(self_billed)) == ["invoice.self_billed"]
    # A new currency re-rounds the lines in its minor unit.
    yen = await issuer.UpdateInvoice(
        I.UpdateInvoiceRequest(
            invoice=I.Invoice(name=to_org.name, currency="JPY"), update_mask=FieldMask(paths=["currency"])
        )
    )
    assert (yen.lines[0].net_minor, yen.lines[0].net_amount, yen.total_minor) == (3, "3", 4)
    empty = await draft(billing, who, billing.org.name)
    await issuer.UpdateInvoice(
        I.UpdateInvoiceRequest(invoice=I.Invoice(name=empty.name), update_mask=FieldMask(paths=["lines"]))
    )
    refused = issuer.FinalizeInvoice(I.FinalizeInvoiceRequest(name=empty.name))
    assert await code_of(refused) == grpc.StatusCode.FAILED_PRECONDITION  # no lines


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        (I.Invoice(currency="EUX", lines=[line()]), "invoice.currency"),
        (I.Invoice(currency="EUR", locale="es", lines=[line()]), "invoice.locale"),
        (I.Invoice(currency="EUR", locale="english", lines=[line()]), "invoice.locale"),
        (I.Invoice(currency="EUR", due_date="7-12-2026", lines=[line()]), "invoice.due_date"),
        (I.Invoice(currency="EUR", lines=[line(quantity="-1")]), "invoice.lines[0].quantity"),
        (I.Invoice(currency="EUR", lines=[line(), line(price="abc")]), "invoice.lines[1].unit_price"),
        (I.Invoice(currency="EUR", lines=[line(vat_rate="101")]), "invoice.lines[0].vat_rate"),
        (I.Invoice(currency="EUR", lines=[line(vat_country="Netherlands")]), "invoice.lines[0].vat_country"),
        (I.Invoice(currency="EUR", lines=[line(unit="litre")]), "invoice.lines[0].unit"),
        (I.Invoice(currency="EUR", lines=[line(description=" ")]), "invoice.lines[0].description"),
        (
            I.Invoice(currency="EUR", lines=[line(period_start="2026-11-30", period_end="2026-11-01")]),
            "invoice.lines[0].period_end",
        ),
        (
            I.Invoice(currency="EUR", lines=[line(charge_records=["tariffs/x"])]),  # type: ignore[arg-type]
            "invoice.lines[0].charge_records[0]",
        ),
        (I.Invoice(currency="EUR", self_billed=True, lines=[line()]), "invoice.self_billed"),
    ],
)
async def test_bad_drafts_name_the_field(billing: Billing, invoice: I.Invoice, expected: str) -> None:
    invoice.recipient = billing.org.name
    client = billing.client(partner_admin(billing)).invoices
    assert expected in await invalid(
        client.CreateInvoice(I.CreateInvoiceRequest(parent=billing.partner.name, invoice=invoice))
    )


async def test_bad_names_name_the_field(billing: Billing) -> None:
    client = billing.client(partner_admin(billing)).invoices
    no_recipient = I.CreateInvoiceRequest(
        parent=billing.partner.name, invoice=I.Invoice(recipient="cards/1", currency="EUR")
    )
    assert await invalid(client.CreateInvoice(no_recipient)) == ["invoice.recipient"]
    assert await invalid(client.GetInvoice(I.GetInvoiceRequest(name="tariffs/1"))) == ["name"]
    assert await invalid(client.ListInvoices(I.ListInvoicesRequest(filter="state = LATE"))) == ["filter"]
    credit = I.CreateCreditNoteRequest(invoice="invoices/x", lines=[I.CreditLine(invoice_line=0)])
    assert await invalid(client.CreateCreditNote(credit)) == ["lines[0].invoice_line"]
    # An organization is not an issuer.
    org_admin = billing.client(billing.admin).invoices
    request = I.CreateInvoiceRequest(
        parent=billing.org.name, invoice=I.Invoice(recipient=billing.org.name, currency="EUR", lines=[line()])
    )
    assert await invalid(org_admin.CreateInvoice(request)) == ["parent"]


async def test_an_employee_sees_their_self_billed_credit(billing: Billing) -> None:
    home = billing.identity.tenant(billing.org, "ORGANIZATION")
    employee = billing.identity.user(home)  # no permissions at all
    # Identity declares the home sub-organization as the employee's (Owner.home_of).
    home = dataclasses.replace(home, home_of=employee.name)
    billing.identity.tenants[home.id] = home
    billing.identity.users[employee.id] = employee = dataclasses.replace(employee, tenant=home)
    who = partner_admin(billing)
    with_vat = draft(billing, who, employee.name, [line("Home charging", "100", "0.28")], self_billed=True)
    assert await invalid(with_vat) == ["invoice.lines[0].vat_rate"]
    credit = await draft(
        billing, who, employee.name, [line("Home charging", "100", "0.28", vat_rate="0")], self_billed=True
    )
    assert credit.recipient_kind == I.EMPLOYEE and credit.recipient == employee.name and credit.self_billed
    mine = billing.client(employee).invoices
    assert (await mine.GetInvoice(I.GetInvoiceRequest(name=credit.name))).total_minor == 2800
    assert [i.name for i in (await mine.ListInvoices(I.ListInvoicesRequest())).invoices] == [credit.name]
    other = billing.identity.user(home)
    assert list((await billing.client(other).invoices.ListInvoices(I.ListInvoicesRequest())).invoices) == []
    denied = billing.client(other).invoices.GetInvoice(I.GetInvoiceRequest(name=credit.name))
    assert await code_of(denied) == grpc.StatusCode.NOT_FOUND


async def test_the_operator_sees_all_a_partner_its_kickbacks_and_its_customers_invoices(
    billing: Billing,
) -> None:
    root = billing.identity.root
    operator = billing.identity.user(root, {p: [root] for p in MANAGE})
    issuer = billing.client(operator).invoices

    async def issue(recipient: str) -> str:
        created = await issuer.CreateInvoice(
            I.CreateInvoiceRequest(
                parent=root.name, invoice=I.Invoice(recipient=recipient, currency="EUR", lines=[line()])
            )
        )
        return str(created.name)

    kickback = await issue(billing.partner.name)
    to_customer = await issue(billing.org.name)
    other_partner = billing.identity.tenant(root, "PARTNER")
    elsewhere = await issue(other_partner.name)
    got = await issuer.GetInvoice(I.GetInvoiceRequest(name=kickback))
    assert got.recipient_kind == I.PARTNER and got.issuer_display_name == root.display_name
    reader = billing.identity.user(billing.partner, {"billing.read": [billing.partner]})

    async def names(who: FakeUser) -> set[str]:
        listed = await billing.client(who).invoices.ListInvoices(I.ListInvoicesRequest())
        return {i.name for i in listed.invoices}

    assert await names(operator) == {kickback, to_customer, elsewhere}
    assert await names(reader) == {kickback, to_customer}
    assert await names(billing.viewer) == {to_customer}
    assert await names(billing.sibling_admin) == set()
    missing = billing.client(reader).invoices.GetInvoice(I.GetInvoiceRequest(name=elsewhere))
    assert await code_of(missing) == grpc.StatusCode.NOT_FOUND


def _pdf_text(pdf: bytes) -> str:
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            out.append(stream.decode("latin-1"))
    return "\n".join(out)


async def test_csv_and_pdf_in_the_recipient_locale_under_the_issuer_brand(billing: Billing) -> None:
    who = partner_admin(billing)
    issuer = billing.client(who).invoices
    created = await draft(
        billing, who, billing.org.name, [line("Laden Amsterdam", "1234.5", "0.30"), line()], locale="de"
    )
    final = await issuer.FinalizeInvoice(I.FinalizeInvoiceRequest(name=created.name))
    reader = billing.client(billing.viewer).invoices
    chunks = reader.ExportInvoiceLines(I.ExportInvoiceLinesRequest(name=final.name))
    rows = list(csv.DictReader(io.StringIO(b"".join([c.csv async for c in chunks]).decode())))
    assert [(r["position"], r["net_amount"], r["currency"], r["number"]) for r in rows] == [
        ("1", "370.35", "EUR", final.number),
        ("2", "3.00", "EUR", final.number),
    ]
    pdf = b"".join([c.pdf async for c in reader.RenderInvoice(I.RenderInvoiceRequest(name=final.name))])
    assert pdf.startswith(b"%PDF")
    assert f"/Title (Rechnung {final.number})".encode() in pdf
    assert f"/Author ({billing.partner.display_name})".encode() in pdf
    text = _pdf_text(pdf)
    assert "370,35 EUR" in text and "Summe netto" in text and billing.partner.display_name in text
    credit = await issuer.CreateCreditNote(I.CreateCreditNoteRequest(invoice=final.name))
    note = b"".join(
        [c.pdf async for c in reader.RenderInvoice(I.RenderInvoiceRequest(name=credit.credit_note.name))]
    )
    assert f"/Title (Rechnungskorrektur {credit.credit_note.number})".encode() in note


async def test_a_bank_statement_marks_invoices_paid_by_their_sepa_id(billing: Billing) -> None:
    who = partner_admin(billing)
    issuer = billing.client(who).invoices
    numbers = []
    names = []
    for _ in range(4):
        created = await draft(billing, who, billing.org.name)  # 3.00 + 0.63 VAT
        final = await issuer.FinalizeInvoice(I.FinalizeInvoiceRequest(name=created.name))
        numbers.append(final.number)
        names.append(final.name)
    await issuer.CreateCreditNote(I.CreateCreditNoteRequest(invoice=names[3]))  # now VOID
    P = I.StatementPayment
    request = I.ImportPaymentsRequest(
        parent=billing.partner.name,
        payments=[
            P(end_to_end_id=numbers[0], amount="3.63", currency="EUR", booking_date="2026-12-01"),
            P(end_to_end_id=numbers[1], amount="3.00", currency="EUR"),
            P(end_to_end_id="INV-1999-000001", amount="3.63", currency="EUR"),
            P(end_to_end_id=numbers[3], amount="3.63", currency="EUR"),
        ],
        request_id="statement-1",
    )
    reply = await issuer.ImportPayments(request)
    M = I.PaymentMatch
    assert [(m.outcome, m.invoice) for m in reply.matches] == [
        (M.MATCHED, names[0]),
        (M.AMOUNT_MISMATCH, names[1]),
        (M.UNKNOWN_INVOICE, ""),
        (M.NOT_PAYABLE, names[3]),
    ]
    paid = await issuer.GetInvoice(I.GetInvoiceRequest(name=names[0]))
    assert paid.state == I.PAID and paid.payment_reference == numbers[0]
    assert paid.paid_time.ToDatetime().date() == dt.date(2026, 12, 1)
    assert (await issuer.ImportPayments(request)) == reply  # the same import, replayed
    again = I.ImportPaymentsRequest(parent=billing.partner.name, payments=request.payments[:1])
    assert [m.outcome for m in (await issuer.ImportPayments(again)).matches] == [M.ALREADY_PAID]
    bad = I.ImportPaymentsRequest(
        parent=billing.partner.name,
        payments=[
            P(end_to_end_id="x", amount="1.005", currency="EUR"),
            P(end_to_end_id="", amount="1", currency="EUR"),
        ],
    )
    assert await invalid(issuer.ImportPayments(bad)) == ["payments[0].amount", "payments[1].end_to_end_id"]
    # The recipient's admin cannot import into the partner's books.
    admin = billing.client(billing.admin).invoices
    assert await code_of(admin.ImportPayments(request)) == grpc.StatusCode.NOT_FOUND


def test_overdue_after_the_due_date() -> None:
    from wattlane.billing import invoices
    from wattlane.billing.models import InvoiceRow

    row = InvoiceRow(kind="INVOICE", status="FINALIZED", due_date=dt.date(2026, 12, 7))
    assert not invoices.is_overdue(row, dt.date(2026, 12, 7))
    assert invoices.is_overdue(row, dt.date(2026, 12, 8))
    row.status = "PAID"
    assert not invoices.is_overdue(row, dt.date(2026, 12, 8))


# --- isolation ---------------------------------------------------------------------------------


async def test_isolation_over_every_invoice_rpc(billing: Billing) -> None:
    org, sibling, partner = billing.org, billing.sibling, billing.partner
    other_partner = billing.identity.tenant(billing.identity.root, "PARTNER")
    other_org = billing.identity.tenant(other_partner)
    paths = {t.id: t.path for t in billing.identity.tenants.values()}
    issuer = partner_admin(billing)
    other_issuer = billing.identity.user(other_partner, {p: [other_partner] for p in MANAGE})
    targets: list[Target] = []
    for who, parent, recipient in (
        (issuer, partner, org),
        (issuer, partner, sibling),
        (other_issuer, other_partner, other_org),
    ):
        client = billing.client(who).invoices
        for finalize in (False, True):
            created = await client.CreateInvoice(
                I.CreateInvoiceRequest(
                    parent=parent.name,
                    invoice=I.Invoice(recipient=recipient.name, currency="EUR", lines=[line()]),
                )
            )
            if finalize:
                await client.FinalizeInvoice(I.FinalizeInvoiceRequest(name=created.name))
            # The harness's oracle: readable at the recipient; its issuer's writes are checked by
            # the issuer actors (the write probes below need billing.manage at the recipient's
            # path, which only issuers above it hold).
            targets.append(Target(created.name, "invoices", recipient.path))
        targets.append(Target(parent.name, "issuers", parent.path))
    worlds: list[tuple[str, FakeTenant, dict[FakeTenant, set[str]]]] = [
        ("org admin", org, {org: {"billing.read"}}),
        ("org member", org, {org: set()}),
        ("sibling admin", sibling, {sibling: {"billing.read"}}),
        ("partner admin", partner, {partner: MANAGE}),
        ("other partner admin", other_partner, {other_partner: MANAGE}),
        ("other org reader", other_org, {other_org: {"billing.read"}}),
    ]
    actors = []
    for label, home, grants in worlds:
        spec: dict[str, list[FakeTenant]] = {}
        for tenant, permissions in grants.items():
            for permission in permissions:
                spec.setdefault(permission, []).append(tenant)
        user = billing.identity.user(home, spec)  # type: ignore[arg-type]
        held = [Grant(t.path, True, frozenset(p)) for t, p in grants.items() if p]
        actors.append(Actor(label, billing.client(user).invoices, user.name, held))
    mask = FieldMask(paths=["locale"])
    payment = I.StatementPayment(end_to_end_id="X", amount="1", currency="EUR")
    probes = [
        Probe("GetInvoice", "invoices", "billing.read", "read",
              lambda a, t: a.client.GetInvoice(I.GetInvoiceRequest(name=t.name))),
        Probe("ExportInvoiceLines", "invoices", "billing.read", "read",
              lambda a, t: _drain(a.client.ExportInvoiceLines(I.ExportInvoiceLinesRequest(name=t.name)))),
        Probe("RenderInvoice", "invoices", "billing.read", "read",
              lambda a, t: _drain(a.client.RenderInvoice(I.RenderInvoiceRequest(name=t.name)))),
        Probe("UpdateInvoice", "invoices", "billing.manage", "write",
              lambda a, t: a.client.UpdateInvoice(I.UpdateInvoiceRequest(
                  invoice=I.Invoice(name=t.name, locale="nl"), update_mask=mask))),
        Probe("DeleteInvoice", "invoices", "billing.manage", "write",
              lambda a, t: a.client.DeleteInvoice(I.DeleteInvoiceRequest(name=t.name))),
        Probe("FinalizeInvoice", "invoices", "billing.manage", "write",
              lambda a, t: a.client.FinalizeInvoice(I.FinalizeInvoiceRequest(name=t.name))),
        Probe("MarkInvoicePaid", "invoices", "billing.manage", "write",
              lambda a, t: a.client.MarkInvoicePaid(I.MarkInvoicePaidRequest(name=t.name))),
        Probe("CreateCreditNote", "invoices", "billing.manage", "write",
              lambda a, t: a.client.CreateCreditNote(I.CreateCreditNoteRequest(invoice=t.name))),
        Probe("ImportPayments", "issuers", "billing.manage", "write",
              lambda a, t: a.client.ImportPayments(I.ImportPaymentsRequest(
                  parent=t.name, payments=[payment]))),
        Probe("CreateInvoice", "issuers", "billing.manage", "write",
              lambda a, t: a.client.CreateInvoice(I.CreateInvoiceRequest(
                  parent=t.name, invoice=I.Invoice(recipient=t.name, currency="EUR", lines=[line()])))),
    ]  # fmt: skip

    async def list_invoices(actor: Actor) -> Iterable[tuple[str, str]]:
        reply = await actor.client.ListInvoices(I.ListInvoicesRequest(page_size=100))
        return [(i.name, paths[i.recipient.removeprefix("tenants/")]) for i in reply.invoices]

    before = await list_invoices(actors[3])
    violations = await check_isolation(actors, targets, probes, [ListProbe("ListInvoices", list_invoices)])
    assert violations == [], "\n".join(map(str, violations))
    assert await list_invoices(actors[3]) == before  # the world is unchanged
    assert len(list(before)) == 4


async def _drain(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass
