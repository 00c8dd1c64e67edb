"""Invoice money per EN 16931: line nets rounded, VAT per rate per invoice, never per line."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from wattlane.billing.money import Line, format_minor, line_net, to_minor, totals, vat_of

BOUNDED = settings(max_examples=200, deadline=None)


def test_line_nets_round_half_up_to_the_currency_minor_unit() -> None:
    assert line_net(D("3"), D("0.335"), "EUR") == 101  # 1.005 → 1.01 (half-even would give 1.00)
    assert line_net(D("22.5"), D("0.30"), "EUR") == 675
    assert line_net(D("1"), D("-1.005"), "EUR") == -101  # a credit rounds to the exact negation
    assert line_net(D("1"), D("99.5"), "JPY") == 100  # no minor unit
    assert line_net(D("1"), D("1.0005"), "BHD") == 1001  # three digits
    assert to_minor(D("0.004999"), "EUR") == 0
    assert format_minor(101, "EUR") == "1.01" and format_minor(-5, "EUR") == "-0.05"
    assert format_minor(1234, "JPY") == "1234" and format_minor(1, "KWD") == "0.001"


def test_many_small_lines_vat_per_rate_per_invoice_not_per_line() -> None:
    # 100 sessions of 0.05 at 21%: per line the VAT is 0.0105 → 0.01, 1.00 in all; on the
    # invoice it is 21% of 5.00 = 1.05. EN 16931 wants the invoice's figure.
    lines = [Line(5, D(21), "NL")] * 100
    result = totals(lines)
    assert result.net_minor == 500
    assert result.vat_minor == 105
    assert sum(vat_of(line.net_minor, line.vat_rate) for line in lines) == 100  # what per line gives
    assert result.total_minor == 605
    (group,) = result.breakdown
    assert (group.vat_country, group.vat_rate) == ("NL", D(21))
    assert (group.taxable_minor, group.vat_minor) == (500, 105)


def test_groups_are_per_country_and_rate() -> None:
    result = totals(
        [
            Line(1000, D(21), "NL"),
            Line(1000, D("21.0"), "NL"),  # the same rate written differently
            Line(1000, D(19), "DE"),
            Line(333, D(0), "NL"),  # a reimbursed private person: no VAT
            Line(1000, D(9), "NL"),
        ]
    )
    assert [(g.vat_country, g.vat_rate, g.taxable_minor, g.vat_minor) for g in result.breakdown] == [
        ("DE", D(19), 1000, 190),
        ("NL", D(0), 333, 0),
        ("NL", D(9), 1000, 90),
        ("NL", D(21), 2000, 420),
    ]
    assert result.total_minor == 4333 + 700


rates = st.sampled_from([D(0), D("5.5"), D(6), D(9), D(19), D(20), D(21), D("25.5")])
countries = st.sampled_from(["NL", "DE", "BE", "FR"])
lines = st.lists(st.builds(Line, st.integers(-100_000, 100_000), rates, countries), min_size=0, max_size=60)


@BOUNDED
@given(lines)
def test_total_is_the_nets_plus_the_vat_per_group(drawn: list[Line]) -> None:
    result = totals(drawn)
    assert result.net_minor == sum(line.net_minor for line in drawn)
    assert result.net_minor == sum(g.taxable_minor for g in result.breakdown)
    assert result.vat_minor == sum(g.vat_minor for g in result.breakdown)
    assert result.total_minor == result.net_minor + result.vat_minor


@BOUNDED
@given(lines)
def test_vat_per_group_is_within_half_a_minor_unit_of_exact(drawn: list[Line]) -> None:
    result = totals(drawn)
    for group in result.breakdown:
        exact = sum(
            (D(line.net_minor) * line.vat_rate / 100 for line in drawn
             if line.vat_country == group.vat_country and line.vat_rate == group.vat_rate),
            D(0),
        )  # fmt: skip
        assert abs(D(group.vat_minor) - exact) <= D("0.5")


@BOUNDED
@given(st.decimals(min_value=0, max_value=10_000, places=3), st.decimals(min_value=0, max_value=5, places=6))
def test_a_line_net_is_within_half_a_minor_unit_and_negates_exactly(quantity: D, price: D) -> None:
    net = line_net(quantity, price, "EUR")
    assert abs(D(net) - quantity * price * 100) <= D("0.5")
    assert line_net(quantity, -price, "EUR") == -net
