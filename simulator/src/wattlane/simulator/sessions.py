"""Charging sessions on a simulated station's connector 1 (EVSE 1), as a real station runs them:
plug in, authorize the card, charge while sending meter values, stay parked a while, stop,
unplug; in OCPP 1.6 (StatusNotification + Authorize + Start/StopTransaction + MeterValues) or
2.0.1 (Authorize + TransactionEvent with chargingState). The energy register keeps counting
across sessions, as a real meter does.

The connector also reacts to the CSMS (`ConnectorRunner.attach` installs the handlers):
RemoteStartTransaction / RequestStartTransaction start a session with the given card (after
Authorize when AuthorizeRemoteTxRequests / AuthCtrlr.AuthorizeRemoteStart says so),
RemoteStopTransaction / RequestStopTransaction end the running one, and ChangeAvailability
makes the connector Unavailable or Available again (Scheduled while a session runs: applied when
it ends), TriggerMessage sends the requested BootNotification, Heartbeat or StatusNotification,
and Reset ends a running session and reboots (the connection closes; `reconnect.stay_connected`
brings the station back: it boots again). While offline, transaction messages queue and
statuses are sent again on reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed

from wattlane.simulator import messages
from wattlane.simulator.config import AUTHORIZE_REMOTE
from wattlane.simulator.station import CallHandler, SimCallError, SimStation

OFFLINE = (ConnectionError, TimeoutError, ConnectionClosed)


@dataclass(frozen=True)
class SessionPlan:
    """One session: `kwh` charged over `charging_seconds` (meter values every `sample_seconds`),
    then `parked_seconds` connected but not charging."""

    card: str
    kwh: float = 8.0
    charging_seconds: float = 40.0
    parked_seconds: float = 20.0
    sample_seconds: float = 10.0


# A remotely started session charges this long unless stopped first (the card is the CSMS's).
REMOTE_PLAN = SessionPlan("", kwh=10.0, charging_seconds=120.0, parked_seconds=30.0, sample_seconds=10.0)


@dataclass
class _Running:
    """The session in progress: how to end it early, and its id once the CSMS knows it."""

    stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    transaction_id: int | str | None = None
    # Why it ends early (the OCPP stop reason and 2.0.1 trigger): None while the driver decides.
    ended_by: tuple[str, str] | None = None
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


class ConnectorRunner:
    """Connector 1 (EVSE 1) of one connected, booted station: its sessions and availability."""

    def __init__(
        self, station: SimStation, register_wh: int = 0, remote_plan: SessionPlan = REMOTE_PLAN
    ) -> None:
        self.station = station
        self.register_wh = register_wh
        self.remote_plan = remote_plan
        self.operative = True
        self._scheduled: bool | None = None  # availability to apply when the session ends
        self._running: _Running | None = None
        self.sessions = 0  # sessions that charged
        self.refused = 0  # sessions whose card was not authorized
        self._remote_start_ids = iter(range(1, 2**31))
        self._reset_when_idle: str | None = None  # a 2.0.1 OnIdle reset waiting for the session
        self.resets = 0

    @property
    def busy(self) -> bool:
        """A session is in progress."""
        return self._running is not None

    @property
    def transaction_id(self) -> int | str | None:
        """The running session's transaction id as the station knows it (None: none)."""
        return self._running.transaction_id if self._running is not None else None

    # -- sessions --------------------------------------------------------------------------------

    def _claim(self) -> _Running:
        if self._running is not None:
            raise RuntimeError(f"{self.station.identity}: connector 1 is busy")
        self._running = _Running()
        return self._running

    async def run(self, plan: SessionPlan) -> bool:
        """One whole session plugged in locally with `plan.card`, in real time; False when the
        connector is busy or unavailable or the card is not authorized."""
        if self.busy or not self.operative:
            return False
        return await self._session(self._claim(), plan, remote_start_id=None)

    async def _session(self, running: _Running, plan: SessionPlan, remote_start_id: int | None) -> bool:
        try:
            return await (self._run_16 if self.station.protocol == messages.V16 else self._run_201)(
                running, plan, remote_start_id
            )
        finally:
            self._running = None
            running.done.set()
            if self._scheduled is not None:
                self.operative, self._scheduled = self._scheduled, None
            await self._report(self._idle_status())
            if self._reset_when_idle is not None:
                reason, self._reset_when_idle = self._reset_when_idle, None
                self.station.spawn(self._reboot(reason))

    def _idle_status(self) -> str:
        return "Available" if self.operative else "Unavailable"

    async def _report(self, status: str) -> None:
        await self.station.report_status(1, status)

    async def _authorized(self, card: str, remote: bool) -> bool:
        """Authorize with the CSMS (a remote start only when configured to); offline the station
        lets the card charge (LocalAuthorizeOffline)."""
        if remote and not self.station.config.flag(AUTHORIZE_REMOTE):
            return True
        if not self.station.connected:
            return True
        try:
            answer = await self.station.authorize(card)
        except OFFLINE:
            return True  # the link dropped just now: offline rules
        except SimCallError:
            return False  # the CSMS could not decide: no charging on an unanswered card
        info = answer.get("idTagInfo") or answer.get("idTokenInfo") or {}
        return bool(info.get("status") == "Accepted")

    async def _wait(self, running: _Running, seconds: float) -> bool:
        """Sleep `seconds`; True when the session was stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running.stop.wait(), seconds)
        return running.stop.is_set()

    def _steps(self, plan: SessionPlan) -> list[tuple[float, int]]:
        """(seconds to wait, energy register after it) for each meter value while charging."""
        count = max(1, round(plan.charging_seconds / plan.sample_seconds))
        total = round(plan.kwh * 1000)
        start = self.register_wh
        return [(plan.charging_seconds / count, start + total * (i + 1) // count) for i in range(count)]

    def _power_w(self, plan: SessionPlan) -> int:
        return round(plan.kwh * 1000 * 3600 / max(plan.charging_seconds, 1.0))

    async def _run_16(self, running: _Running, plan: SessionPlan, remote_start_id: int | None) -> bool:
        station = self.station
        await self._report("Preparing")
        if not await self._authorized(plan.card, remote_start_id is not None):
            self.refused += 1
            return False
        transaction_id = await station.start_transaction(1, plan.card, self.register_wh)
        running.transaction_id = transaction_id
        self.sessions += 1
        await self._report("Charging")
        stopped = False
        for wait, register in self._steps(plan):
            if stopped := await self._wait(running, wait):
                break
            self.register_wh = register
            await station.meter_values(1, transaction_id, register, power_w=self._power_w(plan))
        if not stopped:
            await self._report("SuspendedEV")
            await self._wait(running, plan.parked_seconds)
        reason = running.ended_by[0] if running.ended_by else "EVDisconnected"
        await station.stop_transaction(transaction_id, self.register_wh, reason=reason)
        await self._report("Finishing")
        return True

    async def _run_201(self, running: _Running, plan: SessionPlan, remote_start_id: int | None) -> bool:
        station = self.station
        await self._report("Occupied")
        if not await self._authorized(plan.card, remote_start_id is not None):
            self.refused += 1
            return False
        tx = f"sim-{secrets.token_hex(6)}"
        running.transaction_id = tx
        self.sessions += 1
        begin = messages.sampled_meter_value(messages.V201, self.register_wh, context="Transaction.Begin")
        await station.transaction_event(
            "Started",
            tx,
            trigger="RemoteStart" if remote_start_id is not None else "Authorized",
            evse_id=1,
            id_token=plan.card,
            charging_state="Charging",
            meter_values=[begin],
            remote_start_id=remote_start_id,
        )
        stopped = False
        for wait, register in self._steps(plan):
            if stopped := await self._wait(running, wait):
                break
            self.register_wh = register
            sample = messages.sampled_meter_value(messages.V201, register, power_w=self._power_w(plan))
            await station.transaction_event(
                "Updated", tx, trigger="MeterValuePeriodic", meter_values=[sample]
            )
        if not stopped:
            await station.transaction_event(
                "Updated", tx, trigger="ChargingStateChanged", charging_state="SuspendedEV"
            )
            await self._wait(running, plan.parked_seconds)
        end = messages.sampled_meter_value(messages.V201, self.register_wh, context="Transaction.End")
        reason, trigger = running.ended_by or ("EVDisconnected", "EVCommunicationLost")
        await station.transaction_event(
            "Ended", tx, trigger=trigger, stopped_reason=reason, meter_values=[end]
        )
        return True

    async def shut_down(self, timeout: float = 5.0, reason: str = "Reboot") -> None:
        """End a running session as a station going down does (reason Reboot, or the reset's),
        so its transaction is not left open; give up after `timeout` seconds."""
        running = self._running
        if running is None:
            return
        trigger = "ResetCommand" if reason.endswith("Reset") else "AbnormalCondition"
        running.ended_by = (reason, trigger)
        running.stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running.done.wait(), timeout)

    # -- the CSMS's calls --------------------------------------------------------------------------

    def attach(self) -> ConnectorRunner:
        """Answer the CSMS's remote start / stop and availability calls on the station."""
        self.station.handlers.update(self.handlers())
        return self

    def handlers(self) -> dict[str, CallHandler]:
        """The handlers for the station's OCPP version."""
        common: dict[str, CallHandler] = {"TriggerMessage": self._trigger, "Reset": self._reset}
        if self.station.protocol == messages.V16:
            return {
                **common,
                "RemoteStartTransaction": self._remote_start_16,
                "RemoteStopTransaction": self._remote_stop,
                "ChangeAvailability": self._availability_16,
            }
        return {
            **common,
            "RequestStartTransaction": self._remote_start_201,
            "RequestStopTransaction": self._remote_stop,
            "ChangeAvailability": self._availability_201,
        }

    def _start_remote(self, card: str, remote_start_id: int) -> bool:
        if self.busy or not self.operative:
            return False
        running = self._claim()  # now, so a second start before this one runs is refused
        plan = dataclasses.replace(self.remote_plan, card=card)
        self.station.after_reply(self._session(running, plan, remote_start_id))
        return True

    async def _remote_start_16(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("connectorId", 1) != 1:
            return {"status": "Rejected"}
        # 1.6 has no remoteStartId: the station's own count keeps the start path the same.
        accepted = self._start_remote(payload["idTag"], next(self._remote_start_ids))
        return {"status": "Accepted" if accepted else "Rejected"}

    async def _remote_start_201(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("evseId", 1) != 1:
            return {"status": "Rejected"}
        accepted = self._start_remote(payload["idToken"]["idToken"], payload["remoteStartId"])
        return {"status": "Accepted" if accepted else "Rejected"}

    async def _remote_stop(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        running = self._running
        wanted = payload.get("transactionId")
        if running is None or running.transaction_id is None or str(running.transaction_id) != str(wanted):
            return {"status": "Rejected"}
        running.ended_by = ("Remote", "RemoteStop")
        running.stop.set()
        return {"status": "Accepted"}

    async def _trigger(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        requested = payload["requestedMessage"]
        if requested == "StatusNotification":
            work = self._report(self._current_status())
        elif requested == "Heartbeat":
            work = self._quietly(station.heartbeat())
        elif requested == "BootNotification":
            kwargs = {**station.boot_kwargs}
            if station.protocol == messages.V201:
                kwargs["reason"] = "Triggered"
            work = self._quietly(station.boot(**kwargs))
        else:
            return {"status": "NotImplemented"}
        station.after_reply(work)
        return {"status": "Accepted"}

    def _current_status(self) -> str:
        return next(
            (status for (connector, _), status in self.station.connector_statuses.items() if connector == 1),
            self._idle_status(),
        )

    async def _quietly(self, call: Coroutine[Any, Any, Any]) -> None:
        with contextlib.suppress(*OFFLINE, SimCallError):
            await call

    async def _reset(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        kind = payload["type"]  # 1.6 Hard / Soft, 2.0.1 Immediate / OnIdle
        reason = {"Hard": "HardReset", "Soft": "SoftReset"}.get(kind, "ImmediateReset")
        if kind == "OnIdle" and self.busy:
            self._reset_when_idle = reason
            return {"status": "Scheduled"}
        station.after_reply(self._reboot(reason))
        return {"status": "Accepted"}

    async def _reboot(self, reason: str) -> None:
        """End the session in progress with `reason` and close the connection, as a reboot does."""
        self.resets += 1
        await self.shut_down(reason=reason)
        if self.station.ws is not None:
            await self.station.ws.close()

    def _change_availability(self, operative: bool) -> str:
        if self.busy and operative != self.operative:
            self._scheduled = operative
            return "Scheduled"
        self.operative, self._scheduled = operative, None
        if not self.busy:
            self.station.after_reply(self._report(self._idle_status()))
        return "Accepted"

    async def _availability_16(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        if payload["connectorId"] not in (0, 1):  # 0: the whole station, its one connector
            return {"status": "Rejected"}
        return {"status": self._change_availability(payload["type"] == "Operative")}

    async def _availability_201(self, station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        evse = payload.get("evse") or {}
        if evse.get("id", 1) != 1 or evse.get("connectorId", 1) != 1:
            return {"status": "Rejected"}
        return {"status": self._change_availability(payload["operationalStatus"] == "Operative")}
