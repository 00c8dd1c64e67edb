"""Proto <-> domain for tariffs, sessions and priced documents; bad input is INVALID_ARGUMENT
naming the request field (unknown enum numbers and out-of-range timestamps included)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf import json_format

from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.billing.catalog import TariffSpec, TariffVersion
from wattlane.billing.errors import InvalidSession, InvalidTariff, PricingError
from wattlane.billing.sessions import CurrentSample, EnergySample, PowerSample, Session, StatusChange
from wattlane.billing.tariffs import from_ocpi
from wattlane.core import validation
from wattlane.core.errors import FieldViolation, InvalidArgument
from wattlane.core.timestamps import instant, optional_instant, to_timestamp

_DIMENSIONS: dict[int, str] = {int(v): k for k, v in tariffs_pb2.Dimension.items() if v}
_DAYS: dict[int, str] = {int(v): k for k, v in tariffs_pb2.DayOfWeek.items() if v}
_TYPES: dict[int, str] = {int(v): k for k, v in tariffs_pb2.TariffType.items() if v}
_PURPOSES: dict[int, str] = {int(v): k for k, v in tariffs_pb2.TariffPurpose.items() if v}


def pricing_error(
    error: PricingError, prefix: str, renames: Mapping[str, str] | None = None
) -> InvalidArgument:
    """A pricing domain error as INVALID_ARGUMENT with the request's field paths."""
    violations = []
    for v in error.violations:
        path = v.field
        for old, new in (renames or {}).items():
            path = path.replace(old, new)
        violations.append(FieldViolation(f"{prefix}{path}", v.description))
    return InvalidArgument(violations, reason=error.reason)


# --- tariffs -----------------------------------------------------------------------------------


def _enum(found: list[FieldViolation], names: Mapping[int, str], number: int, field: str) -> str | None:
    if number in names:
        return names[number]
    found.append(FieldViolation(field, "is required" if number == 0 else f"is not a known value ({number})"))
    return None


def _ocpi_element(
    found: list[FieldViolation], element: tariffs_pb2.TariffElement, path: str
) -> dict[str, Any]:
    components = []
    for j, c in enumerate(element.price_components):
        where = f"{path}.price_components[{j}]"
        component: dict[str, Any] = {
            "type": _enum(found, _DIMENSIONS, c.type, f"{where}.type") or "FLAT",
            "price": c.price,
            "step_size": c.step_size,
        }
        if c.HasField("vat"):
            component["vat"] = c.vat
        components.append(component)
    data: dict[str, Any] = {"price_components": components}
    if element.HasField("restrictions"):
        r = element.restrictions
        restrictions: dict[str, Any] = {}
        for key in ("start_time", "end_time", "start_date", "end_date"):
            if getattr(r, key):
                restrictions[key] = getattr(r, key)
        for key in (
            "min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power",
            "min_duration", "max_duration",
        ):  # fmt: skip
            if r.HasField(key):  # type: ignore[arg-type]
                restrictions[key] = getattr(r, key)
        days = [
            _enum(found, _DAYS, d, f"{path}.restrictions.day_of_week[{k}]")
            for k, d in enumerate(r.day_of_week)
        ]
        if r.day_of_week:
            restrictions["day_of_week"] = [d for d in days if d is not None]
        data["restrictions"] = restrictions
    return data


def _price(message: tariffs_pb2.Price) -> dict[str, Any]:
    out: dict[str, Any] = {"excl_vat": message.excl_vat}
    if message.incl_vat:
        out["incl_vat"] = message.incl_vat
    return out


def tariff_spec(message: tariffs_pb2.Tariff, field: str = "tariff") -> TariffSpec:
    """A request's tariff as a validated domain spec; every broken rule named by its field."""
    found: list[FieldViolation] = []
    display_name = ""
    try:
        display_name = validation.text(message.display_name, f"{field}.display_name")
    except InvalidArgument as error:
        found.extend(error.violations)
    purpose = _enum(found, _PURPOSES, message.purpose, f"{field}.purpose") if message.purpose else "CHARGING"
    kind = _enum(found, _TYPES, message.type, f"{field}.type") if message.type else ""
    texts = []
    for k, text in enumerate(message.display_texts):
        try:
            texts.append(
                (
                    validation.locale(text.language, f"{field}.display_texts[{k}].language"),
                    validation.text(text.text, f"{field}.display_texts[{k}].text", max_length=500),
                )
            )
        except InvalidArgument as error:
            found.extend(error.violations)
    ocpi: dict[str, Any] = {
        "currency": message.currency,
        "elements": [_ocpi_element(found, e, f"elements[{i}]") for i, e in enumerate(message.elements)],
    }
    if message.HasField("min_price"):
        ocpi["min_price"] = _price(message.min_price)
    if message.HasField("max_price"):
        ocpi["max_price"] = _price(message.max_price)
    # Enum violations were named with paths relative to the tariff; give them the prefix.
    found = [
        v if v.field.startswith(f"{field}.") else FieldViolation(f"{field}.{v.field}", v.description)
        for v in found
    ]
    try:
        tariff = from_ocpi(ocpi)
    except InvalidTariff as error:
        found.extend(FieldViolation(f"{field}.{v.field}", v.description) for v in error.violations)
        raise InvalidArgument(_unique(found), reason=error.reason) from None
    if found:
        raise InvalidArgument(_unique(found))
    return TariffSpec(
        display_name=display_name,
        tariff=tariff,
        purpose=purpose or "CHARGING",
        type=kind or "",
        display_texts=tuple(texts),
    )


def _unique(found: Sequence[FieldViolation]) -> list[FieldViolation]:
    seen: set[tuple[str, str]] = set()
    out = []
    for v in found:
        if (v.field, v.description) not in seen:
            seen.add((v.field, v.description))
            out.append(v)
    return out


def tariff_message(version: TariffVersion) -> tariffs_pb2.Tariff:
    """A stored version as the API shows it."""
    return snapshot_message(
        version.snapshot,
        name=version.name,
        parent=f"tenants/{version.owner_id}",
        version=version.version,
        effective_from=version.effective_from,
        create_time=version.create_time,
        update_time=version.update_time,
        etag=str(version.latest_version),
    )


def snapshot_message(
    snapshot: Mapping[str, Any],
    *,
    name: str,
    parent: str,
    version: int,
    effective_from: dt.datetime | None = None,
    create_time: dt.datetime | None = None,
    update_time: dt.datetime | None = None,
    etag: str = "",
) -> tariffs_pb2.Tariff:
    """A version's snapshot (also a charge record's copy) as a Tariff message."""
    data = {k: v for k, v in snapshot.items() if k not in ("type", "purpose")}
    message = json_format.ParseDict(data, tariffs_pb2.Tariff(), ignore_unknown_fields=True)
    message.purpose = tariffs_pb2.TariffPurpose.Value(str(snapshot.get("purpose") or "CHARGING"))
    if snapshot.get("type"):
        message.type = tariffs_pb2.TariffType.Value(str(snapshot["type"]))
    message.name, message.parent, message.version, message.etag = name, parent, version, etag
    for key, value in (
        ("effective_from", effective_from),
        ("create_time", create_time),
        ("update_time", update_time),
    ):
        if value is not None:
            getattr(message, key).CopyFrom(to_timestamp(value))
    return message


# --- sessions ----------------------------------------------------------------------------------

_SESSION_RENAMES = {".at": ".time", "status[": "charging_states[", "start": "start_time", "stop": "stop_time"}


def _decimal(found: list[FieldViolation], text: str, field: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        found.append(FieldViolation(field, "must be a decimal number"))
        return None
    if not value.is_finite():
        found.append(FieldViolation(field, "must be a finite number"))
        return None
    return value


def session_from_readings(readings: tariffs_pb2.SessionReadings, field: str = "readings") -> Session:
    """A request's meter data as a pricing session."""
    if not readings.HasField("start_time"):
        raise InvalidArgument.field(f"{field}.start_time", "is required")
    start = instant(readings.start_time, f"{field}.start_time")
    stop = optional_instant(readings, "stop_time", f"{field}.stop_time")
    found: list[FieldViolation] = []
    energy = []
    for i, s in enumerate(readings.energy):
        energy.append(EnergySample(instant(s.time, f"{field}.energy[{i}].time"), s.wh))
    power = []
    for i, p in enumerate(readings.power):
        value = _decimal(found, p.value, f"{field}.power[{i}].value")
        power.append(PowerSample(instant(p.time, f"{field}.power[{i}].time"), value or Decimal(0)))
    current = []
    for i, c in enumerate(readings.current):
        value = _decimal(found, c.value, f"{field}.current[{i}].value")
        current.append(CurrentSample(instant(c.time, f"{field}.current[{i}].time"), value or Decimal(0)))
    states = [
        StatusChange(instant(s.time, f"{field}.charging_states[{i}].time"), s.charging)
        for i, s in enumerate(readings.charging_states)
    ]
    if found:
        raise InvalidArgument(found)
    try:
        return Session(start, stop, tuple(energy), tuple(power), tuple(current), tuple(states))
    except InvalidSession as error:
        raise pricing_error(error, f"{field}.", _SESSION_RENAMES) from None


def simple_session(energy_wh: int, start: dt.datetime, stop: dt.datetime) -> Session:
    """`energy_wh` charged evenly from `start` to `stop` (the simple form of PreviewPrice)."""
    if energy_wh < 0:
        raise InvalidArgument.field("energy_wh", "must not be negative")
    if stop <= start:
        raise InvalidArgument.field("stop_time", "must be after start_time")
    return Session(start, stop, (EnergySample(start, 0), EnergySample(stop, energy_wh)))


def priced_message(document: Mapping[str, Any]) -> tariffs_pb2.PricedSession:
    """A priced document (`wattlane.billing.documents`) as the API's PricedSession."""
    return json_format.ParseDict(dict(document), tariffs_pb2.PricedSession())
