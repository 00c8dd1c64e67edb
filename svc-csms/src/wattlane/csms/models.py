"""The CSMS's tables (ORM): the persistent station registry, the station message log,
transactions with their meter values and handoff outbox, remote action commands and the process
leases of the connection registry.

Station rows carry a copy of the owning tenant's id and path (from the credential provider) so
every read is scoped in SQL; connector statuses, notices and log lines belong to a station and
are read through it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wattlane.core.audit import audit_table
from wattlane.core.idempotency import idempotency_table
from wattlane.core.orm import BaseModel, TreePath, new_metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid); PostgreSQL gets a bigint.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
Identity = String(48)  # OCPP 2.0.1 caps a station identity at 48 characters


class Base(BaseModel):
    __abstract__ = True
    metadata = new_metadata()


class Station(Base):
    """A station the CSMS has seen connect: connectivity, owner copy and the last boot report."""

    __tablename__ = "stations"
    __table_args__ = (Index("ix_stations_owner_path_identity", "owner_path", "identity"),)

    identity: Mapped[str] = mapped_column(Identity, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    owner_path: Mapped[TreePath] = mapped_column(default="", server_default="")
    # Assets' ids for the station, so grants restricted to chosen locations / charging points apply.
    location_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    charging_point_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    protocol: Mapped[str] = mapped_column(String(16), default="", server_default="")
    online: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Which CSMS process holds the socket (a pod name): remote actions are forwarded there.
    connected_process: Mapped[str] = mapped_column(String(128), default="", server_default="")
    # Incremented by every connection (in whichever process): the latest one owns the row, so a
    # process that lost the station (or died) cannot mark it offline or answer for it.
    connection_epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    remote_address: Mapped[str] = mapped_column(String(64), default="", server_default="")
    connect_time: Mapped[dt.datetime | None]
    disconnect_time: Mapped[dt.datetime | None]
    disconnect_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    last_seen_time: Mapped[dt.datetime | None]
    boot_time: Mapped[dt.datetime | None]
    boot_accepted: Mapped[bool | None] = mapped_column(Boolean)
    boot_reason: Mapped[str | None] = mapped_column(String(32))
    vendor: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(50))
    serial_number: Mapped[str | None] = mapped_column(String(50))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    iccid: Mapped[str | None] = mapped_column(String(20))
    imsi: Mapped[str | None] = mapped_column(String(20))
    create_time: Mapped[dt.datetime]


class ConnectorStatus(Base):
    """The latest status of one connector (evse 0 / connector 0: the station as a whole)."""

    __tablename__ = "connector_statuses"

    identity: Mapped[str] = mapped_column(Identity, primary_key=True)
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # PlatformStatus
    ocpp_status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    info: Mapped[str | None] = mapped_column(String(500))
    status_time: Mapped[dt.datetime]


class UnclaimedConnection(Base):
    """Connection attempts by an identity no charging point claims (for "connected" onboarding)."""

    __tablename__ = "unclaimed_connections"

    identity: Mapped[str] = mapped_column(Identity, primary_key=True)
    first_attempt_time: Mapped[dt.datetime]
    last_attempt_time: Mapped[dt.datetime] = mapped_column(index=True)
    remote_address: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(16))
    listener: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer)


class StationNotice(Base):
    """A firmware / diagnostics / log status or a security event a station reported."""

    __tablename__ = "station_notices"
    __table_args__ = (Index("ix_station_notices_identity_id", "identity", "id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(Identity)
    kind: Mapped[str] = mapped_column(String(32))  # NoticeKind
    value: Mapped[str] = mapped_column(String(64))
    notice_time: Mapped[dt.datetime]
    request_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]]


class Message(Base):
    """One frame in or out of a station (the station message log); purged after retention."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_identity_id", "identity", "id"),
        Index("ix_messages_time", "time"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(Identity)
    time: Mapped[dt.datetime]
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    message_type: Mapped[int] = mapped_column(SmallInteger)  # 2, 3, 4; 0 = unparsable frame
    message_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    # json, not jsonb, on PostgreSQL: the text as given, so the log keeps the sender's key order.
    payload: Mapped[Any] = mapped_column(JSON())
    error: Mapped[bool] = mapped_column(Boolean)  # a CALLERROR or an unparsable frame
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_description: Mapped[str | None] = mapped_column(Text)
    # The OpenTelemetry trace a CSMS→station call was sent in (and its answer), to find the
    # request that caused a frame.
    trace_id: Mapped[str | None] = mapped_column(String(32))


class Transaction(Base):
    """A charging session, whatever the OCPP version: started, metered, ended.

    `id` is the CSMS's own transaction id (also the integer OCPP 1.6 transactionId, handed out by
    the database so it is unique across processes and restarts); a 2.0.1 station brings its own
    id (`station_transaction_id`). `start_key` tells a repeated start from a new one. Who may see
    the row and who pays are recorded at the start from the access decision: the station owner's
    path, the card owner's organization and path, the cardholder."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("identity", "start_key"),
        Index("ix_transactions_owner_path_start_time", "owner_path", "start_time"),
        Index("ix_transactions_card_owner_path_start_time", "card_owner_path", "start_time"),
        Index("ix_transactions_cardholder_id_start_time", "cardholder_id", "start_time"),
        Index("ix_transactions_identity_start_time", "identity", "start_time"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(Identity)
    protocol: Mapped[str] = mapped_column(String(16))
    start_key: Mapped[str] = mapped_column(String(200))
    station_transaction_id: Mapped[str] = mapped_column(String(36), default="", server_default="")
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    id_token: Mapped[str] = mapped_column(String(36))
    token_type: Mapped[str] = mapped_column(String(20))
    authorization_status: Mapped[str] = mapped_column(String(16))  # AccessStatus at the start
    start_time: Mapped[dt.datetime]
    stop_time: Mapped[dt.datetime | None]
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    stop_reason: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Tenancy and payer, copied at the start (ARCHITECTURE.md: tenancy of transactions).
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[TreePath]
    location_id: Mapped[str] = mapped_column(String(64))
    charging_point_id: Mapped[str] = mapped_column(String(64))
    card_id: Mapped[str] = mapped_column(String(64))
    card_owner_id: Mapped[str] = mapped_column(String(64))
    card_owner_path: Mapped[TreePath]
    cardholder_id: Mapped[str] = mapped_column(String(64))
    payer: Mapped[str] = mapped_column(String(16))
    rate_plan: Mapped[str] = mapped_column(String(128))
    # The location's IANA time zone at the start (billing's local-time restrictions).
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    create_time: Mapped[dt.datetime]
    update_time: Mapped[dt.datetime]


class MeterValue(Base):
    """One sampled moment of a transaction's meter (a repeated sample is the same row)."""

    __tablename__ = "meter_values"

    transaction_id: Mapped[int] = mapped_column(
        AutoId, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    time: Mapped[dt.datetime] = mapped_column(primary_key=True)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    power_w: Mapped[int | None] = mapped_column(BigInteger)
    current_a: Mapped[float | None] = mapped_column(Float)
    soc_percent: Mapped[float | None] = mapped_column(Float)


class TransactionChargingState(Base):
    """A change of an active transaction between charging and parked (connected, not charging),
    as the station reported it; only changes are stored (a repeat is the same row)."""

    __tablename__ = "transaction_charging_states"

    transaction_id: Mapped[int] = mapped_column(
        AutoId, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    time: Mapped[dt.datetime] = mapped_column(primary_key=True)
    charging: Mapped[bool] = mapped_column(Boolean)


class TransactionOutbox(Base):
    """Completed transactions waiting to be handed on to billing: written in the database
    transaction that ends the transaction; `relay_time` is set once its workflow is started."""

    __tablename__ = "transaction_outbox"
    __table_args__ = (
        Index("ix_transaction_outbox_relay_time_transaction_id", "relay_time", "transaction_id"),
    )

    transaction_id: Mapped[int] = mapped_column(
        AutoId, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    create_time: Mapped[dt.datetime]
    relay_time: Mapped[dt.datetime | None]


class TransactionHandoff(Base):
    """The consumer side of the handoff until billing exists: one row per transaction handed
    on (an upsert, so a repeated delivery counts in `deliveries`, never as a second row)."""

    __tablename__ = "transaction_handoffs"

    transaction_id: Mapped[int] = mapped_column(
        AutoId, ForeignKey("transactions.id", ondelete="CASCADE"), primary_key=True
    )
    workflow_id: Mapped[str] = mapped_column(String(64))
    first_time: Mapped[dt.datetime]
    deliveries: Mapped[int] = mapped_column(Integer)


class Command(Base):
    """A remote action sent (or to be sent) to a station, with its state and the answer."""

    __tablename__ = "commands"
    __table_args__ = (
        Index("ix_commands_identity_create", "identity", "create_time", "id"),
        Index("ix_commands_state_process", "state", "process"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # a ULID: sorts by creation
    identity: Mapped[str] = mapped_column(Identity)
    # Copies of the station's owner at creation, so lists are scoped in SQL like stations.
    owner_path: Mapped[TreePath]
    location_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    charging_point_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    protocol: Mapped[str] = mapped_column(String(16))
    ocpp_action: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]]  # the OCPP payload
    spec: Mapped[bytes] = mapped_column(LargeBinary)  # the API's Command (the action oneof) as asked
    state: Mapped[str] = mapped_column(String(16))  # CommandState
    answer: Mapped[dict[str, Any] | None]
    station_status: Mapped[str] = mapped_column(String(64), default="", server_default="")
    error: Mapped[str] = mapped_column(String(500), default="", server_default="")
    requested_by: Mapped[str] = mapped_column(String(160))
    # The process that sent it and the station connection it went out on.
    process: Mapped[str] = mapped_column(String(128), default="", server_default="")
    connection_epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    create_time: Mapped[dt.datetime]
    send_time: Mapped[dt.datetime | None]
    finish_time: Mapped[dt.datetime | None]


class FirmwareCampaign(Base):
    """A firmware rollout campaign: what was asked (the API's Campaign as bytes, like a
    command's spec), its owner copy for scoped reads, its state and every decision taken."""

    __tablename__ = "firmware_campaigns"
    __table_args__ = (Index("ix_firmware_campaigns_owner_path_id", "owner_path", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # a ULID: sorts by creation
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[TreePath]
    display_name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[bytes] = mapped_column(LargeBinary)
    target_version: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(16))  # CampaignState
    state_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    current_wave: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    target_count: Mapped[int] = mapped_column(Integer)
    # [{time, actor, action, reason}], oldest first: who decided what and why.
    decisions: Mapped[list[Any]]
    creator: Mapped[str] = mapped_column(String(160))
    create_time: Mapped[dt.datetime]
    update_time: Mapped[dt.datetime]


class CampaignOutbox(Base):
    """Campaigns waiting for their FirmwareCampaign workflow: written in the database
    transaction that creates the campaign, with the workflow's input (Temporal's payload of a
    `CampaignInput`, as it was at creation); `relay_time` is set once the workflow is started."""

    __tablename__ = "campaign_outbox"
    __table_args__ = (Index("ix_campaign_outbox_relay_time_campaign_id", "relay_time", "campaign_id"),)

    campaign_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("firmware_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    input: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[dt.datetime]
    relay_time: Mapped[dt.datetime | None]


class CampaignStation(Base):
    """One station of a firmware campaign: its wave, its progress (`StationState`, the failure
    that ended it) and the update sent to it. Written where the station's notifications arrive
    (any CSMS process), so its state survives restarts and reconnects elsewhere."""

    __tablename__ = "campaign_stations"
    __table_args__ = (Index("ix_campaign_stations_identity_state", "identity", "state"),)

    campaign_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity: Mapped[str] = mapped_column(Identity, primary_key=True)
    wave: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # StationState
    failure_type: Mapped[str] = mapped_column(String(32), default="", server_default="")  # FailureType
    ocpp_status: Mapped[str] = mapped_column(String(32), default="", server_default="")  # the last reported
    target_version: Mapped[str] = mapped_column(String(50))
    # The update as sent: its request id (none for 1.6 UpdateFirmware, correlated by time within
    # `window_seconds` of `sent_time`) and how many times the campaign sent it.
    request_id: Mapped[int | None] = mapped_column(BigInteger)
    window_seconds: Mapped[int] = mapped_column(Integer)
    dispatches: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent_time: Mapped[dt.datetime | None]
    update_time: Mapped[dt.datetime]


class ProcessLease(Base):
    """A running CSMS process: its gRPC address (for forwarded commands) and its lease. Stations
    whose `connected_process` has no unexpired lease are not reachable."""

    __tablename__ = "process_leases"

    process: Mapped[str] = mapped_column(String(128), primary_key=True)
    grpc_address: Mapped[str] = mapped_column(String(256))
    start_time: Mapped[dt.datetime]
    expire_time: Mapped[dt.datetime]


IDEMPOTENCY_KEYS = idempotency_table(Base.metadata)
# Who created which command (and recorded which handoff): written in the change's transaction.
AUDIT = audit_table(Base.metadata)
