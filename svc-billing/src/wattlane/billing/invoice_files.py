"""An invoice as files: the CSV of its lines and a PDF in the recipient's language under the
issuer's brand (a partner's white label: its name heads the document).

Languages are a small table (en, nl, de, fr; no Babel in the project): labels, number and date
formats. In German a correction is a "Rechnungskorrektur" — "Gutschrift" means a self-billed
invoice there (BILLING.md). The PDF uses fpdf2's built-in Helvetica (Latin-1): characters outside
it print as "?", and amounts carry the ISO currency code rather than a symbol."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from fpdf import FPDF

from wattlane.billing import invoices, money
from wattlane.billing.invoices import Invoice


@dataclass(frozen=True)
class Language:
    """How one language writes a document."""

    labels: dict[str, str]
    decimal: str
    thousands: str
    date: str  # strftime format


_EN = {
    "INVOICE": "Invoice",
    "CREDIT_NOTE": "Credit note",
    "SELF_BILLED": "Self-billed invoice",
    "number": "Number",
    "draft": "DRAFT - not a valid invoice",
    "issue_date": "Date",
    "due_date": "Due date",
    "issuer": "From",
    "recipient": "To",
    "credits": "Corrects invoice",
    "description": "Description",
    "quantity": "Quantity",
    "unit_price": "Unit price",
    "vat_rate": "VAT %",
    "net": "Net",
    "net_total": "Total excl. VAT",
    "vat": "VAT",
    "total": "Total",
    "paid": "Paid",
    "overdue": "Overdue",
    "no_vat": "No VAT: self-billed by the recipient's employer for a private person",
}
LANGUAGES: dict[str, Language] = {
    "en": Language(_EN, ".", ",", "%Y-%m-%d"),
    "nl": Language(
        {
            "INVOICE": "Factuur",
            "CREDIT_NOTE": "Creditnota",
            "SELF_BILLED": "Factuur (self-billing)",
            "number": "Nummer",
            "draft": "CONCEPT - geen geldige factuur",
            "issue_date": "Datum",
            "due_date": "Vervaldatum",
            "issuer": "Van",
            "recipient": "Aan",
            "credits": "Corrigeert factuur",
            "description": "Omschrijving",
            "quantity": "Aantal",
            "unit_price": "Prijs per eenheid",
            "vat_rate": "btw %",
            "net": "Netto",
            "net_total": "Totaal excl. btw",
            "vat": "btw",
            "total": "Totaal",
            "paid": "Betaald",
            "overdue": "Vervallen",
            "no_vat": "Geen btw: self-billing door de werkgever voor een particulier",
        },
        ",",
        ".",
        "%d-%m-%Y",
    ),
    "de": Language(
        {
            "INVOICE": "Rechnung",
            "CREDIT_NOTE": "Rechnungskorrektur",
            "SELF_BILLED": "Gutschrift",
            "number": "Nummer",
            "draft": "ENTWURF - keine gültige Rechnung",
            "issue_date": "Datum",
            "due_date": "Fällig am",
            "issuer": "Von",
            "recipient": "An",
            "credits": "Korrigiert Rechnung",
            "description": "Beschreibung",
            "quantity": "Menge",
            "unit_price": "Einzelpreis",
            "vat_rate": "USt. %",
            "net": "Netto",
            "net_total": "Summe netto",
            "vat": "USt.",
            "total": "Gesamt",
            "paid": "Bezahlt",
            "overdue": "Überfällig",
            "no_vat": "Ohne USt.: Gutschrift des Arbeitgebers für eine Privatperson",
        },
        ",",
        ".",
        "%d.%m.%Y",
    ),
    "fr": Language(
        {
            "INVOICE": "Facture",
            "CREDIT_NOTE": "Avoir",
            "SELF_BILLED": "Autofacturation",
            "number": "Numéro",
            "draft": "BROUILLON - pas une facture valable",
            "issue_date": "Date",
            "due_date": "Échéance",
            "issuer": "De",
            "recipient": "À",
            "credits": "Corrige la facture",
            "description": "Description",
            "quantity": "Quantité",
            "unit_price": "Prix unitaire",
            "vat_rate": "TVA %",
            "net": "Net",
            "net_total": "Total HT",
            "vat": "TVA",
            "total": "Total TTC",
            "paid": "Payée",
            "overdue": "En retard",
            "no_vat": "Sans TVA : autofacturation par l'employeur pour un particulier",
        },
        ",",
        " ",
        "%d/%m/%Y",
    ),
}


def language(locale: str) -> Language | None:
    """The language of a locale ("nl-BE" → nl), None when documents are not written in it."""
    return LANGUAGES.get(locale.split("-", 1)[0].lower())


def amount(minor: int, currency: str, lang: Language) -> str:
    """Minor units written the language's way, with the currency code ("1.234,56 EUR")."""
    text = money.format_minor(abs(minor), currency)
    whole, _, fraction = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    written = lang.thousands.join(groups) + (lang.decimal + fraction if fraction else "")
    return f"{'-' if minor < 0 else ''}{written} {currency}"


def _day(value: dt.date | None, lang: Language) -> str:
    return value.strftime(lang.date) if value is not None else ""


# --- CSV ---------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "invoice",
    "number",
    "position",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "net_amount",
    "currency",
    "vat_rate",
    "vat_country",
    "charge_records",
    "period_start",
    "period_end",
)


def lines_csv(invoice: Invoice) -> bytes:
    """The lines as CSV (header first); amounts as plain decimals of the currency."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    row = invoice.row
    for line in invoice.lines:
        writer.writerow(
            (
                invoice.name,
                row.number,
                line.position,
                line.description,
                line.quantity,
                line.unit,
                line.unit_price,
                money.format_minor(line.net_minor, row.currency),
                row.currency,
                line.vat_rate,
                line.vat_country,
                " ".join(line.charge_records),
                line.period_start.isoformat() if line.period_start else "",
                line.period_end.isoformat() if line.period_end else "",
            )
        )
    return out.getvalue().encode()


# --- PDF ---------------------------------------------------------------------------------------


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def title(invoice: Invoice, lang: Language) -> str:
    """What the document is called in its language."""
    kind = "SELF_BILLED" if invoice.row.self_billed and invoice.row.kind == "INVOICE" else invoice.row.kind
    return lang.labels[kind]


def pdf(invoice: Invoice, today: dt.date) -> bytes:
    """The document as a PDF (A4), in the invoice's locale, headed by the issuer's brand."""
    row = invoice.row
    lang = language(row.locale) or LANGUAGES["en"]
    labels = lang.labels
    totals = invoices.draft_totals(invoice.lines)
    doc = FPDF(format="A4")
    doc.set_title(_latin(f"{title(invoice, lang)} {row.number}".strip()))
    doc.set_author(_latin(row.issuer_name))
    doc.set_lang(row.locale)
    doc.set_creator("Wattlane")
    doc.add_page()
    doc.set_font("Helvetica", "B", 16)
    doc.cell(0, 10, _latin(row.issuer_name or f"tenants/{row.issuer_id}"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "B", 13)
    doc.cell(0, 8, _latin(f"{title(invoice, lang)} {row.number}".strip()), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 10)
    facts = [
        (labels["recipient"], row.recipient_name),
        (labels["issue_date"], _day(row.issue_date, lang)),
        (labels["due_date"], _day(row.due_date, lang)),
    ]
    if row.status == "DRAFT":
        facts.insert(0, ("", labels["draft"]))
    if row.credits:
        facts.append((labels["credits"], invoices.invoice_name(row.credits)))
    if row.status == "PAID":
        facts.append((labels["paid"], _day(row.paid_time.date() if row.paid_time else None, lang)))
    elif invoices.is_overdue(row, today):
        facts.append((labels["overdue"], ""))
    for label, value in facts:
        doc.cell(0, 6, _latin(f"{label}: {value}" if label else value), new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    widths = (80, 22, 30, 18, 30)
    doc.set_font("Helvetica", "B", 9)
    for width, label in zip(
        widths,
        (labels["description"], labels["quantity"], labels["unit_price"], labels["vat_rate"], labels["net"]),
        strict=True,
    ):
        doc.cell(width, 7, _latin(label), border="B")
    doc.ln()
    doc.set_font("Helvetica", "", 9)
    for line in invoice.lines:
        cells = (
            line.description[:60],
            f"{line.quantity} {line.unit}",
            line.unit_price,
            line.vat_rate,
            amount(line.net_minor, row.currency, lang),
        )
        for width, text in zip(widths, cells, strict=True):
            doc.cell(width, 6, _latin(text))
        doc.ln()
    doc.ln(3)
    doc.set_font("Helvetica", "", 10)
    summary = [(labels["net_total"], totals.net_minor)]
    summary += [(f"{labels['vat']} {g.vat_rate}% ({g.vat_country})", g.vat_minor) for g in totals.breakdown]
    for label, minor in summary:
        doc.cell(150, 6, _latin(label), align="R")
        doc.cell(30, 6, _latin(amount(minor, row.currency, lang)), align="R", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "B", 11)
    doc.cell(150, 8, _latin(labels["total"]), align="R")
    doc.cell(
        30,
        8,
        _latin(amount(totals.total_minor, row.currency, lang)),
        align="R",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if row.self_billed:
        doc.set_font("Helvetica", "I", 9)
        doc.multi_cell(0, 5, _latin(labels["no_vat"]))
    return bytes(doc.output())
