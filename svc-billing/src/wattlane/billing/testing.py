"""Test support for pricing: sessions built from legs, local wall-clock instants.

    session(local("2024-06-03 09:30", "Europe/Berlin"), Leg(minutes(147), wh=20_000, current_a=16),
            Leg(minutes(42), charging=False))

Each leg is a stretch of steady charging or parking: the energy register moves linearly by `wh`
across it (a sample at every leg boundary), and a power or current sample and a status change
are reported at its start when given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from wattlane.billing.sessions import CurrentSample, EnergySample, PowerSample, Session, StatusChange


@dataclass(frozen=True)
class Leg:
    """A stretch of steady charging (or parking when `charging` is False)."""

    duration: timedelta
    wh: int = 0
    power_w: int | Decimal | None = None
    current_a: int | Decimal | None = None
    charging: bool = True


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


def local(text: str, zone: str, *, fold: int = 0) -> datetime:
    """The UTC instant of a local wall-clock reading "YYYY-MM-DD HH:MM[:SS]" (`fold=1`: the second
    of a repeated reading)."""
    wall = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold)
    return wall.astimezone(UTC)


def session(start: datetime, *legs: Leg, register_wh: int = 1_000_000, stop: bool = True) -> Session:
    """A session of `legs` from `start` (the register starting at `register_wh`); `stop=False`
    leaves it going (price it with `until`)."""
    energy = [EnergySample(start, register_wh)]
    power, current, status = [], [], []
    at, wh, charging = start, register_wh, True
    for leg in legs:
        if leg.power_w is not None:
            power.append(PowerSample(at, leg.power_w))
        if leg.current_a is not None:
            current.append(CurrentSample(at, leg.current_a))
        if leg.charging != charging:
            status.append(StatusChange(at, leg.charging))
            charging = leg.charging
        at, wh = at + leg.duration, wh + leg.wh
        if leg.duration:
            energy.append(EnergySample(at, wh))
    return Session(
        start=start,
        stop=at if stop else None,
        energy=tuple(energy),
        power=tuple(power),
        current=tuple(current),
        status=tuple(status),
    )
