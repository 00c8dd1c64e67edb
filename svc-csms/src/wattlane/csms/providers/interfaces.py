"""Everything the CSMS needs from outside the protocol layer, as small `typing.Protocol`s.

The station registry (database), the access decisions (cards, tokens), the events other services
care about and the message-log store are wired in behind these interfaces; `memory.py` holds the
in-process implementations used by tests and the local demo.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from wattlane.csms.protocol.errors import OcppVersion


class PlatformStatus(enum.StrEnum):
    """A connector's (or station's) status as the platform shows it, whatever the OCPP version."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"
    CHARGING = "charging"
    FAULTED = "faulted"
    UNAVAILABLE = "unavailable"
    OFFLINE = "offline"


class AccessStatus(enum.StrEnum):
    """The outcome of an access decision for an idTag / idToken."""

    ACCEPTED = "accepted"
    BLOCKED = "blocked"
    INVALID = "invalid"
    EXPIRED = "expired"


class Direction(enum.StrEnum):
    """Which way a logged frame travelled."""

    IN = "in"  # station → CSMS
    OUT = "out"  # CSMS → station


@dataclass(frozen=True, slots=True)
class ConnectionAttempt:
    """A connection by an identity the registry does not know (to be claimed by an operator)."""

    identity: str
    at: datetime
    remote_address: str
    listener: str
    protocol: str = ""  # the first OCPP sub-protocol the station offered, if any


@dataclass(frozen=True, slots=True)
class StationOwner:
    """The tenant owning a station, as the credential provider knows it; copied onto CSMS rows
    (id and path) so every read is scoped in SQL."""

    owner_id: str
    owner_path: str
    location_id: str = ""  # assets' location and charging point, for restricted members' grants
    charging_point_id: str = ""


@dataclass(frozen=True, slots=True)
class BootInfo:
    """What a station reported in BootNotification."""

    identity: str
    version: OcppVersion
    at: datetime
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    reason: str | None = None  # 2.0.1 only
    iccid: str | None = None
    imsi: str | None = None
    accepted: bool = True


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A StatusNotification mapped to the platform's status (OCPP's own value kept alongside)."""

    identity: str
    evse_id: int  # 0 = the whole station (1.6 connectorId 0)
    connector_id: int
    status: PlatformStatus
    ocpp_status: str
    at: datetime
    error_code: str | None = None
    info: str | None = None


class NoticeKind(enum.StrEnum):
    """Station notifications that only need recording."""

    FIRMWARE_STATUS = "firmware_status"
    DIAGNOSTICS_STATUS = "diagnostics_status"  # 1.6 DiagnosticsStatusNotification
    LOG_STATUS = "log_status"  # LogStatusNotification (2.0.1 and the 1.6 security extension)
    SECURITY_EVENT = "security_event"


@dataclass(frozen=True, slots=True)
class StationNotice:
    """A firmware / diagnostics / log status or a security event reported by a station."""

    identity: str
    kind: NoticeKind
    value: str  # the status, or the security event type
    at: datetime
    request_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """An answer for one idTag/idToken at one station."""

    status: AccessStatus
    reason: str | None = None
    expires_at: datetime | None = None  # the card's own expiry, when known
    group_id: str | None = None  # parentIdTag (1.6) / groupIdToken (2.0.1)
    # Who may see and who pays for a transaction started with this token (recorded at start).
    payer: str = ""  # free | cardholder | roaming ("" when not accepted or not known)
    card: str = ""  # cards/{id}
    card_owner: str = ""  # tenants/{id} owning the card
    card_owner_path: str = ""
    cardholder: str = ""  # users/{id} holding a private card
    rate_plan: str = ""  # the effective rate plan (`tariffs/{id}`) at the charging point
    time_zone: str = ""  # the IANA zone of the charging point's location ("" when not known)


class LogEntry(NamedTuple):
    """One frame in or out, for the station message log (a tuple: two are built per message)."""

    at: float  # Unix time, seconds
    identity: str
    direction: Direction
    message_type: int  # 2 CALL, 3 CALLRESULT, 4 CALLERROR, 0 = unparsable frame
    message_id: str
    action: str | None
    payload: Any
    error_code: str | None = None
    error_description: str | None = None
    trace_id: str | None = None  # a CSMS→station call and its answer: the trace that sent it


class ProviderUnavailable(Exception):
    """A provider could not answer now (database or service down); the CSMS may fall back."""


class StationCredentials(Protocol):
    """The station registry as the handshake sees it."""

    async def is_known(self, identity: str) -> bool:
        """True when `identity` is a registered (claimed) station."""
        ...

    async def verify_password(self, identity: str, password: bytes) -> bool:
        """True when `password` is the station's current AuthorizationKey (Basic auth)."""
        ...

    async def verify_certificate(self, identity: str, subject_cn: str) -> bool:
        """True when a client certificate with common name `subject_cn` may act as `identity`.

        TLS has already checked the chain against the configured CA; this is the registry's say
        (e.g. a revoked or not-yet-installed certificate)."""
        ...

    async def record_unclaimed(self, attempt: ConnectionAttempt) -> None:
        """Remember a connection attempt by an unknown identity."""
        ...

    async def owner(self, identity: str) -> StationOwner | None:
        """The station's owner (None when unknown or not set); cheap after a handshake."""
        ...


class AccessDecider(Protocol):
    """Decides whether an idTag / idToken may charge at a station."""

    async def decide(self, identity: str, id_token: str, token_type: str) -> AccessDecision:
        """Decide for `id_token` at station `identity`.

        `token_type` is the 2.0.1 IdTokenEnumType ("ISO14443", "eMAID", ...); 1.6 idTags carry no
        type and pass "". Raise `ProviderUnavailable` on an outage."""
        ...


class StationEvents(Protocol):
    """What the rest of the platform hears about stations."""

    async def station_online(
        self, identity: str, version: OcppVersion, remote_address: str, at: datetime
    ) -> None:
        """The station's WebSocket connection is open."""
        ...

    async def station_offline(self, identity: str, at: datetime, reason: str) -> None:
        """The station's connection is gone (closed, lost, or silent for too long)."""
        ...

    async def station_booted(self, boot: BootInfo) -> None:
        """The station sent BootNotification."""
        ...

    async def station_seen(self, identity: str, at: datetime) -> None:
        """The station sent a Heartbeat (its `last seen`); must not wait on storage."""
        ...

    async def status_changed(self, change: StatusChange) -> None:
        """A connector (or the station, evse 0) changed status."""
        ...

    async def station_notice(self, notice: StationNotice) -> None:
        """Firmware / diagnostics / log status, or a security event."""
        ...


class MessageLog(Protocol):
    """The station message log. `record` must not block: it enqueues; a writer batches."""

    def record(self, entry: LogEntry) -> None:
        """Enqueue one frame for the log."""
        ...


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One sampled moment of a transaction's meter, in the platform's units."""

    at: datetime
    energy_wh: int | None = None  # the energy register (Energy.Active.Import.Register)
    power_w: int | None = None
    current_a: float | None = None
    soc_percent: float | None = None


@dataclass(frozen=True, slots=True)
class TransactionStart:
    """What a transaction's start says (1.6 StartTransaction, 2.0.1 the first event seen).

    `key` tells a repeated start from a new one at the same station: the 2.0.1 station's
    transactionId, or for 1.6 (connector, idTag, timestamp, meterStart)."""

    identity: str
    version: OcppVersion
    key: str
    evse_id: int
    connector_id: int
    id_token: str
    token_type: str
    at: datetime
    meter_start_wh: int | None
    decision: AccessDecision
    station_transaction_id: str = ""  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class TransactionEnd:
    """How a transaction ended (1.6 StopTransaction, 2.0.1 TransactionEvent Ended)."""

    at: datetime
    meter_stop_wh: int | None
    reason: str  # the OCPP stop reason as sent ("Local", "EVDisconnected", ...); "" when none


@dataclass(frozen=True, slots=True)
class ChargingChange:
    """A station said an EVSE's session is charging or parked (connected, not charging): 1.6
    StatusNotification, 2.0.1 TransactionEvent's chargingState. Stored on the EVSE's active
    transaction when it changes that transaction's state (billing prices parking time)."""

    at: datetime
    charging: bool
    evse_id: int = 0  # 1.6: the connector, to find the active transaction on it


@dataclass(frozen=True, slots=True)
class TransactionChange:
    """One transaction message: a start (found or created by its key) or a reference to the
    CSMS's transaction id, with the meter samples it carries and its end, if it ends."""

    identity: str
    start: TransactionStart | None = None
    transaction_id: int | None = None
    samples: tuple[MeterSample, ...] = ()
    end: TransactionEnd | None = None
    seq_no: int | None = None  # 2.0.1
    # Charging or parked; with neither `start` nor `transaction_id`, it names the active
    # transaction on its EVSE (1.6 StatusNotification), or nothing when there is none.
    charging: ChargingChange | None = None


@dataclass(frozen=True, slots=True)
class SessionToPrice:
    """A stored transaction as pricing needs it: its tariff and zone (recorded at the start),
    its start (and stop, once ended) and every meter sample so far."""

    transaction_id: int
    tariff: str  # `tariffs/{id}` (the rate plan recorded at the start); "" = not priced
    time_zone: str  # the location's IANA zone at the start; "" = UTC
    start_time: datetime
    meter_start_wh: int | None = None
    stop_time: datetime | None = None
    meter_stop_wh: int | None = None
    samples: tuple[MeterSample, ...] = ()
    # (from, charging) changes between charging and parked, by time; none: charging throughout.
    charging_states: tuple[tuple[datetime, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class SessionCost:
    """What a station shows of a priced session: the total including VAT (excluding it when the
    tariff gives no VAT rate) as an exact decimal, and the unit prices in force at the end of
    the priced span (for OCPP 1.6 California pricing's `chargingPrice`)."""

    currency: str
    total: Decimal
    energy_wh: int = 0
    kwh_price: Decimal | None = None
    hour_price: Decimal | None = None
    flat_fee: Decimal | None = None


class Pricing(Protocol):
    """Prices sessions for display on the station (billing's `PriceSession`)."""

    async def price(self, session: SessionToPrice, until: datetime) -> SessionCost | None:
        """Price `session` up to `until` (its stop time once ended) with the tariff version in
        force at its start; None when billing will not price it (e.g. the tariff is unknown to
        it). Raise `ProviderUnavailable` when billing cannot answer now (down, overloaded);
        callers bound the wait themselves."""
        ...


class TransactionStore(Protocol):
    """Transactions and their meter values. `record` returns after the change is durable."""

    async def record(self, change: TransactionChange) -> int | None:
        """Store `change` and return the CSMS's transaction id (the 1.6 transactionId), or None
        when `transaction_id` names no transaction of this station. Repeats change nothing.
        Raise `ProviderUnavailable` when the store cannot commit now."""
        ...

    async def to_price(self, transaction_id: int) -> SessionToPrice | None:
        """The committed transaction as pricing needs it (samples only when it has a tariff),
        or None when there is no such transaction."""
        ...


@dataclass(frozen=True, slots=True)
class Providers:
    """The outside dependencies of one CSMS process."""

    credentials: StationCredentials
    access: AccessDecider
    events: StationEvents
    message_log: MessageLog
    transactions: TransactionStore
    # Costs shown on stations (TransactionEventResponse.totalCost, CostUpdated, 1.6 California
    # pricing); None: no pricing, stations are shown no cost.
    pricing: Pricing | None = None
