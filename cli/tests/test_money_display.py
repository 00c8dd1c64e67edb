"""Amounts in tables are rounded half up to the currency's minor unit; the exact figure stays in
JSON and CSV."""

from __future__ import annotations

from wattlane.cli.output import money


def test_amounts_round_half_up_to_the_currencys_minor_unit() -> None:
    assert money("0.81191", "EUR") == "0.81"
    assert money("0.815", "EUR") == "0.82"  # half up, not half even
    assert money("0.825", "EUR") == "0.83"
    assert money("-0.815", "EUR") == "-0.82"  # a credit mirrors its debit
    assert money("1234.5", "JPY") == "1235"  # no minor unit
    assert money("1.0005", "BHD") == "1.001"  # three
    assert money("7", "EUR") == "7.00"


def test_what_is_not_a_number_is_shown_as_it_came() -> None:
    assert money("-", "EUR") == "-"
