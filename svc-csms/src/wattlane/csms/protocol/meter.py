"""OCPP meter values (1.6 MeterValue, 2.0.1 MeterValueType) → the platform's `MeterSample`s.

Only what billing and people read is kept: the energy register (Wh), active power (W), current
(A) and state of charge (%). A value given per phase only is combined (energy and power summed
over the phases, current the highest phase); a value for the whole meter wins over phases.
Signed data and measurands outside these four are skipped (the message log keeps the frame).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from wattlane.csms.protocol.clock import parse_ocpp_time
from wattlane.csms.providers.interfaces import MeterSample

ENERGY = "Energy.Active.Import.Register"  # the default measurand in both versions
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
SOC = "SoC"

# unit → (measurand it may measure, factor to the platform's unit)
_FACTORS = {"Wh": 1.0, "kWh": 1000.0, "W": 1.0, "kW": 1000.0, "A": 1.0, "Percent": 1.0}
_DEFAULT_UNIT = {ENERGY: "Wh", POWER: "W", CURRENT: "A", SOC: "Percent"}


def _number(sampled: dict[str, Any], v201: bool) -> float | None:
    """The sampled value in the platform's unit, or None when it is not a plain number."""
    measurand = sampled.get("measurand", ENERGY)
    if v201:
        unit_of_measure = sampled.get("unitOfMeasure") or {}
        unit = unit_of_measure.get("unit", _DEFAULT_UNIT[measurand])
        raw: Any = sampled["value"] * 10 ** unit_of_measure.get("multiplier", 0)
    else:
        if sampled.get("format") == "SignedData":
            return None
        unit = sampled.get("unit", _DEFAULT_UNIT[measurand])
        raw = sampled["value"]
    factor = _FACTORS.get(unit)
    if factor is None:
        return None
    try:
        value = float(raw) * factor
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _combine(measurand: str, whole: float | None, phases: list[float]) -> float | None:
    if whole is not None:
        return whole
    if not phases:
        return None
    return max(phases) if measurand == CURRENT else sum(phases)


def sample(meter_value: dict[str, Any], *, v201: bool, default_time: datetime) -> MeterSample | None:
    """One meter value as a sample; None when it holds none of the four measurands."""
    whole: dict[str, float] = {}
    phased: dict[str, list[float]] = {}
    for sampled in meter_value.get("sampledValue", ()):
        measurand = sampled.get("measurand", ENERGY)
        if measurand not in _DEFAULT_UNIT:
            continue
        value = _number(sampled, v201)
        if value is None:
            continue
        if sampled.get("phase"):
            phased.setdefault(measurand, []).append(value)
        else:
            whole.setdefault(measurand, value)
    values = {m: _combine(m, whole.get(m), phased.get(m, [])) for m in _DEFAULT_UNIT}
    if all(v is None for v in values.values()):
        return None
    energy, power = values[ENERGY], values[POWER]
    return MeterSample(
        at=parse_ocpp_time(meter_value.get("timestamp"), default_time),
        energy_wh=round(energy) if energy is not None else None,
        power_w=round(power) if power is not None else None,
        current_a=values[CURRENT],
        soc_percent=values[SOC],
    )


def samples(
    meter_values: Iterable[dict[str, Any]] | None, *, v201: bool, default_time: datetime
) -> tuple[MeterSample, ...]:
    """Every meter value that yields a sample, in the order sent."""
    found = (sample(m, v201=v201, default_time=default_time) for m in meter_values or ())
    return tuple(s for s in found if s is not None)


def last_energy(found: Iterable[MeterSample]) -> int | None:
    """The latest energy register reading among `found` (by time), if any."""
    readings = [(s.at, s.energy_wh) for s in found if s.energy_wh is not None]
    return max(readings)[1] if readings else None


def first_energy(found: Iterable[MeterSample]) -> int | None:
    """The earliest energy register reading among `found` (by time), if any."""
    readings = [(s.at, s.energy_wh) for s in found if s.energy_wh is not None]
    return min(readings)[1] if readings else None
