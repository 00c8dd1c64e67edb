"""Remote action commands: stored before they are sent, sent by the process holding the
station's socket, finished with the station's answer.

A command is inserted QUEUED (in the idempotency transaction of CreateCommand), then dispatched:
run here when this process holds the socket, else forwarded over internal gRPC to the process
that does (its address from the lease table). The sending process marks it SENT (committed
before the frame goes out) and then ACCEPTED / REJECTED / TIMED_OUT / FAILED. Whatever happens
in between — a reconnect, a process killed — the command ends in a final state with a reason:
a closed connection fails the pending call at once, and `registry/leases.py` resolves the unfinished
commands of restarted or expired processes.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import grpc
from sqlalchemy import update

from wattlane.api.csms.v1 import commands_pb2, internal_pb2, internal_pb2_grpc
from wattlane.core.client import TokenProvider, channel
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, NotFound
from wattlane.core.ids import new_id
from wattlane.csms.commands.remote_actions import CommandState, OcppRequest, outcome
from wattlane.csms.models import Command, Station
from wattlane.csms.protocol.clock import utc_now
from wattlane.csms.protocol.connected import ConnectionRegistry
from wattlane.csms.protocol.errors import (
    CallError,
    CallTimeout,
    InvalidResponse,
    OcppError,
    StationNotConnected,
)
from wattlane.csms.registry.leases import Owner

logger = logging.getLogger(__name__)


def command_name(identity: str, command_id: str) -> str:
    """`stations/{identity}/commands/{id}`."""
    return f"stations/{identity}/commands/{command_id}"


def new_request_number() -> int:
    """A positive 31-bit number for OCPP requestId / remoteStartId fields."""
    return secrets.randbelow(2**31 - 1) + 1


def offline(identity: str) -> FailedPrecondition:
    """The error of an action on a station that is not connected."""
    return FailedPrecondition(
        f"stations/{identity} is not connected; remote actions need an online station",
        reason="STATION_OFFLINE",
        metadata={"resource": f"stations/{identity}"},
    )


def new_command(
    station: Station,
    spec: commands_pb2.Command,
    request: OcppRequest,
    requested_by: str,
    owner: Owner,
) -> Command:
    """The QUEUED row of a command to `station`, to be sent by `owner`."""
    action = spec.WhichOneof("action")
    only_action = commands_pb2.Command()
    if action is not None:
        getattr(only_action, action).CopyFrom(getattr(spec, action))
    return Command(
        id=new_id(),
        identity=station.identity,
        owner_path=station.owner_path,
        location_id=station.location_id,
        charging_point_id=station.charging_point_id,
        protocol=station.protocol,
        ocpp_action=request.action,
        request=request.payload,
        spec=only_action.SerializeToString(deterministic=True),
        state=CommandState.QUEUED.value,
        answer=None,
        station_status="",
        error="",
        requested_by=requested_by,
        process=owner.process,
        connection_epoch=owner.connection_epoch,
        create_time=utc_now(),
    )


class CommandRunner:
    """Sends stored commands to the stations connected to this process."""

    def __init__(self, db: Database, process: str, registry: ConnectionRegistry) -> None:
        self.db = db
        self.process = process
        self.registry = registry

    async def execute(self, command_id: str, identity: str | None = None) -> Command:
        """Send a QUEUED command and record the outcome; returns the final row. A command that
        is no longer QUEUED (a retried forward) is returned as it is, not sent again.

        Raises NotFound for an unknown id and FailedPrecondition when the station is not
        connected here (the command is then FAILED with that reason)."""
        async with self.db.transaction() as session:
            row = await session.get(Command, command_id, with_for_update=True)
            if row is None or (identity is not None and row.identity != identity):
                raise NotFound(command_name(identity or "-", command_id))
            if row.state != CommandState.QUEUED.value:
                return row
            connection = self.registry.get(row.identity)
            if connection is None or not connection.is_open:
                row.state, row.error, row.finish_time = (
                    CommandState.FAILED.value,
                    f"the station is not connected to CSMS process {self.process}",
                    utc_now(),
                )
                failed = True
            else:
                row.state, row.send_time, row.process = CommandState.SENT.value, utc_now(), self.process
                failed = False
        if failed:
            raise offline(row.identity)
        assert connection is not None
        values: dict[str, Any]
        try:
            answer = await connection.call(row.ocpp_action, dict(row.request))
        except CallTimeout:
            values = {"state": CommandState.TIMED_OUT.value, "error": "the station did not answer in time"}
        except CallError as exc:
            values = {
                "state": CommandState.FAILED.value,
                "error": f"the station answered CALLERROR {exc.code}: {exc.description}"[:500],
                "answer": exc.details or None,
            }
        except InvalidResponse as exc:
            values = {"state": CommandState.FAILED.value, "error": str(exc)[:500]}
        except StationNotConnected:
            values = {
                "state": CommandState.FAILED.value,
                "error": "the station's connection closed before it answered",
            }
        except OcppError as exc:  # our payload violates the schema: a bug, said plainly
            logger.error("%s: %s request invalid: %s", row.identity, row.ocpp_action, exc.description)
            values = {
                "state": CommandState.FAILED.value,
                "error": f"invalid request: {exc.description}"[:500],
            }
        else:
            result = outcome(row.ocpp_action, answer)
            values = {"state": result.state.value, "answer": answer, "station_status": result.station_status}
        return await self._finish(row, values)

    async def _finish(self, row: Command, values: dict[str, Any]) -> Command:
        values["finish_time"] = utc_now()
        async with self.db.transaction() as session:
            # Only a SENT command is finished: a sweep that already resolved it keeps its word.
            await session.execute(
                update(Command)
                .where(Command.id == row.id, Command.state == CommandState.SENT.value)
                .values(**values)
            )
            final = await session.get(Command, row.id, populate_existing=True)
        assert final is not None
        return final


class Peers:
    """Internal gRPC clients of the other CSMS processes, by address (from the lease table)."""

    def __init__(self, token: TokenProvider | None, timeout: float) -> None:
        self._token = token
        self._timeout = timeout
        self._stubs: dict[str, tuple[grpc.aio.Channel, internal_pb2_grpc.CsmsInternalServiceAsyncStub]] = {}

    def stub(self, address: str) -> internal_pb2_grpc.CsmsInternalServiceAsyncStub:
        """The (cached) internal stub of the process at `address`."""
        if address not in self._stubs:
            ch = channel(address, token=self._token, timeout=self._timeout, max_attempts=1)
            self._stubs[address] = (ch, internal_pb2_grpc.CsmsInternalServiceStub(ch))  # type: ignore[assignment]
        return self._stubs[address][1]

    async def close(self) -> None:
        """Close every channel."""
        for ch, _ in self._stubs.values():
            await ch.close(None)
        self._stubs.clear()


async def forward(peers: Peers, owner: Owner, name: str) -> None:
    """Ask the owning process to execute the command `name`; FAILED_PRECONDITION when it says the
    station is not there, or cannot be reached (the caller then fails the command)."""
    try:
        await peers.stub(owner.grpc_address).ExecuteCommand(internal_pb2.ExecuteCommandRequest(name=name))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
            raise FailedPrecondition(exc.details() or "station offline", reason="STATION_OFFLINE") from None
        raise PeerUnreachable(owner.process, f"{exc.code().name}: {exc.details()}") from None


class PeerUnreachable(Exception):
    """The owning process did not carry out a forwarded command."""

    def __init__(self, process: str, detail: str) -> None:
        super().__init__(f"CSMS process {process} did not take the command ({detail})")
        self.process = process


async def fail_unsent(db: Database, command_id: str, reason: str) -> None:
    """A command that could not be handed to its process: FAILED (unless it got further)."""
    async with db.transaction() as session:
        await session.execute(
            update(Command)
            .where(Command.id == command_id, Command.state == CommandState.QUEUED.value)
            .values(state=CommandState.FAILED.value, error=reason[:500], finish_time=utc_now())
        )
