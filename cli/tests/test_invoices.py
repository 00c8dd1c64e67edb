"""`wattlane invoices`: how states, kinds, amounts and credit lines are read and written."""

from __future__ import annotations

import pytest

from wattlane.api.billing.v1 import invoices_pb2
from wattlane.cli.commands.invoices import amount, credit_lines, kind_of, state_of, statement
from wattlane.cli.main import parser

I = invoices_pb2  # noqa: E741


def test_states_and_kinds_as_people_read_them() -> None:
    assert state_of(I.Invoice(state=I.FINALIZED)) == "finalized"
    assert state_of(I.Invoice(state=I.FINALIZED, overdue=True)) == "overdue"
    assert state_of(I.Invoice(state=I.VOID)) == "void"
    assert kind_of(I.Invoice(kind=I.INVOICE)) == "invoice"
    assert kind_of(I.Invoice(kind=I.INVOICE, self_billed=True)) == "self-billed"
    assert kind_of(I.Invoice(kind=I.CREDIT_NOTE)) == "credit note"


def test_amounts_use_the_currency_minor_unit() -> None:
    assert amount(605, "EUR") == "6.05 EUR"
    assert amount(-36, "EUR") == "-0.36 EUR"
    assert amount(605, "JPY") == "605 JPY"
    assert amount(1, "KWD") == "0.001 KWD"


def test_credit_lines_from_flags() -> None:
    assert credit_lines(["2", "1:1.5"]) == [
        I.CreditLine(invoice_line=2),
        I.CreditLine(invoice_line=1, quantity="1.5"),
    ]
    with pytest.raises(SystemExit):
        credit_lines(["first"])


def test_the_subcommands_parse() -> None:
    args = parser().parse_args(["invoices", "credit", "X1", "--line", "1:2", "--reason", "meter"])
    assert (args.name, args.line, args.reason) == ("X1", ["1:2"], "meter")
    args = parser().parse_args(["invoices", "mark-paid", "invoices/X1", "--reference", "E2E-1"])
    assert args.reference == "E2E-1"
    for action in ("list", "show X", "finalize X", "pdf X -o x.pdf", "csv X", "import-payments f --issuer T"):
        assert parser().parse_args(["invoices", *action.split()]).handler


def test_a_statement_from_csv() -> None:
    text = "end_to_end_id,amount,currency,booking_date\nINV-2026-000001,3.63,EUR,2026-12-01\nX,1,EUR,\n"
    assert statement(text) == [
        I.StatementPayment(
            end_to_end_id="INV-2026-000001", amount="3.63", currency="EUR", booking_date="2026-12-01"
        ),
        I.StatementPayment(end_to_end_id="X", amount="1", currency="EUR"),
    ]
    with pytest.raises(SystemExit, match="currency"):
        statement("end_to_end_id,amount\nX,1\n")
