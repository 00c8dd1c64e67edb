"""In-memory providers: real dict-backed implementations for tests and the local demo."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import itertools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    BootInfo,
    ConnectionAttempt,
    LogEntry,
    MeterSample,
    Providers,
    ProviderUnavailable,
    SessionCost,
    SessionToPrice,
    StationNotice,
    StationOwner,
    StatusChange,
    TransactionChange,
    TransactionEnd,
    TransactionStart,
)
from wattlane.csms.registry.messagelog import BatchingMessageLog


def _digest(secret: bytes, password: bytes) -> bytes:
    # Station keys are random, so a keyed HMAC is enough (and fast): no password hashing needed.
    return hmac.new(secret, password, hashlib.sha256).digest()


@dataclass
class _Station:
    key_digest: bytes | None
    certificate_cn: str | None
    owner: StationOwner | None = None


class InMemoryStations:
    """A `StationCredentials` backed by a dict; optionally accepts a pattern of demo identities."""

    def __init__(
        self,
        *,
        pattern: str | None = None,
        pattern_password: str | None = None,
        pattern_owner: StationOwner | None = None,
        max_unclaimed: int = 10_000,
    ) -> None:
        self._secret = secrets.token_bytes(32)
        self._stations: dict[str, _Station] = {}
        self._pattern = re.compile(pattern) if pattern else None
        self._pattern_digest = _digest(self._secret, pattern_password.encode()) if pattern_password else None
        self._pattern_owner = pattern_owner
        self.unclaimed: collections.deque[ConnectionAttempt] = collections.deque(maxlen=max_unclaimed)

    def add(
        self,
        identity: str,
        password: str | None = None,
        *,
        certificate_cn: str | None = None,
        owner: StationOwner | None = None,
    ) -> None:
        """Register a station with a Basic password and/or the CN its client certificate must carry."""
        digest = _digest(self._secret, password.encode()) if password is not None else None
        self._stations[identity] = _Station(
            digest, certificate_cn if certificate_cn is not None else identity, owner
        )

    def remove(self, identity: str) -> None:
        """Forget a station."""
        self._stations.pop(identity, None)

    def _matches_pattern(self, identity: str) -> bool:
        return self._pattern is not None and self._pattern.fullmatch(identity) is not None

    async def is_known(self, identity: str) -> bool:
        """True for a registered identity or one matching the demo pattern."""
        return identity in self._stations or self._matches_pattern(identity)

    async def verify_password(self, identity: str, password: bytes) -> bool:
        """Compare the HMAC of `password` with the stored one in constant time."""
        station = self._stations.get(identity)
        if station is not None:
            expected = station.key_digest
        elif self._matches_pattern(identity):
            expected = self._pattern_digest
        else:
            return False
        return expected is not None and hmac.compare_digest(expected, _digest(self._secret, password))

    async def verify_certificate(self, identity: str, subject_cn: str) -> bool:
        """True when the certificate's CN is the one registered for the station."""
        station = self._stations.get(identity)
        if station is None:
            return self._matches_pattern(identity) and subject_cn == identity
        return station.certificate_cn == subject_cn

    async def record_unclaimed(self, attempt: ConnectionAttempt) -> None:
        """Keep the attempt (bounded) for an operator to claim."""
        self.unclaimed.append(attempt)

    async def owner(self, identity: str) -> StationOwner | None:
        """The owner given to `add` (or the demo pattern's owner)."""
        station = self._stations.get(identity)
        if station is not None:
            return station.owner
        return self._pattern_owner if self._matches_pattern(identity) else None


class InMemoryAccess:
    """An `AccessDecider` backed by a dict of tokens; unknown tokens are Invalid.

    `available = False` makes it raise `ProviderUnavailable`, as a real decider does on an outage.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, AccessDecision] = {}
        self.available = True
        self.calls = 0

    def set(self, id_token: str, decision: AccessDecision) -> None:
        """Store the decision for `id_token` (at every station)."""
        self._tokens[id_token] = decision

    async def decide(self, identity: str, id_token: str, token_type: str) -> AccessDecision:
        """Look the token up."""
        self.calls += 1
        if not self.available:
            raise ProviderUnavailable("access decisions are unavailable")
        return self._tokens.get(id_token, AccessDecision(AccessStatus.INVALID, reason="unknown token"))


class InMemoryEvents:
    """A `StationEvents` that keeps the latest state per station (and recent notices)."""

    def __init__(self, max_notices: int = 10_000) -> None:
        self.online: dict[str, bool] = {}
        self.versions: dict[str, OcppVersion] = {}
        self.boots: dict[str, BootInfo] = {}
        self.statuses: dict[tuple[str, int, int], StatusChange] = {}
        self.notices: collections.deque[StationNotice] = collections.deque(maxlen=max_notices)
        self.offline_reasons: dict[str, str] = {}
        self.last_seen: dict[str, datetime] = {}

    async def station_online(
        self, identity: str, version: OcppVersion, remote_address: str, at: datetime
    ) -> None:
        """Mark the station online."""
        self.online[identity] = True
        self.versions[identity] = version

    async def station_offline(self, identity: str, at: datetime, reason: str) -> None:
        """Mark the station offline."""
        self.online[identity] = False
        self.offline_reasons[identity] = reason

    async def station_booted(self, boot: BootInfo) -> None:
        """Keep the last boot report."""
        self.boots[boot.identity] = boot

    async def station_seen(self, identity: str, at: datetime) -> None:
        """Keep the time."""
        self.last_seen[identity] = at

    async def status_changed(self, change: StatusChange) -> None:
        """Keep the latest status per (station, evse, connector)."""
        self.statuses[(change.identity, change.evse_id, change.connector_id)] = change

    async def station_notice(self, notice: StationNotice) -> None:
        """Keep the notice."""
        self.notices.append(notice)

    def online_count(self) -> int:
        """How many stations are online now."""
        return sum(1 for up in self.online.values() if up)


class MemoryLogSink:
    """A `MessageSink` keeping the most recent entries in memory."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.entries: collections.deque[LogEntry] = collections.deque(maxlen=max_entries)
        self.batches = 0

    async def write_batch(self, entries: Sequence[LogEntry]) -> None:
        """Append the batch."""
        self.entries.extend(entries)
        self.batches += 1


@dataclass
class MemoryTransaction:
    """A transaction as the in-memory store keeps it."""

    id: int
    start: TransactionStart
    samples: dict[datetime, MeterSample]
    end: TransactionEnd | None = None
    charging_states: list[tuple[datetime, bool]] = field(default_factory=list)


class InMemoryTransactions:
    """A `TransactionStore` in dicts (tests, the bench without a database): same answers as the
    database store, nothing survives the process."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.by_id: dict[int, MemoryTransaction] = {}
        self._by_key: dict[tuple[str, str], int] = {}
        self.completed: list[int] = []  # ids in the order they ended (the handoff's outbox)

    async def record(self, change: TransactionChange) -> int | None:
        """Find or create the transaction, add new samples, end it once."""
        if change.start is not None:
            key = (change.identity, change.start.key)
            transaction_id = self._by_key.get(key)
            if transaction_id is None:
                transaction_id = next(self._ids)
                self._by_key[key] = transaction_id
                self.by_id[transaction_id] = MemoryTransaction(transaction_id, change.start, {})
        elif change.transaction_id is None and change.charging is not None:
            transaction_id = self._active_on(change.identity, change.charging.evse_id)
        else:
            transaction_id = change.transaction_id
        found = self.by_id.get(transaction_id) if transaction_id is not None else None
        if found is None or found.start.identity != change.identity:
            return None
        for sample in change.samples:
            found.samples.setdefault(sample.at, sample)
        if change.charging is not None and found.end is None:
            earlier = [c for t, c in found.charging_states if t <= change.charging.at]
            if not earlier or earlier[-1] != change.charging.charging:
                found.charging_states.append((change.charging.at, change.charging.charging))
                found.charging_states.sort()
        if change.end is not None and found.end is None:
            found.end = change.end
            self.completed.append(found.id)
        return found.id

    def _active_on(self, identity: str, evse_id: int) -> int | None:
        active = [
            t.id
            for t in self.by_id.values()
            if t.start.identity == identity and t.start.evse_id == evse_id and t.end is None
        ]
        return max(active, default=None)

    async def to_price(self, transaction_id: int) -> SessionToPrice | None:
        """The transaction with its samples in time order (none when it has no tariff)."""
        found = self.by_id.get(transaction_id)
        if found is None:
            return None
        decision = found.start.decision
        tariff = decision.rate_plan
        return SessionToPrice(
            transaction_id=found.id,
            tariff=tariff,
            time_zone=decision.time_zone,
            start_time=found.start.at,
            meter_start_wh=found.start.meter_start_wh,
            stop_time=found.end.at if found.end is not None else None,
            meter_stop_wh=found.end.meter_stop_wh if found.end is not None else None,
            samples=tuple(found.samples[t] for t in sorted(found.samples)) if tariff else (),
            charging_states=tuple(found.charging_states) if tariff else (),
        )


@dataclass(frozen=True, slots=True)
class FlatTariff:
    """A tariff the in-memory pricing understands: a price per kWh and a fee per session, both
    including VAT."""

    currency: str
    kwh_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass
class InMemoryPricing:
    """A `Pricing` for tests and runs without billing: energy since the start times the tariff's
    kWh price, plus its flat fee. `available = False` makes it raise `ProviderUnavailable` as an
    unreachable billing does; `delay` makes it slow."""

    tariffs: dict[str, FlatTariff] = field(default_factory=dict)
    available: bool = True
    delay: float = 0.0
    calls: list[tuple[SessionToPrice, datetime]] = field(default_factory=list)

    async def price(self, session: SessionToPrice, until: datetime) -> SessionCost | None:
        """The cost of the energy metered up to `until` (the stop time once ended); None for a
        tariff it does not know."""
        self.calls.append((session, until))
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.available:
            raise ProviderUnavailable("pricing is unavailable")
        tariff = self.tariffs.get(session.tariff)
        if tariff is None:
            return None
        energy_wh = session_energy_wh(session, until)
        total = tariff.flat_fee + tariff.kwh_price * Decimal(energy_wh) / 1000
        return SessionCost(
            tariff.currency,
            total,
            energy_wh=energy_wh,
            kwh_price=tariff.kwh_price,
            hour_price=Decimal(0),
            flat_fee=tariff.flat_fee,
        )


def session_energy_wh(session: SessionToPrice, until: datetime) -> int:
    """Energy from the start reading (or the first sample) to the last reading up to `until`."""
    readings = [(s.at, s.energy_wh) for s in session.samples if s.energy_wh is not None and s.at <= until]
    if session.meter_stop_wh is not None and session.stop_time is not None and session.stop_time <= until:
        readings.append((session.stop_time, session.meter_stop_wh))
    first = (
        session.meter_start_wh if session.meter_start_wh is not None else min(readings)[1] if readings else 0
    )
    last = max(readings)[1] if readings else first
    return max(last - first, 0)


@dataclass
class MemoryProviders:
    """The in-memory providers, with typed access to each for tests and the demo."""

    stations: InMemoryStations
    access: InMemoryAccess
    events: InMemoryEvents
    log_sink: MemoryLogSink
    message_log: BatchingMessageLog
    transactions: InMemoryTransactions
    pricing: InMemoryPricing | None = None  # None: no costs shown on stations

    def providers(self) -> Providers:
        """The bundle the CSMS takes."""
        return Providers(
            credentials=self.stations,
            access=self.access,
            events=self.events,
            message_log=self.message_log,
            transactions=self.transactions,
            pricing=self.pricing,
        )


def memory_providers(
    *,
    pattern: str | None = None,
    pattern_password: str | None = None,
    pattern_owner: StationOwner | None = None,
    log_flush_interval: float = 0.2,
    log_max_entries: int = 100_000,
) -> MemoryProviders:
    """Build a fresh set of in-memory providers (the log sink keeps the latest `log_max_entries`)."""
    sink = MemoryLogSink(log_max_entries)
    return MemoryProviders(
        stations=InMemoryStations(
            pattern=pattern, pattern_password=pattern_password, pattern_owner=pattern_owner
        ),
        access=InMemoryAccess(),
        events=InMemoryEvents(),
        log_sink=sink,
        message_log=BatchingMessageLog(sink, flush_interval=log_flush_interval),
        transactions=InMemoryTransactions(),
    )
