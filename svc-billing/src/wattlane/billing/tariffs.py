"""Tariff versions in the OCPI 2.2.1 shape: elements of price components and restrictions.

A `Tariff` is one immutable version, the snapshot a session is priced with and a charge record
keeps (which version is in force when, and where it is stored, is the service's business).
Restrictions switch an element on or off *during* a session (BILLING.md); how they are read
is in `wattlane.billing.plans`. `validate()` names every broken rule by its field path;
`from_ocpi()` reads OCPI JSON (as `json.loads` gives it) and validates it."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from wattlane.billing.errors import InvalidTariff, Violation
from wattlane.core.currencies import is_currency

_HH_MM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
END_OF_DAY = "24:00"  # accepted as an end_time (OCPI's own step-size example uses it)
MINUTES_PER_DAY = 24 * 60
E = TypeVar("E", bound=enum.Enum)


class Dimension(enum.Enum):
    """What a price component prices (OCPI TariffDimensionType)."""

    ENERGY = "ENERGY"  # per kWh; step unit 1 Wh
    FLAT = "FLAT"  # once per session; no step
    TIME = "TIME"  # per hour charging; step unit 1 s
    PARKING_TIME = "PARKING_TIME"  # per hour connected but not charging; step unit 1 s


class DayOfWeek(enum.IntEnum):
    """Days as `date.weekday()` numbers them."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class Reservation(enum.Enum):
    """An element with this restriction prices a reservation, never a charging session."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """Price per unit of one dimension, excluding VAT.

    `vat` is a percentage; None means the tariff gives none, which is not 0% (a cost with no
    VAT rate has no known amount including VAT). `step_size` is in Wh (ENERGY) or seconds (TIME,
    PARKING_TIME); FLAT ignores it (OCPI's free-of-charge example gives 0)."""

    dimension: Dimension
    price: Decimal
    vat: Decimal | None = None
    step_size: int = 1


@dataclass(frozen=True, slots=True)
class Restrictions:
    """When an element applies, all conditions together (absent = no condition).

    Times are local "HH:MM" in the location's time zone, `start_time` inclusive and `end_time`
    exclusive; an `end_time` before `start_time` wraps past midnight (see `wattlane.billing.plans`
    for which day such a window belongs to). Dates are local, `start_date` inclusive, `end_date`
    exclusive. kWh are counted from the session's start, duration in seconds since its start,
    current (A, summed over phases) and power (kW) are the instantaneous meter values: every
    `min_*` is inclusive, every `max_*` exclusive."""

    start_time: str | None = None
    end_time: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[DayOfWeek] = frozenset()
    reservation: Reservation | None = None


@dataclass(frozen=True, slots=True)
class Element:
    """Price components that apply together while the restrictions hold."""

    price_components: tuple[PriceComponent, ...]
    restrictions: Restrictions = field(default_factory=Restrictions)


@dataclass(frozen=True, slots=True)
class Price:
    """An amount excluding VAT and, when known, including it (OCPI Price)."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    """One immutable tariff version: currency, ordered elements, optional session price limits."""

    currency: str
    elements: tuple[Element, ...]
    min_price: Price | None = None
    max_price: Price | None = None
    id: str = ""

    def validate(self) -> None:
        """Raise `InvalidTariff` naming every broken rule by its field path."""
        found: list[Violation] = []
        if not is_currency(self.currency):
            found.append(Violation("currency", f"unknown ISO 4217 currency {self.currency!r}"))
        for name, limit in (("min_price", self.min_price), ("max_price", self.max_price)):
            if limit is not None:
                _check_amount(found, f"{name}.excl_vat", limit.excl_vat)
                if limit.incl_vat is not None:
                    _check_amount(found, f"{name}.incl_vat", limit.incl_vat)
                    if (
                        _finite(limit.excl_vat)
                        and _finite(limit.incl_vat)
                        and limit.incl_vat < limit.excl_vat
                    ):
                        found.append(Violation(f"{name}.incl_vat", "is less than excl_vat"))
        if self.min_price is not None and self.max_price is not None:
            low, high = self.min_price.excl_vat, self.max_price.excl_vat
            if _finite(low) and _finite(high) and low > high:
                found.append(Violation("min_price.excl_vat", "is greater than max_price.excl_vat"))
        if not self.elements:
            found.append(Violation("elements", "a tariff needs at least one element"))
        for i, element in enumerate(self.elements):
            _check_element(found, f"elements[{i}]", element)
        if found:
            raise InvalidTariff(found)


def minutes_of(text: str, *, end: bool = False) -> int:
    """Minutes since midnight of an "HH:MM" restriction time ("24:00" only as an end)."""
    if end and text == END_OF_DAY:
        return MINUTES_PER_DAY
    if not _HH_MM.fullmatch(text):
        raise ValueError(f"not a 24-hour HH:MM time: {text!r}")
    return int(text[:2]) * 60 + int(text[3:])


def _finite(value: Decimal) -> bool:
    return value.is_finite()


def _check_amount(found: list[Violation], path: str, value: Decimal) -> None:
    if not value.is_finite():
        found.append(Violation(path, "must be a finite number"))
    elif value < 0:
        found.append(Violation(path, "must not be negative"))


def _check_element(found: list[Violation], path: str, element: Element) -> None:
    if not element.price_components:
        found.append(Violation(f"{path}.price_components", "an element needs at least one price component"))
    seen: set[Dimension] = set()
    for j, component in enumerate(element.price_components):
        where = f"{path}.price_components[{j}]"
        if component.dimension in seen:
            found.append(Violation(f"{where}.type", f"a second {component.dimension.value} component"))
        seen.add(component.dimension)
        _check_amount(found, f"{where}.price", component.price)
        if component.vat is not None and (
            not component.vat.is_finite() or not Decimal(0) <= component.vat <= Decimal(100)
        ):
            found.append(Violation(f"{where}.vat", "must be a percentage from 0 to 100"))
        lowest = 0 if component.dimension is Dimension.FLAT else 1
        if component.step_size < lowest:
            found.append(Violation(f"{where}.step_size", f"must be at least {lowest}"))
    _check_restrictions(found, f"{path}.restrictions", element.restrictions)


def _check_restrictions(found: list[Violation], path: str, r: Restrictions) -> None:
    for name, text, end in (("start_time", r.start_time, False), ("end_time", r.end_time, True)):
        if text is not None:
            try:
                minutes_of(text, end=end)
            except ValueError as exc:
                found.append(Violation(f"{path}.{name}", str(exc)))
    if r.start_date is not None and r.end_date is not None and r.end_date <= r.start_date:
        found.append(Violation(f"{path}.end_date", "must be after start_date (it is exclusive)"))
    ranges: Sequence[tuple[str, Decimal | int | None, Decimal | int | None]] = (
        ("kwh", r.min_kwh, r.max_kwh),
        ("current", r.min_current, r.max_current),
        ("power", r.min_power, r.max_power),
        ("duration", r.min_duration, r.max_duration),
    )
    for name, low, high in ranges:
        for bound, value in (("min", low), ("max", high)):
            if value is not None:
                _check_amount(found, f"{path}.{bound}_{name}", Decimal(value))
        if (
            low is not None
            and high is not None
            and Decimal(low).is_finite()
            and Decimal(high).is_finite()
            and low >= high
        ):
            found.append(
                Violation(f"{path}.min_{name}", f"must be less than max_{name} (the range is empty)")
            )


# -- OCPI JSON ---------------------------------------------------------------------------------


def from_ocpi(data: Mapping[str, Any]) -> Tariff:
    """A validated `Tariff` from an OCPI 2.2.1 Tariff object (parsed JSON).

    Numbers may be JSON floats (read through their shortest repr, so 0.2 is Decimal("0.2")),
    ints, strings or Decimals (`json.loads(..., parse_float=Decimal)`). Fields pricing does not
    use (country_code, party_id, tariff_alt_text, energy_mix, last_updated, ...) are ignored."""
    found: list[Violation] = []
    reader = _Reader(found)
    currency = reader.text(data, "currency", "currency") or ""
    raw_elements = data.get("elements")
    elements: list[Element] = []
    if not isinstance(raw_elements, list):
        found.append(Violation("elements", "must be a list"))
    else:
        for i, raw in enumerate(raw_elements):
            elements.append(reader.element(raw, f"elements[{i}]"))
    tariff = Tariff(
        currency=currency,
        elements=tuple(elements),
        min_price=reader.price(data.get("min_price"), "min_price"),
        max_price=reader.price(data.get("max_price"), "max_price"),
        id=str(data.get("id", "")),
    )
    if found:
        raise InvalidTariff(found)
    tariff.validate()
    return tariff


class _Reader:
    """Reads OCPI JSON into the dataclasses, noting type errors by path instead of raising."""

    def __init__(self, found: list[Violation]) -> None:
        self.found = found

    def element(self, raw: Any, path: str) -> Element:
        if not isinstance(raw, Mapping):
            self.found.append(Violation(path, "must be an object"))
            return Element(())
        components = raw.get("price_components")
        parsed: list[PriceComponent] = []
        if not isinstance(components, list):
            self.found.append(Violation(f"{path}.price_components", "must be a list"))
        else:
            for j, component in enumerate(components):
                parsed.append(self.component(component, f"{path}.price_components[{j}]"))
        restrictions = raw.get("restrictions")
        return Element(
            tuple(parsed),
            Restrictions()
            if restrictions is None
            else self.restrictions(restrictions, f"{path}.restrictions"),
        )

    def component(self, raw: Any, path: str) -> PriceComponent:
        if not isinstance(raw, Mapping):
            self.found.append(Violation(path, "must be an object"))
            return PriceComponent(Dimension.FLAT, Decimal(0))
        dimension = self.member(Dimension, raw.get("type"), f"{path}.type") or Dimension.FLAT
        step = raw.get("step_size")
        if not isinstance(step, int) or isinstance(step, bool):
            self.found.append(Violation(f"{path}.step_size", "must be an integer"))
            step = 1
        return PriceComponent(
            dimension=dimension,
            price=self.number(raw.get("price"), f"{path}.price") or Decimal(0),
            vat=None if raw.get("vat") is None else self.number(raw["vat"], f"{path}.vat"),
            step_size=step,
        )

    def restrictions(self, raw: Any, path: str) -> Restrictions:
        if not isinstance(raw, Mapping):
            self.found.append(Violation(path, "must be an object"))
            return Restrictions()
        days = raw.get("day_of_week") or []
        if not isinstance(days, list):
            self.found.append(Violation(f"{path}.day_of_week", "must be a list"))
            days = []

        def opt_number(name: str) -> Decimal | None:
            return None if raw.get(name) is None else self.number(raw[name], f"{path}.{name}")

        def opt_seconds(name: str) -> int | None:
            value = raw.get(name)
            if value is None:
                return None
            if not isinstance(value, int) or isinstance(value, bool):
                self.found.append(Violation(f"{path}.{name}", "must be an integer number of seconds"))
                return None
            return value

        return Restrictions(
            start_time=self.text(raw, "start_time", f"{path}.start_time"),
            end_time=self.text(raw, "end_time", f"{path}.end_time"),
            start_date=self.date(raw.get("start_date"), f"{path}.start_date"),
            end_date=self.date(raw.get("end_date"), f"{path}.end_date"),
            min_kwh=opt_number("min_kwh"),
            max_kwh=opt_number("max_kwh"),
            min_current=opt_number("min_current"),
            max_current=opt_number("max_current"),
            min_power=opt_number("min_power"),
            max_power=opt_number("max_power"),
            min_duration=opt_seconds("min_duration"),
            max_duration=opt_seconds("max_duration"),
            day_of_week=frozenset(
                day
                for k, name in enumerate(days)
                if (day := self.day(name, f"{path}.day_of_week[{k}]")) is not None
            ),
            reservation=(
                None
                if raw.get("reservation") is None
                else self.member(Reservation, raw["reservation"], f"{path}.reservation")
            ),
        )

    def price(self, raw: Any, path: str) -> Price | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.found.append(Violation(path, "must be an object"))
            return None
        excl = self.number(raw.get("excl_vat"), f"{path}.excl_vat") or Decimal(0)
        incl = None if raw.get("incl_vat") is None else self.number(raw["incl_vat"], f"{path}.incl_vat")
        return Price(excl, incl)

    def number(self, value: Any, path: str) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            self.found.append(Violation(path, "must be a number"))
            return None
        try:
            return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            self.found.append(Violation(path, "must be a number"))
            return None

    def text(self, raw: Mapping[str, Any], key: str, path: str) -> str | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            self.found.append(Violation(path, "must be a string"))
            return None
        return value

    def date(self, value: Any, path: str) -> date | None:
        if value is None:
            return None
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self.found.append(Violation(path, "must be a date YYYY-MM-DD"))
            return None

    def day(self, value: Any, path: str) -> DayOfWeek | None:
        if isinstance(value, str) and value in DayOfWeek.__members__:
            return DayOfWeek[value]
        self.found.append(Violation(path, f"unknown day {value!r}"))
        return None

    def member(self, kind: type[E], value: Any, path: str) -> E | None:
        try:
            return kind(value)
        except ValueError:
            self.found.append(Violation(path, f"unknown {kind.__name__} {value!r}"))
            return None
