"""OCPP meter values → samples: units, multipliers, phases, signed data, unknown measurands."""

from __future__ import annotations

import datetime as dt

from wattlane.csms.protocol import meter

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def test_16_units_phases_and_skipped_values() -> None:
    value = {
        "timestamp": "2026-11-22T08:00:00Z",
        "sampledValue": [
            {"value": "12.5", "unit": "kWh"},  # the default measurand: the energy register
            {"value": "3.7", "unit": "kW", "measurand": "Power.Active.Import", "phase": "L1"},
            {"value": "3.6", "unit": "kW", "measurand": "Power.Active.Import", "phase": "L2"},
            {"value": "16", "measurand": "Current.Import", "phase": "L1"},
            {"value": "17", "measurand": "Current.Import", "phase": "L2"},
            {"value": "230", "measurand": "Voltage"},
            {"value": "abc", "measurand": "SoC", "unit": "Percent"},
            {"value": "deadbeef", "format": "SignedData", "measurand": "Energy.Active.Export.Register"},
        ],
    }
    sample = meter.sample(value, v201=False, default_time=NOW)
    assert sample is not None
    assert (sample.energy_wh, sample.power_w, sample.current_a, sample.soc_percent) == (
        12500,
        7300,
        17.0,
        None,
    )
    assert sample.at == dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)


def test_201_multiplier_and_whole_meter_over_phases() -> None:
    value = {
        "timestamp": "2026-11-22T08:00:00.000Z",
        "sampledValue": [
            {"value": 4.2, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}},
            {"value": 11000, "measurand": "Power.Active.Import"},
            {"value": 5000, "measurand": "Power.Active.Import", "phase": "L1"},
            {"value": 61, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}},
        ],
    }
    sample = meter.sample(value, v201=True, default_time=NOW)
    assert sample is not None
    assert (sample.energy_wh, sample.power_w, sample.soc_percent) == (4200, 11000, 61.0)


def test_values_without_the_four_measurands_give_no_sample() -> None:
    value = {"timestamp": "2026-11-22T08:00:00Z", "sampledValue": [{"value": "230", "measurand": "Voltage"}]}
    assert meter.samples([value], v201=False, default_time=NOW) == ()
    assert meter.last_energy(()) is None
