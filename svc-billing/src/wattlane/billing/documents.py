"""A priced session as a JSON document: what PreviewPrice and PriceSession answer and what a
charge record keeps (field names as the API's `PricedSession`, decimals as exact strings,
instants as RFC 3339 UTC). Built from `pricing.price`'s result; no I/O.

Per period the cost of a dimension is its billed quantity times the price of the component
pricing it there (an illustration of where the money comes from); the totals are pricing's own,
exact figures, and the total cost is the one that counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from wattlane.billing.pricing import ChargingPeriod, Cost, DimensionTotal, PricedSession
from wattlane.billing.tariffs import Dimension, Tariff

_HOUR = Decimal(3600)
_KWH = Decimal(1000)


def instant(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _number(value: Decimal | int) -> str:
    text = str(value)
    return text


def _cost(cost: Cost) -> dict[str, str]:
    out = {"excl_vat": _number(cost.excl_vat)}
    if cost.incl_vat is not None:
        out["incl_vat"] = _number(cost.incl_vat)
    return out


def _component_price(
    tariff: Tariff, element: int | None, dimension: Dimension
) -> tuple[Decimal, Decimal | None]:
    if element is None:
        return Decimal(0), None
    for component in tariff.elements[element].price_components:
        if component.dimension is dimension:
            return component.price, component.vat
    return Decimal(0), None


def _line(
    dimension: Dimension,
    quantity: Decimal,
    billed: Decimal,
    price: Decimal,
    vat: Decimal | None,
    element: int | None,
    unit: Decimal,
) -> dict[str, Any]:
    excl = billed / unit * price if element is not None else Decimal(0)
    cost: dict[str, str] = {"excl_vat": _number(excl)}
    if vat is not None:
        cost["incl_vat"] = _number(excl * (1 + vat / 100))
    elif not excl:
        cost["incl_vat"] = "0"
    return {
        "type": dimension.value,
        "quantity": _number(quantity),
        "billed_quantity": _number(billed),
        "cost": cost,
        "vat": "" if vat is None else _number(vat),
        "element": -1 if element is None else element,
    }


def _period(tariff: Tariff, period: ChargingPeriod) -> dict[str, Any]:
    dimensions = []
    price, vat = _component_price(tariff, period.energy_element, Dimension.ENERGY)
    dimensions.append(
        _line(
            Dimension.ENERGY,
            period.energy_wh,
            period.billed_energy_wh,
            price,
            vat,
            period.energy_element,
            _KWH,
        )
    )
    kind = Dimension.TIME if period.charging else Dimension.PARKING_TIME
    seconds = period.charging_s if period.charging else period.parking_s
    price, vat = _component_price(tariff, period.time_element, kind)
    dimensions.append(_line(kind, seconds, period.billed_time_s, price, vat, period.time_element, _HOUR))
    return {
        "start_time": instant(period.start),
        "end_time": instant(period.end),
        "charging": period.charging,
        "energy_wh": _number(period.energy_wh),
        "dimensions": dimensions,
    }


def _total(priced: PricedSession, dimension: Dimension, total: DimensionTotal) -> dict[str, Any] | None:
    lines = [line for line in priced.lines if line.dimension is dimension]
    if not total.quantity and not lines:
        return None
    single = lines[0] if len(lines) == 1 else None
    return {
        "type": dimension.value,
        "quantity": _number(total.quantity),
        "billed_quantity": _number(total.billed),
        "cost": _cost(total.cost),
        "vat": "" if single is None or single.vat is None else _number(single.vat),
        "element": single.element if single is not None else -1,
    }


def priced_document(
    priced: PricedSession, tariff: Tariff, *, tariff_name: str, version: int, time_zone: str
) -> dict[str, Any]:
    """The document of a priced session."""
    totals = [
        _total(priced, dimension, total)
        for dimension, total in (
            (Dimension.ENERGY, priced.energy),
            (Dimension.FLAT, priced.flat),
            (Dimension.TIME, priced.time),
            (Dimension.PARKING_TIME, priced.parking_time),
        )
    ]
    return {
        "tariff": tariff_name,
        "tariff_version": version,
        "currency": priced.currency,
        "time_zone": time_zone,
        "periods": [_period(tariff, p) for p in priced.periods],
        "totals": [t for t in totals if t is not None],
        "total_cost": _cost(priced.total),
        "limited_by": priced.limited_by or "",
        "energy_wh": _number(priced.energy.quantity),
        "charging_seconds": _number(priced.time.quantity),
        "parking_seconds": _number(priced.parking_time.quantity),
    }


def unpriced_document(
    *, time_zone: str, start: dt.datetime, stop: dt.datetime, energy_wh: int
) -> dict[str, Any]:
    """A session without a tariff: one period, nothing to pay."""
    seconds = Decimal(int((stop - start).total_seconds()))
    return {
        "tariff": "",
        "tariff_version": 0,
        "currency": "",
        "time_zone": time_zone,
        "periods": [
            {
                "start_time": instant(start),
                "end_time": instant(stop),
                "charging": True,
                "energy_wh": str(energy_wh),
                "dimensions": [],
            }
        ],
        "totals": [],
        "total_cost": {"excl_vat": "0", "incl_vat": "0"},
        "limited_by": "",
        "energy_wh": str(energy_wh),
        "charging_seconds": str(seconds),
        "parking_seconds": "0",
    }
