"""Remote action commands: stored before they are sent, sent by the process holding the
station's socket, finished with the station's answer.

A command is inserted QUEUED (in the idempotency transaction of CreateCommand), then dispatched:
run here when this process holds the socket, else forwarded over internal gRPC to the process
that does (its address from the lease table, `peers.py`). The sending process marks it SENT
(committed before the frame goes out) and then ACCEPTED / REJECTED / TIMED_OUT / FAILED.
Whatever happens in between — a reconnect, a process killed — the command ends in a final state
with a reason: a closed connection fails the pending call at once, and `registry/leases.py`
resolves the unfinished commands of restarted or expired processes.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, NotFound
from wattlane.core.ids import new_id
from wattlane.csms.commands import repository
from wattlane.csms.commands.peers import Peers, PeerUnreachable, forward
from wattlane.csms.commands.remote_actions import OcppRequest
from wattlane.csms.commands.states import CommandState, outcome
from wattlane.csms.models import Command, Station
from wattlane.csms.names import command_name
from wattlane.csms.protocol.connected import ConnectionRegistry
from wattlane.csms.protocol.errors import (
    CallError,
    CallTimeout,
    InvalidResponse,
    OcppError,
    StationNotConnected,
)
from wattlane.csms.protocol.metrics import command_timed_out
from wattlane.csms.registry.leases import Owner, owner_of

logger = logging.getLogger(__name__)


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


def queue_command(
    session: AsyncSession,
    station: Station,
    spec: bytes,
    request: OcppRequest,
    requested_by: str,
    owner: Owner,
) -> Command:
    """Add the QUEUED row of a command to `station`, to be sent by `owner`, in the caller's
    transaction; `spec` is the action as the API gave it (kept to show the command as asked)."""
    row = Command(
        id=new_id(),
        identity=station.identity,
        owner_path=station.owner_path,
        location_id=station.location_id,
        charging_point_id=station.charging_point_id,
        protocol=station.protocol,
        ocpp_action=request.action,
        request=request.payload,
        spec=spec,
        state=CommandState.QUEUED.value,
        answer=None,
        station_status="",
        error="",
        requested_by=requested_by,
        process=owner.process,
        connection_epoch=owner.connection_epoch,
        create_time=utcnow(),
    )
    session.add(row)
    return row


class CommandRunner:
    """Sends stored commands to the stations connected to this process, and hands the others to
    the process holding the station's socket."""

    def __init__(self, db: Database, process: str, registry: ConnectionRegistry, peers: Peers) -> None:
        self.db = db
        self.process = process
        self.registry = registry
        self.peers = peers

    async def sender(self, station: Station) -> Owner:
        """The process to send through: this one when the socket is here (the registry row may
        lag behind by a write-behind flush), else the live owner in the registry.

        Raises FailedPrecondition when the station is connected nowhere."""
        local = self.registry.get(station.identity)
        if local is not None and local.is_open:
            return Owner(self.process, "", station.connection_epoch)
        async with self.db.reader() as session:
            owner = await owner_of(session, station)
        if owner is None:
            raise offline(station.identity)
        return owner

    async def dispatch(self, row: Command, owner: Owner) -> Command:
        """Send the QUEUED command `row` through `owner` (here, or forwarded); returns the final
        row. A command that could not be handed on is FAILED with the reason, and the station
        is said to be offline (FailedPrecondition)."""
        if owner.process == self.process:
            return await self.execute(row.id)
        name = command_name(row.identity, row.id)
        try:
            await forward(self.peers, owner, name)
        except PeerUnreachable as exc:
            await fail_unsent(self.db, row.id, str(exc))
            raise offline(row.identity) from None
        except Exception:
            await fail_unsent(self.db, row.id, "the station's CSMS process did not take the command")
            raise
        async with self.db.reader() as session:
            final = await repository.get_command(session, row.id)
        assert final is not None
        return final

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
                    utcnow(),
                )
                failed = True
            else:
                row.state, row.send_time, row.process = CommandState.SENT.value, utcnow(), self.process
                failed = False
        if failed:
            raise offline(row.identity)
        assert connection is not None
        values: dict[str, Any]
        try:
            answer = await connection.call(row.ocpp_action, dict(row.request))
        except CallTimeout:
            command_timed_out(row.ocpp_action)
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
        values["finish_time"] = utcnow()
        async with self.db.transaction() as session:
            # Only a SENT command is finished: a sweep that already resolved it keeps its word.
            await session.execute(
                update(Command)
                .where(Command.id == row.id, Command.state == CommandState.SENT.value)
                .values(**values)
            )
            final = await session.get(Command, row.id, populate_existing=True)
        assert final is not None
        # One line per remote action (rare, operator-driven), with the request's trace id.
        logger.info(
            "%s: %s %s",
            command_name(final.identity, final.id),
            final.ocpp_action,
            final.state,
            extra={"station": final.identity, "action": final.ocpp_action, "state": final.state},
        )
        return final


async def fail_unsent(db: Database, command_id: str, reason: str) -> None:
    """A command that could not be handed to its process: FAILED (unless it got further)."""
    async with db.transaction() as session:
        await session.execute(
            update(Command)
            .where(Command.id == command_id, Command.state == CommandState.QUEUED.value)
            .values(state=CommandState.FAILED.value, error=reason[:500], finish_time=utcnow())
        )
