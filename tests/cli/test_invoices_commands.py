"""`wattlane invoices list|show|finalize|pdf|csv|credit|mark-paid|import-payments` against a real
identity and a real billing service (the CLI runs as asyncio subprocesses)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.cli.test_stations_commands import wl
from tests.cli.test_tariffs_commands import billing  # noqa: F401 (a fixture)
from wattlane.api.billing.v1 import invoices_pb2
from wattlane.billing.main import BillingService
from wattlane.core.clients.billing import BillingClient
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, Client, TreeBuilder

I = invoices_pb2  # noqa: E741


async def test_invoices_through_the_cli(
    billing: BillingService,  # noqa: F811 (the fixture)
    identity: IdentityService,
    admin: Client,
    tree: TreeBuilder,
    tmp_path: Path,
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    api = BillingClient(f"127.0.0.1:{billing.port}", admin.token)
    drafts = []
    try:
        for locale in ("nl", "en"):
            line = I.InvoiceLine(
                description="Laden",
                quantity="10",
                unit="kWh",
                unit_price="0.30",
                vat_rate="21",
                vat_country="NL",
            )
            created = await api.invoices.CreateInvoice(
                I.CreateInvoiceRequest(
                    parent=root.name,
                    invoice=I.Invoice(recipient=org.name, currency="EUR", locale=locale, lines=[line]),
                )
            )
            drafts.append(created.name)
    finally:
        await api.close()
    env = {
        **os.environ,
        "WATTLANE_HOME": str(tmp_path),
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
        "WATTLANE_BILLING_ADDRESS": f"127.0.0.1:{billing.port}",
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    _, listed, _ = await wl(env, "invoices", "list", "--state", "draft")
    assert drafts[0] in listed and "3.63 EUR" in listed
    _, final, _ = await wl(env, "invoices", "finalize", drafts[0])
    number = re.search(r"INV-\d{4}-\d{6}", final)
    assert number is not None and "VAT 21% (NL) on 3.00 EUR: 0.63 EUR" in final
    _, second, _ = await wl(env, "invoices", "finalize", drafts[1])
    second_number = re.search(r"INV-\d{4}-\d{6}", second)
    assert second_number is not None and second_number.group(0) != number.group(0)
    _, shown, _ = await wl(env, "invoices", "show", drafts[0])
    assert "finalized" in shown and "total 3.63 EUR" in shown
    pdf = tmp_path / "invoice.pdf"
    await wl(env, "invoices", "pdf", drafts[0], "-o", str(pdf))
    assert (
        pdf.read_bytes().startswith(b"%PDF")
        and f"/Title (Factuur {number.group(0)})".encode() in pdf.read_bytes()
    )
    _, lines, _ = await wl(env, "invoices", "csv", drafts[0])
    assert lines.splitlines()[0].startswith("invoice,number,position") and "3.00,EUR" in lines
    _, credited, _ = await wl(env, "invoices", "credit", drafts[0], "--line", "1:2", "--reason", "meter")
    assert re.search(r"credit note CN-\d{4}-\d{6}", credited) and "finalized" in credited.splitlines()[-1]
    statement = tmp_path / "statement.csv"
    statement.write_text(
        f"end_to_end_id,amount,currency,booking_date\n{second_number.group(0)},3.63,EUR,2026-12-01\n"
        "INV-1999-000001,1.00,EUR,\n"
    )
    _, imported, _ = await wl(env, "invoices", "import-payments", str(statement), "--issuer", root.name)
    assert "matched" in imported and "unknown invoice" in imported
    code, _, err = await wl(env, "invoices", "mark-paid", drafts[1], ok=False)
    assert code == 1 and "paid" in err
    _, paid, _ = await wl(env, "invoices", "list", "--state", "paid", "--output", "json")
    assert drafts[1] in paid and drafts[0] not in paid
