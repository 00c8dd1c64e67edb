"""A charge record built from a completed transaction (pure: no service): the charging states and
the location's zone the CSMS will send (fields 25/26), glitchy meter values, payers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from wattlane.billing.catalog import TariffSpec, TariffVersion, spec_from_json, spec_to_json
from wattlane.billing.charge_records import build, payer_of
from wattlane.billing.tariffs import Dimension, Element, PriceComponent, Restrictions, Tariff
from wattlane.billing.transactions import CompletedTransaction, MeterSample, session_of

UTC = dt.UTC
START = dt.datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 in Amsterdam, the night before DST


def version(tariff: Tariff) -> TariffVersion:
    spec = TariffSpec("Test", tariff)
    snapshot = spec_to_json(spec)
    return TariffVersion(
        "T1", "O1", "/o/", 1, START, START, START, 1, spec_from_json(snapshot, "T1"), snapshot
    )


def tx(**kw: object) -> CompletedTransaction:
    base: dict[str, object] = {
        "id": 1,
        "start": START,
        "stop": START + dt.timedelta(hours=3),
        "meter_start_wh": 0,
        "meter_stop_wh": 9000,
        "energy_wh": 9000,
        "owner_id": "O1",
        "rate_plan": "tariffs/T1",
    }
    base.update(kw)
    return CompletedTransaction(**base)  # type: ignore[arg-type]


def test_snapshots_round_trip_every_restriction() -> None:
    tariff = Tariff(
        "EUR",
        (
            Element(
                (PriceComponent(Dimension.ENERGY, Decimal("0.25"), Decimal("21"), 100),),
                Restrictions(
                    start_time="22:00",
                    end_time="06:00",
                    min_kwh=Decimal("1.5"),
                    max_duration=7200,
                    day_of_week=frozenset(),
                ),
            ),
            Element((PriceComponent(Dimension.PARKING_TIME, Decimal("2.00")),)),
        ),
    )
    assert spec_from_json(spec_to_json(TariffSpec("x", tariff))).tariff == tariff


def test_parking_after_charging_is_priced_as_parking_in_the_location_s_zone() -> None:
    tariff = Tariff(
        "EUR",
        (
            Element(
                (
                    PriceComponent(Dimension.ENERGY, Decimal("0.30"), Decimal("21")),
                    PriceComponent(Dimension.PARKING_TIME, Decimal("6.00"), Decimal("21")),
                ),
            ),
        ),
    )
    # Charging for 2 hours, then parked for the last hour.
    record = build(
        tx(
            charging_states=((START + dt.timedelta(hours=2), False),),
            time_zone="Europe/Amsterdam",
            samples=(MeterSample(START + dt.timedelta(hours=2), energy_wh=9000),),
        ),
        version(tariff),
        owner_path="/o/",
        card_owner_path="",
    )
    assert record.time_zone == "Europe/Amsterdam"
    assert Decimal(record.total_excl_vat) == Decimal("2.70") + Decimal("6.00")
    assert record.priced["parking_seconds"] == "3600.000000"
    # Before the CSMS sends states and zone: charging throughout, UTC.
    plain = build(tx(), version(tariff), owner_path="/o/", card_owner_path="")
    assert plain.time_zone == "UTC" and Decimal(plain.total_excl_vat) == Decimal("2.70")
    unknown = build(tx(time_zone="Mars/Olympus_Mons"), version(tariff), owner_path="/o/", card_owner_path="")
    assert unknown.time_zone == "UTC"


def test_glitchy_meter_values_are_left_out_not_fatal() -> None:
    samples = (
        MeterSample(START + dt.timedelta(hours=1), energy_wh=5000),
        MeterSample(START + dt.timedelta(hours=1, minutes=30), energy_wh=4000),  # register went back
        MeterSample(START - dt.timedelta(hours=1), energy_wh=10),  # before the start
        MeterSample(START + dt.timedelta(hours=2), power_w=7000),
    )
    session = session_of(tx(samples=samples))
    assert [s.wh for s in session.energy] == [0, 5000, 9000]
    assert len(session.power) == 1
    # Only a total: spread evenly.
    only_total = session_of(tx(meter_start_wh=None, meter_stop_wh=None, energy_wh=3000))
    assert [s.wh for s in only_total.energy] == [0, 3000]
    # A stop before the start (a station clock jump) is a zero-length session, not an error.
    backwards = session_of(tx(stop=START - dt.timedelta(minutes=5)))
    assert backwards.stop == START


def test_who_pays() -> None:
    assert payer_of(tx(payer="free", cardholder_id="U1")) == ("FREE", "")
    assert payer_of(tx(payer="cardholder", cardholder_id="U1", card_owner_id="C1")) == (
        "CARDHOLDER",
        "users/U1",
    )
    assert payer_of(tx(payer="cardholder", card_owner_id="C1")) == ("CARDHOLDER", "tenants/C1")
    assert payer_of(tx(payer="roaming", card_owner_id="R1")) == ("ROAMING", "tenants/R1")
    assert payer_of(tx(payer="", cardholder_id="U1")) == ("", "users/U1")
