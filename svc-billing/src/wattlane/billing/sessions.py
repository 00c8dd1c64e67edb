"""A charging session's meter data, as pricing reads it.

Instants are timezone-aware (UTC from the CSMS). How values behave between samples:
- the energy register (Wh) is linear between two samples and held before the first and after
  the last (no extrapolation): energy is what the register moved since the session's start;
- power (W), current (A, summed over phases) and charging status hold from their sample until
  the next one; power and current are unknown before their first sample (a restriction on an
  unknown value does not hold), the status is charging until the first change says otherwise
  (status notifications: Charging vs SuspendedEV/SuspendedEVSE/Finishing = connected, parking).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from wattlane.billing.errors import InvalidSession, Violation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(instant: datetime) -> int:
    """Microseconds since the Unix epoch of an aware instant (exact)."""
    return (instant - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC instant `micros` microseconds after the Unix epoch."""
    return EPOCH + timedelta(0, 0, micros)


@dataclass(frozen=True, slots=True)
class EnergySample:
    """A reading of the energy register (Energy.Active.Import.Register), in Wh."""

    at: datetime
    wh: int


@dataclass(frozen=True, slots=True)
class PowerSample:
    """Active power (Power.Active.Import) in W, held until the next sample."""

    at: datetime
    w: int | Decimal


@dataclass(frozen=True, slots=True)
class CurrentSample:
    """Current in A summed over the phases (Current.Import), held until the next sample."""

    at: datetime
    a: int | Decimal


@dataclass(frozen=True, slots=True)
class StatusChange:
    """From `at` on the vehicle is charging (True) or connected without charging (False)."""

    at: datetime
    charging: bool


@dataclass(frozen=True, slots=True)
class Readings:
    """A session's meter data in pricing's units (µs since the epoch, mWh), made once with it."""

    start: int
    stop: int | None
    energy_times: tuple[int, ...]
    energy_mwh: tuple[int, ...]
    power_times: tuple[int, ...]
    power_w: tuple[int | Decimal, ...]
    current_times: tuple[int, ...]
    current_a: tuple[int | Decimal, ...]
    status_times: tuple[int, ...]
    charging: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class Session:
    """What pricing needs of a session: its instants and meter data, each in time order.

    `stop` is None while the session is still going (price it with `until`). Construction
    validates the data (InvalidSession) and converts it once to `readings`."""

    start: datetime
    stop: datetime | None = None
    energy: tuple[EnergySample, ...] = ()
    power: tuple[PowerSample, ...] = ()
    current: tuple[CurrentSample, ...] = ()
    status: tuple[StatusChange, ...] = ()
    readings: Readings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        found: list[Violation] = []
        for name, instant in (("start", self.start), ("stop", self.stop)):
            if instant is not None and instant.utcoffset() is None:
                found.append(Violation(name, "must be timezone-aware"))
        if not found and self.stop is not None and self.stop < self.start:
            found.append(Violation("stop", "is before start"))
        series: Sequence[tuple[str, Sequence[EnergySample | PowerSample | CurrentSample | StatusChange]]] = (
            ("energy", self.energy),
            ("power", self.power),
            ("current", self.current),
            ("status", self.status),
        )
        for name, samples in series:
            previous: datetime | None = None
            for i, sample in enumerate(samples):
                if sample.at.utcoffset() is None:
                    found.append(Violation(f"{name}[{i}].at", "must be timezone-aware"))
                    break
                if previous is not None and sample.at <= previous:
                    found.append(Violation(f"{name}[{i}].at", "must be after the sample before it"))
                    break
                previous = sample.at
        for i, reading in enumerate(self.energy):
            if reading.wh < 0:
                found.append(Violation(f"energy[{i}].wh", "must not be negative"))
            elif i and reading.wh < self.energy[i - 1].wh:
                found.append(Violation(f"energy[{i}].wh", "the register must not go back"))
        if found:
            raise InvalidSession(found)
        readings = Readings(
            start=to_micros(self.start),
            stop=None if self.stop is None else to_micros(self.stop),
            energy_times=tuple(to_micros(s.at) for s in self.energy),
            energy_mwh=tuple(s.wh * 1000 for s in self.energy),
            power_times=tuple(to_micros(s.at) for s in self.power),
            power_w=tuple(s.w for s in self.power),
            current_times=tuple(to_micros(s.at) for s in self.current),
            current_a=tuple(s.a for s in self.current),
            status_times=tuple(to_micros(s.at) for s in self.status),
            charging=tuple(s.charging for s in self.status),
        )
        object.__setattr__(self, "readings", readings)
