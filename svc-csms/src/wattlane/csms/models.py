"""The CSMS's tables (ORM): the persistent station registry, the station message log, remote
action commands and the process leases of the connection registry.

Station rows carry a copy of the owning tenant's id and path (from the credential provider) so
every read is scoped in SQL; connector statuses, notices and log lines belong to a station and
are read through it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wattlane.core.idempotency import idempotency_table
from wattlane.core.orm import BaseModel, JsonType, TreePath, new_metadata

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
    payload: Mapped[Any] = mapped_column(JsonType)
    error: Mapped[bool] = mapped_column(Boolean)  # a CALLERROR or an unparsable frame
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_description: Mapped[str | None] = mapped_column(Text)


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


class ProcessLease(Base):
    """A running CSMS process: its gRPC address (for forwarded commands) and its lease. Stations
    whose `connected_process` has no unexpired lease are not reachable."""

    __tablename__ = "process_leases"

    process: Mapped[str] = mapped_column(String(128), primary_key=True)
    grpc_address: Mapped[str] = mapped_column(String(256))
    start_time: Mapped[dt.datetime]
    expire_time: Mapped[dt.datetime]


IDEMPOTENCY_KEYS = idempotency_table(Base.metadata)
