"""Tariff validation names every broken rule by its field path; from_ocpi reads OCPI JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from wattlane.billing.errors import InvalidSession, InvalidTariff
from wattlane.billing.sessions import EnergySample, Session
from wattlane.billing.tariffs import (
    DayOfWeek,
    Dimension,
    Element,
    Price,
    PriceComponent,
    Restrictions,
    Tariff,
    from_ocpi,
)

ENERGY = PriceComponent(Dimension.ENERGY, D("0.25"), D(21))


def fields(tariff: Tariff) -> list[str]:
    with pytest.raises(InvalidTariff) as error:
        tariff.validate()
    return error.value.fields


def test_a_valid_tariff_passes() -> None:
    Tariff("EUR", (Element((ENERGY,)),), min_price=Price(D(1), D("1.21"))).validate()


def test_step_size_below_one_is_named_by_its_path() -> None:
    bad = PriceComponent(Dimension.TIME, D(2), D(21), step_size=0)
    tariff = Tariff("EUR", (Element((ENERGY,)), Element((bad,))))
    assert fields(tariff) == ["elements[1].price_components[0].step_size"]


def test_flat_ignores_its_step_size() -> None:
    Tariff("EUR", (Element((PriceComponent(Dimension.FLAT, D(0), None, 0),)),)).validate()


@pytest.mark.parametrize(
    ("tariff", "expected"),
    [
        (Tariff("EUX", (Element((ENERGY,)),)), ["currency"]),
        (Tariff("EUR", ()), ["elements"]),
        (Tariff("EUR", (Element(()),)), ["elements[0].price_components"]),
        (
            Tariff("EUR", (Element((PriceComponent(Dimension.ENERGY, D("-0.01")),)),)),
            ["elements[0].price_components[0].price"],
        ),
        (
            Tariff("EUR", (Element((PriceComponent(Dimension.ENERGY, D(1), D(101)),)),)),
            ["elements[0].price_components[0].vat"],
        ),
        (Tariff("EUR", (Element((ENERGY, ENERGY)),)), ["elements[0].price_components[1].type"]),
        (
            Tariff("EUR", (Element((ENERGY,), Restrictions(start_time="7:00", end_time="24:01")),)),
            ["elements[0].restrictions.start_time", "elements[0].restrictions.end_time"],
        ),
        (
            Tariff(
                "EUR",
                (Element((ENERGY,), Restrictions(start_date=date(2024, 5, 1), end_date=date(2024, 5, 1))),),
            ),
            ["elements[0].restrictions.end_date"],
        ),
        (
            Tariff("EUR", (Element((ENERGY,)), Element((ENERGY,), Restrictions(min_kwh=D(5), max_kwh=D(2))))),
            ["elements[1].restrictions.min_kwh"],
        ),
        (
            Tariff(
                "EUR", (Element((ENERGY,), Restrictions(min_power=D(-1), max_duration=0, min_duration=0)),)
            ),
            ["elements[0].restrictions.min_power", "elements[0].restrictions.min_duration"],
        ),
        (
            Tariff("EUR", (Element((ENERGY,)),), min_price=Price(D(5), D(4)), max_price=Price(D(3))),
            ["min_price.incl_vat", "min_price.excl_vat"],
        ),
    ],
)
def test_every_broken_rule_is_named(tariff: Tariff, expected: list[str]) -> None:
    assert fields(tariff) == expected


def test_end_of_day_is_a_valid_end_time_only() -> None:
    Tariff("EUR", (Element((ENERGY,), Restrictions(start_time="20:00", end_time="24:00")),)).validate()
    assert fields(Tariff("EUR", (Element((ENERGY,), Restrictions(start_time="24:00")),))) == [
        "elements[0].restrictions.start_time"
    ]


def ocpi(**overrides: Any) -> dict[str, Any]:
    tariff: dict[str, Any] = {
        "id": "7",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": 0.2, "vat": 21, "step_size": 1}],
                "restrictions": {
                    "start_time": "07:00",
                    "end_time": "23:00",
                    "day_of_week": ["MONDAY", "FRIDAY"],
                },
            }
        ],
        "min_price": {"excl_vat": 0.5},
    }
    tariff.update(overrides)
    return tariff


def test_from_ocpi_reads_floats_by_their_shortest_repr() -> None:
    tariff = from_ocpi(ocpi())
    component = tariff.elements[0].price_components[0]
    assert (component.price, component.vat) == (D("0.2"), D(21))
    assert tariff.elements[0].restrictions.day_of_week == {DayOfWeek.MONDAY, DayOfWeek.FRIDAY}
    assert tariff.min_price == Price(D("0.5"), None)
    assert tariff.id == "7"


def test_from_ocpi_names_type_errors_and_rule_breaks_by_path() -> None:
    data = ocpi()
    data["elements"][0]["price_components"][0]["step_size"] = 1.5
    data["elements"][0]["restrictions"]["day_of_week"] = ["FRIDAY", "FUNDAY"]
    with pytest.raises(InvalidTariff) as error:
        from_ocpi(data)
    assert error.value.fields == [
        "elements[0].price_components[0].step_size",
        "elements[0].restrictions.day_of_week[1]",
    ]
    with pytest.raises(InvalidTariff) as error:
        from_ocpi(ocpi(currency="XXX"))
    assert error.value.fields == ["currency"]


def test_sessions_reject_naive_instants_and_registers_going_back() -> None:
    start = datetime(2024, 6, 4, 8, tzinfo=UTC)
    with pytest.raises(InvalidSession) as error:
        Session(start.replace(tzinfo=None))
    assert error.value.fields == ["start"]
    with pytest.raises(InvalidSession) as error:
        Session(start, start, energy=(EnergySample(start, 10), EnergySample(start.replace(hour=9), 9)))
    assert error.value.fields == ["energy[1].wh"]
