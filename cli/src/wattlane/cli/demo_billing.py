"""The demo's tariffs `wattlane up` seeds through billing's and assets' public APIs: one at each
level of the tree (the operator's, a partner's, an organization's), each organization's rate
plan set to one of them and inherited by its locations and charging points (GetEffectiveSettings
shows where each came from); and last month's subscription invoice from the operator to Acme HQ
(finalized: numbered, openable as PDF, creditable). Seeding again finds what exists and adds
nothing.

Only the operator manages tariffs (`billing.manage`); the organizations' administrators choose
their rate plan (`locations.manage`), which assets checks with billing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.api.assets.v1 import settings_pb2
from wattlane.api.billing.v1 import invoices_pb2, tariffs_pb2
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.cli.demo import DEMO_PASSWORD
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.billing import BillingClient
from wattlane.core.clients.identity import IdentityClient

T = tariffs_pb2


def _energy(price: str) -> T.PriceComponent:
    return T.PriceComponent(type=T.ENERGY, price=price, vat="21", step_size=1)


@dataclass(frozen=True)
class DemoTariff:
    owner: str  # display name of the owning tenant
    display_name: str
    elements: tuple[T.TariffElement, ...]
    text: str  # what a driver reads


TARIFFS = (
    DemoTariff(
        "",  # the operator
        "Wattlane standard",
        (
            T.TariffElement(
                price_components=[_energy("0.35"), T.PriceComponent(type=T.FLAT, price="0.35", vat="21")]
            ),
        ),
        "EUR 0.35 per kWh and EUR 0.35 per session",
    ),
    DemoTariff(
        "Voltera Installers",
        "Voltera day and night",
        (
            T.TariffElement(
                price_components=[_energy("0.24")],
                restrictions=T.TariffRestrictions(start_time="23:00", end_time="07:00"),
            ),
            T.TariffElement(
                price_components=[
                    _energy("0.31"),
                    T.PriceComponent(type=T.PARKING_TIME, price="1.20", vat="21", step_size=60),
                ]
            ),
        ),
        "EUR 0.24 per kWh at night (23:00-07:00), else EUR 0.31; EUR 1.20 per hour parked",
    ),
    DemoTariff(
        "Acme HQ Amsterdam",
        "Acme HQ fleet rate",
        (T.TariffElement(price_components=[_energy("0.22")]),),
        "EUR 0.22 per kWh for Acme's fleet",
    ),
)
# Organization -> (its administrator, the tariff its rate plan references).
RATE_PLANS = {
    "Acme HQ Amsterdam": ("admin@acme.example", "Acme HQ fleet rate"),
    "Acme Depot Utrecht": ("admin@acme.example", "Voltera day and night"),
    "Globex London": ("admin@globex.example", "Wattlane standard"),
}


@dataclass(frozen=True)
class SeededTariffs:
    tariffs: list[tuple[str, str, str, str]]  # (name, display name, owner, text)
    rate_plans: list[tuple[str, str]]  # (organization, tariff display name)
    invoices: list[invoices_pb2.Invoice] = field(default_factory=list)


# Last month's subscription of Acme HQ, invoiced by the operator (the settlement run will make
# these from accounts; until then the demo seeds one so `wattlane invoices ...` has something).
INVOICE_RECIPIENT = "Acme HQ Amsterdam"


def _last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


async def _invoice(
    billing: BillingClient, issuer: tenants_pb2.Tenant, recipient: tenants_pb2.Tenant
) -> invoices_pb2.Invoice:
    """Find or make (and finalize) last month's subscription invoice to `recipient`."""
    start, end = _last_month(dt.date.today())
    month = start.strftime("%B %Y")
    found = await billing.invoices.ListInvoices(
        invoices_pb2.ListInvoicesRequest(
            filter=f'recipient = "{recipient.name}" AND kind = INVOICE', page_size=100
        )
    )
    for invoice in found.invoices:
        if invoice.lines and month in invoice.lines[0].description:
            return invoice
    draft = await billing.invoices.CreateInvoice(
        invoices_pb2.CreateInvoiceRequest(
            parent=issuer.name,
            request_id=f"demo-invoice-{recipient.name}-{start:%Y-%m}",
            invoice=invoices_pb2.Invoice(
                recipient=recipient.name,
                currency="EUR",
                locale="nl",
                due_date=(dt.date.today() + dt.timedelta(days=14)).isoformat(),
                lines=[
                    invoices_pb2.InvoiceLine(
                        description=f"Charging point subscription, per datapoint, {month}",
                        quantity="3",
                        unit="month",
                        unit_price="9.95",
                        vat_rate="21",
                        vat_country="NL",
                        period_start=start.isoformat(),
                        period_end=end.isoformat(),
                    ),
                    invoices_pb2.InvoiceLine(
                        description=f"Load management license, {month}",
                        quantity="1",
                        unit="month",
                        unit_price="4.50",
                        vat_rate="21",
                        vat_country="NL",
                        period_start=start.isoformat(),
                        period_end=end.isoformat(),
                    ),
                ],
            ),
        )
    )
    if draft.state != invoices_pb2.FINALIZED:
        draft = await billing.invoices.FinalizeInvoice(
            invoices_pb2.FinalizeInvoiceRequest(name=draft.name, request_id=f"demo-finalize-{draft.name}")
        )
    return draft


async def _tenant(operator: IdentityClient, display_name: str) -> tenants_pb2.Tenant:
    if not display_name:
        roots = await operator.tenants.ListTenants(tenants_pb2.ListTenantsRequest(filter="kind = OPERATOR"))
        return roots.tenants[0]
    found = await operator.tenants.ListTenants(
        tenants_pb2.ListTenantsRequest(filter=f'display_name = "{display_name}"')
    )
    return found.tenants[0]


async def _tariff(billing: BillingClient, owner: tenants_pb2.Tenant, demo: DemoTariff) -> T.Tariff:
    found = await billing.tariffs.ListTariffs(
        T.ListTariffsRequest(parent=owner.name, filter=f'display_name = "{demo.display_name}"')
    )
    for tariff in found.tariffs:
        if tariff.parent == owner.name:
            return tariff
    tariff = T.Tariff(
        parent=owner.name,
        display_name=demo.display_name,
        currency="EUR",
        type=T.AD_HOC_PAYMENT,
        display_texts=[T.DisplayText(language="en", text=demo.text)],
        elements=list(demo.elements),
    )
    return await billing.tariffs.CreateTariff(T.CreateTariffRequest(parent=owner.name, tariff=tariff))


async def seed(
    identity_target: str, assets_target: str, billing_target: str, admin_password: str
) -> SeededTariffs:
    """Seed (or find) the demo tariffs and set the organizations' rate plans to them."""
    operator = await IdentityClient(identity_target, max_attempts=4).login(
        "admin@wattlane.local", admin_password
    )
    billing = BillingClient(billing_target, operator.token, max_attempts=4)
    admins: dict[str, IdentityClient] = {}
    clients: list[AssetsClient] = []
    try:
        by_name: dict[str, T.Tariff] = {}
        seeded = []
        for demo in TARIFFS:
            owner = await _tenant(operator, demo.owner)
            tariff = await _tariff(billing, owner, demo)
            by_name[demo.display_name] = tariff
            seeded.append((tariff.name, demo.display_name, owner.display_name, demo.text))
        plans = []
        for organization, (email, tariff_name) in RATE_PLANS.items():
            if email not in admins:
                admins[email] = await IdentityClient(identity_target, max_attempts=4).login(
                    email, DEMO_PASSWORD
                )
            assets = AssetsClient(assets_target, admins[email].token, max_attempts=4)
            clients.append(assets)
            org = await _tenant(operator, organization)
            await assets.settings.UpdateOrganizationSettings(
                settings_pb2.UpdateOrganizationSettingsRequest(
                    settings=settings_pb2.OrganizationSettings(
                        name=f"{org.name}/assetSettings",
                        rate_plan=by_name[tariff_name].name,
                        rate_plan_override=True,
                    ),
                    update_mask=FieldMask(paths=["rate_plan", "rate_plan_override"]),
                )
            )
            plans.append((organization, tariff_name))
        root = await _tenant(operator, "")
        invoice = await _invoice(billing, root, await _tenant(operator, INVOICE_RECIPIENT))
        return SeededTariffs(seeded, plans, [invoice])
    finally:
        for c in clients:
            await c.close()
        for a in admins.values():
            await a.close()
        await billing.close()
        await operator.close()


def banner(seeded: SeededTariffs) -> list[str]:
    """Lines for the `wattlane up` banner: the tariffs and which organization inherits which."""
    lines = ["Demo tariffs (billing; each organization's rate plan, inherited by its sites and points):"]
    lines += [f"   {name:<36} {display} ({owner}): {text}" for name, display, owner, text in seeded.tariffs]
    lines += [f"   {org} -> {tariff}" for org, tariff in seeded.rate_plans]
    lines += [
        "Try, as admin@acme.example:",
        "   wattlane tariffs list",
        "   wattlane transactions list",
        "   wattlane invoices list",
    ]
    for invoice in seeded.invoices:
        total = f"{invoice.total_minor / 100:.2f} {invoice.currency}"
        lines += [
            f"Demo invoice: {invoice.name} ({invoice.number}, {total}, from {invoice.issuer_display_name} "
            f"to {invoice.recipient_display_name}):",
            f"   wattlane invoices pdf {invoice.name} -o invoice.pdf",
        ]
    lines.append("")
    return lines
