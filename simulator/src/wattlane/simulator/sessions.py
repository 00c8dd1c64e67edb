"""Charging sessions a simulated station runs by itself (the demo's): plug in, authorize with a
card, charge while sending meter values, stay parked a while, stop, unplug; in OCPP 1.6
(StatusNotification + Start/StopTransaction + MeterValues) or 2.0.1 (TransactionEvent with
chargingState). The energy register keeps counting across sessions, as a real meter does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from dataclasses import dataclass

from wattlane.simulator import messages
from wattlane.simulator.station import SimStation


@dataclass(frozen=True)
class SessionPlan:
    """One session: `kwh` charged over `charging_seconds` (meter values every `sample_seconds`),
    then `parked_seconds` connected but not charging."""

    card: str
    kwh: float = 8.0
    charging_seconds: float = 40.0
    parked_seconds: float = 20.0
    sample_seconds: float = 10.0


class SessionRunner:
    """Runs sessions on one connected, booted station's connector 1 (EVSE 1)."""

    def __init__(self, station: SimStation, register_wh: int = 0) -> None:
        self.station = station
        self.register_wh = register_wh

    async def run(self, plan: SessionPlan) -> None:
        """One whole session, in real time."""
        if self.station.protocol == messages.V16:
            await self._run_16(plan)
        else:
            await self._run_201(plan)

    def _steps(self, plan: SessionPlan) -> list[tuple[float, int]]:
        """(seconds to wait, energy register after it) for each meter value while charging."""
        count = max(1, round(plan.charging_seconds / plan.sample_seconds))
        total = round(plan.kwh * 1000)
        start = self.register_wh
        return [(plan.charging_seconds / count, start + total * (i + 1) // count) for i in range(count)]

    def _power_w(self, plan: SessionPlan) -> int:
        return round(plan.kwh * 1000 * 3600 / max(plan.charging_seconds, 1.0))

    async def _run_16(self, plan: SessionPlan) -> None:
        station = self.station
        await station.status(1, "Preparing")
        transaction_id = await station.start_transaction(1, plan.card, self.register_wh)
        await station.status(1, "Charging")
        for wait, register in self._steps(plan):
            await asyncio.sleep(wait)
            self.register_wh = register
            await station.meter_values(1, transaction_id, register, power_w=self._power_w(plan))
        await station.status(1, "SuspendedEV")
        await asyncio.sleep(plan.parked_seconds)
        await station.stop_transaction(transaction_id, self.register_wh, reason="EVDisconnected")
        await station.status(1, "Finishing")
        await station.status(1, "Available")

    async def _run_201(self, plan: SessionPlan) -> None:
        station = self.station
        tx = f"sim-{secrets.token_hex(6)}"
        begin = messages.sampled_meter_value(messages.V201, self.register_wh, context="Transaction.Begin")
        await station.status(1, "Occupied")
        await station.transaction_event(
            "Started", tx, evse_id=1, id_token=plan.card, charging_state="Charging", meter_values=[begin]
        )
        for wait, register in self._steps(plan):
            await asyncio.sleep(wait)
            self.register_wh = register
            sample = messages.sampled_meter_value(messages.V201, register, power_w=self._power_w(plan))
            await station.transaction_event(
                "Updated", tx, trigger="MeterValuePeriodic", meter_values=[sample]
            )
        await station.transaction_event(
            "Updated", tx, trigger="ChargingStateChanged", charging_state="SuspendedEV"
        )
        await asyncio.sleep(plan.parked_seconds)
        end = messages.sampled_meter_value(messages.V201, self.register_wh, context="Transaction.End")
        await station.transaction_event(
            "Ended", tx, trigger="EVCommunicationLost", stopped_reason="EVDisconnected", meter_values=[end]
        )
        await station.status(1, "Available")


async def keep_charging(
    station: SimStation, plan: SessionPlan, every: float, *, first_after: float = 0.0
) -> None:
    """Run `plan` every `every` seconds (from the start of one to the next) until cancelled; a
    session that fails (the CSMS gone for a while) is logged by the caller's task and the next
    one starts on time. The station's transaction messages queue while it is offline."""
    runner = SessionRunner(station)
    await asyncio.sleep(first_after)
    for _ in itertools.count():
        started = asyncio.get_running_loop().time()
        # Offline: the station's transaction messages are queued and sent again on reconnect.
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            await runner.run(plan)
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(0.0, every - elapsed))
