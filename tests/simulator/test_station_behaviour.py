"""Simulated stations react like real ones at a real CSMS: a remote start starts a session (a
transaction), a remote stop ends it, ChangeAvailability makes the connector Unavailable (or
Scheduled while charging), configuration reads back what was set and takes effect (1.6 keys,
2.0.1 variables); a station displaced or disconnected comes back with backoff."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus, PlatformStatus
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.reconnect import Backoff, stay_connected
from wattlane.simulator.sessions import ConnectorRunner, SessionPlan
from wattlane.simulator.station import SimStation, default_handlers

PROTOCOLS = [messages.V16, messages.V201]
FAST = Backoff(first=0.05, cap=0.5)  # tests reconnect in tenths of a second
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}


async def _booted(csms: RunningCsms, protocol: str, identity: str = "CS001") -> SimStation:
    station = SimStation(
        identity, csms.url, protocol=protocol, password=DEFAULT_PASSWORD, handlers=default_handlers(protocol)
    )
    await station.connect()
    await station.boot()
    return station


# A remote session charges until stopped (meter values every 50 ms).
LONG = SessionPlan("", kwh=20.0, charging_seconds=30.0, parked_seconds=5.0, sample_seconds=0.05)


def _remote_start(protocol: str, card: str) -> tuple[str, dict[str, Any]]:
    if protocol == messages.V16:
        return "RemoteStartTransaction", {"idTag": card, "connectorId": 1}
    return "RequestStartTransaction", {"idToken": {"idToken": card, "type": "ISO14443"}, "remoteStartId": 41}


def _remote_stop(protocol: str, transaction: Any) -> tuple[str, dict[str, Any]]:
    """Stop the CSMS's transaction: 1.6 by the CSMS's id, 2.0.1 by the station's."""
    if protocol == messages.V16:
        return "RemoteStopTransaction", {"transactionId": transaction.id}
    return "RequestStopTransaction", {"transactionId": transaction.start.station_transaction_id}


def _connector_status(csms: RunningCsms) -> str:
    (change,) = [c for key, c in csms.memory.events.statuses.items() if key[0] == "CS001" and key[2] == 1]
    return change.ocpp_status


async def _reacting(csms: RunningCsms, protocol: str) -> tuple[SimStation, ConnectorRunner]:
    station = await _booted(csms, protocol)
    runner = ConnectorRunner(station, remote_plan=LONG).attach()
    await station.status(1, "Available")
    return station, runner


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_remote_start_starts_a_transaction_and_remote_stop_ends_it(protocol: str) -> None:
    async with running_csms() as csms:
        csms.memory.access.set("CARD1", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        station, runner = await _reacting(csms, protocol)
        store = csms.memory.transactions
        action, payload = _remote_start(protocol, "CARD1")
        assert (await csms.csms.registry.call("CS001", action, payload))["status"] == "Accepted"
        await eventually(lambda: len(store.by_id) == 1, what="a transaction")
        (transaction,) = store.by_id.values()
        assert transaction.start.id_token == "CARD1" and transaction.end is None
        # AuthorizeRemoteTxRequests is true: the station asked first (the log is written behind).
        await eventually(lambda: _calls(csms, "Authorize") == 1, what="an Authorize")
        # Busy: a second start is refused.
        assert (await csms.csms.registry.call("CS001", action, payload))["status"] == "Rejected"
        await eventually(lambda: len(transaction.samples) >= 3, what="meter values")
        stop, stop_payload = _remote_stop(protocol, transaction)
        assert (await csms.csms.registry.call("CS001", stop, stop_payload))["status"] == "Accepted"
        await eventually(lambda: transaction.end is not None, what="the transaction ended")
        assert transaction.end is not None and transaction.end.reason == "Remote"
        assert store.completed == [transaction.id]
        await eventually(lambda: _connector_status(csms) == "Available", what="available again")
        # Nothing runs now: stopping it again is refused.
        assert (await csms.csms.registry.call("CS001", stop, stop_payload))["status"] == "Rejected"
        assert runner.sessions == 1
        await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_remote_start_of_a_refused_card_charges_nothing(protocol: str) -> None:
    async with running_csms() as csms:  # CARD2 is unknown: Authorize says Invalid
        station, runner = await _reacting(csms, protocol)
        action, payload = _remote_start(protocol, "CARD2")
        assert (await csms.csms.registry.call("CS001", action, payload))["status"] == "Accepted"
        await eventually(lambda: runner.refused == 1, what="the card refused")
        await eventually(lambda: not runner.busy, what="the connector free")
        assert csms.memory.transactions.by_id == {}
        await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_change_availability_makes_the_connector_unavailable_and_available_again(protocol: str) -> None:
    async with running_csms() as csms:
        csms.memory.access.set("CARD1", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        station, runner = await _reacting(csms, protocol)
        if protocol == messages.V16:
            inoperative: dict[str, Any] = {"connectorId": 1, "type": "Inoperative"}
            operative: dict[str, Any] = {"connectorId": 0, "type": "Operative"}
        else:
            inoperative = {"operationalStatus": "Inoperative", "evse": {"id": 1}}
            operative = {"operationalStatus": "Operative"}
        answer = await csms.csms.registry.call("CS001", "ChangeAvailability", inoperative)
        assert answer["status"] == "Accepted"
        await eventually(lambda: _connector_status(csms) == "Unavailable", what="unavailable")
        change = next(c for k, c in csms.memory.events.statuses.items() if k[0] == "CS001" and k[2] == 1)
        assert change.status is PlatformStatus.UNAVAILABLE
        # Unavailable: neither a remote start nor a driver can charge.
        action, payload = _remote_start(protocol, "CARD1")
        assert (await csms.csms.registry.call("CS001", action, payload))["status"] == "Rejected"
        assert not await runner.run(LONG)
        answer = await csms.csms.registry.call("CS001", "ChangeAvailability", operative)
        assert answer["status"] == "Accepted"
        await eventually(lambda: _connector_status(csms) == "Available", what="available")
        # While a session runs, going inoperative is Scheduled and applies when it ends.
        assert (await csms.csms.registry.call("CS001", action, payload))["status"] == "Accepted"
        await eventually(lambda: len(csms.memory.transactions.by_id) == 1, what="a transaction")
        answer = await csms.csms.registry.call("CS001", "ChangeAvailability", inoperative)
        assert answer["status"] == "Scheduled"
        assert _connector_status(csms) != "Unavailable"
        (transaction,) = csms.memory.transactions.by_id.values()
        stop, stop_payload = _remote_stop(protocol, transaction)
        await eventually(lambda: bool(transaction.samples), what="charging")
        assert (await csms.csms.registry.call("CS001", stop, stop_payload))["status"] == "Accepted"
        await eventually(
            lambda: _connector_status(csms) == "Unavailable", what="unavailable after the session"
        )
        await station.close()


def _calls(csms: RunningCsms, action: str) -> int:
    """How many `action` CALLs stations sent (in the CSMS's message log)."""
    return sum(1 for e in csms.memory.log_sink.entries if e.action == action and e.message_type == 2)


def _heartbeats(csms: RunningCsms) -> int:
    return _calls(csms, "Heartbeat")


async def _read_heartbeat_interval(csms: RunningCsms, protocol: str) -> str:
    if protocol == messages.V16:
        answer = await csms.csms.registry.call("CS001", "GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert answer["configurationKey"][0]["readonly"] is False
        return str(answer["configurationKey"][0]["value"])
    answer = await csms.csms.registry.call("CS001", "GetVariables", {"getVariableData": [HEARTBEAT]})
    assert answer["getVariableResult"][0]["attributeStatus"] == "Accepted"
    return str(answer["getVariableResult"][0]["attributeValue"])


async def _set_heartbeat_interval(csms: RunningCsms, protocol: str, value: str) -> str:
    if protocol == messages.V16:
        answer = await csms.csms.registry.call(
            "CS001", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": value}
        )
        return str(answer["status"])
    data = [{**HEARTBEAT, "attributeValue": value}]
    answer = await csms.csms.registry.call("CS001", "SetVariables", {"setVariableData": data})
    return str(answer["setVariableResult"][0]["attributeStatus"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_heartbeat_interval_is_the_boot_interval_and_a_change_reads_back_and_applies(
    protocol: str,
) -> None:
    async with running_csms(options=CsmsOptions(validate_responses=True, heartbeat_interval=120)) as csms:
        station = await _booted(csms, protocol)
        assert await _read_heartbeat_interval(csms, protocol) == "120"  # the boot answer's
        station.start_heartbeats()
        assert await _set_heartbeat_interval(csms, protocol, "0.05") == "Accepted"
        assert await _read_heartbeat_interval(csms, protocol) == "0.05"
        # The loop did not wait out the old 120 s: the new period applies at once.
        await eventually(lambda: _heartbeats(csms) >= 3, timeout=3, what="heartbeats at the new interval")
        assert await _set_heartbeat_interval(csms, protocol, "soon") == "Rejected"
        assert await _read_heartbeat_interval(csms, protocol) == "0.05"
        await station.close()


async def test_configuration_keys_known_unknown_and_read_only() -> None:
    async with running_csms() as csms:
        await _booted(csms, messages.V16)
        change: dict[str, Any] = {"key": "AuthorizeRemoteTxRequests", "value": "false"}
        assert (await csms.csms.registry.call("CS001", "ChangeConfiguration", change))["status"] == "Accepted"
        change = {"key": "NumberOfConnectors", "value": "4"}
        assert (await csms.csms.registry.call("CS001", "ChangeConfiguration", change))["status"] == "Rejected"
        change = {"key": "NoSuchKey", "value": "1"}
        answer = await csms.csms.registry.call("CS001", "ChangeConfiguration", change)
        assert answer["status"] == "NotSupported"
        keys = {"key": ["AuthorizeRemoteTxRequests", "NumberOfConnectors", "NoSuchKey"]}
        answer = await csms.csms.registry.call("CS001", "GetConfiguration", keys)
        assert answer["configurationKey"] == [
            {"key": "AuthorizeRemoteTxRequests", "readonly": False, "value": "false"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
        ]
        assert answer["unknownKey"] == ["NoSuchKey"]


async def test_variables_unknown_component_and_variable() -> None:
    async with running_csms() as csms:
        await _booted(csms, messages.V201)
        data = [
            {
                "component": {"name": "AuthCtrlr"},
                "variable": {"name": "AuthorizeRemoteStart"},
                "attributeValue": "false",
            },
            {"component": {"name": "Nowhere"}, "variable": {"name": "X"}, "attributeValue": "1"},
            {"component": {"name": "AuthCtrlr"}, "variable": {"name": "X"}, "attributeValue": "1"},
        ]
        answer = await csms.csms.registry.call("CS001", "SetVariables", {"setVariableData": data})
        statuses = [r["attributeStatus"] for r in answer["setVariableResult"]]
        assert statuses == ["Accepted", "UnknownComponent", "UnknownVariable"]
        read = [{k: v for k, v in d.items() if k != "attributeValue"} for d in data[:1]]
        answer = await csms.csms.registry.call("CS001", "GetVariables", {"getVariableData": read})
        assert answer["getVariableResult"][0]["attributeValue"] == "false"


def test_backoff_grows_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(first=1.0, factor=2.0, cap=10.0, jitter=0.5)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays), (attempt, delays)
        assert len(set(delays)) > 1  # jittered


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_displaced_station_reconnects_and_is_online_again(protocol: str) -> None:
    async with running_csms() as csms:
        station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
        station.spawn(stay_connected(station, FAST, status="Available"))
        await eventually(lambda: csms.memory.events.online.get("CS001", False), what="online")
        first = station.ws
        # Another connection with the same identity displaces it; it comes back (displacing
        # the intruder in turn, which does not retry) and boots and reports its connector again.
        intruder = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
        await intruder.connect()
        await intruder.wait_closed()
        await eventually(lambda: station.connected and station.ws is not first, what="reconnected")
        await eventually(lambda: csms.memory.events.online.get("CS001", False), what="online again")
        assert csms.csms.registry.get("CS001") is not None
        await eventually(lambda: _calls(csms, "BootNotification") >= 2, what="booted again")
        assert station.reconnect_attempts >= 1
        status = csms.memory.events.statuses[("CS001", 1, 1)]
        assert status.ocpp_status == "Available"
        await station.close()
        await eventually(lambda: not csms.memory.events.online.get("CS001", True), what="offline after close")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_session_carries_on_through_a_reconnect(protocol: str) -> None:
    async with running_csms() as csms:
        csms.memory.access.set("CARD1", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
        station.spawn(stay_connected(station, FAST, status="Available"))
        await eventually(lambda: station.connected and station.boot_response is not None, what="up")
        runner = ConnectorRunner(station).attach()
        plan = SessionPlan("CARD1", kwh=3.0, charging_seconds=1.0, parked_seconds=0.2, sample_seconds=0.05)
        session = asyncio.create_task(runner.run(plan))
        store = csms.memory.transactions
        await eventually(lambda: len(store.by_id) == 1, what="a transaction")
        intruder = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
        await intruder.connect()  # displaces it mid-session: messages queue until it is back
        assert await session
        await eventually(lambda: len(store.completed) == 1, what="the transaction ended at the CSMS")
        (transaction,) = store.by_id.values()
        energy = [s.energy_wh for _, s in sorted(transaction.samples.items()) if s.energy_wh is not None]
        assert energy[-1] == 3000  # every meter value arrived, the queued ones too
        assert station.offline_queue == [] and station.reconnect_attempts >= 1
        await station.close()
        await intruder.close()


async def test_a_station_refused_at_first_keeps_trying_with_backoff() -> None:
    async with running_csms(stations={}) as csms:
        station = SimStation("LATE-1", csms.url, password=DEFAULT_PASSWORD)
        station.spawn(stay_connected(station, FAST, status="Available"))
        await eventually(lambda: station.reconnect_attempts >= 3, what="refused attempts (404)")
        assert not station.connected
        csms.memory.stations.add("LATE-1", DEFAULT_PASSWORD)  # registered now: the next try works
        await eventually(lambda: csms.memory.events.online.get("LATE-1", False), what="online")
        await eventually(
            lambda: ("LATE-1", 1, 1) in csms.memory.events.statuses, what="its connector reported"
        )
        await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_trigger_message_sends_the_requested_message(protocol: str) -> None:
    async with running_csms() as csms:
        station, _ = await _reacting(csms, protocol)
        # Sent before: one StatusNotification, one BootNotification, no Heartbeat.
        for message, total in (("StatusNotification", 2), ("Heartbeat", 1), ("BootNotification", 2)):
            answer = await csms.csms.registry.call("CS001", "TriggerMessage", {"requestedMessage": message})
            assert answer["status"] == "Accepted"
            await eventually(lambda: _calls(csms, message) == total, what=f"a triggered {message}")  # noqa: B023
        answer = await csms.csms.registry.call(
            "CS001", "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}
        )
        assert answer["status"] == "NotImplemented"
        await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_reset_ends_the_session_and_the_station_reboots(protocol: str) -> None:
    async with running_csms() as csms:
        csms.memory.access.set("CARD1", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
        station.spawn(stay_connected(station, FAST, status="Available"))
        await eventually(lambda: station.connected and station.boot_response is not None, what="up")
        runner = ConnectorRunner(station, remote_plan=LONG).attach()
        action, payload = _remote_start(protocol, "CARD1")
        assert (await csms.csms.registry.call("CS001", action, payload))["status"] == "Accepted"
        store = csms.memory.transactions
        await eventually(lambda: len(store.by_id) == 1, what="a transaction")
        reset = {"type": "Hard"} if protocol == messages.V16 else {"type": "OnIdle"}
        expected = "Accepted" if protocol == messages.V16 else "Scheduled"  # 2.0.1: after the session
        assert (await csms.csms.registry.call("CS001", "Reset", reset))["status"] == expected
        if protocol == messages.V201:
            (transaction,) = store.by_id.values()
            stop, stop_payload = _remote_stop(protocol, transaction)
            await eventually(lambda: bool(transaction.samples), what="charging")
            assert (await csms.csms.registry.call("CS001", stop, stop_payload))["status"] == "Accepted"
        await eventually(lambda: len(store.completed) == 1, what="the session ended")
        (transaction,) = store.by_id.values()
        assert transaction.end is not None
        assert transaction.end.reason == ("HardReset" if protocol == messages.V16 else "Remote")
        await eventually(lambda: _calls(csms, "BootNotification") == 2, what="booted again after the reset")
        await eventually(lambda: station.connected, what="back online")
        assert runner.resets == 1
        await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_remote_start_skips_authorize_when_configured_not_to_ask(protocol: str) -> None:
    async with running_csms() as csms:
        csms.memory.access.set("CARD1", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        station, _ = await _reacting(csms, protocol)
        if protocol == messages.V16:
            change: dict[str, Any] = {"key": "AuthorizeRemoteTxRequests", "value": "false"}
            assert (await csms.csms.registry.call("CS001", "ChangeConfiguration", change))[
                "status"
            ] == "Accepted"
        else:
            ref = {"component": {"name": "AuthCtrlr"}, "variable": {"name": "AuthorizeRemoteStart"}}
            data = {"setVariableData": [{**ref, "attributeValue": "false"}]}
            answer = await csms.csms.registry.call("CS001", "SetVariables", data)
            assert answer["setVariableResult"][0]["attributeStatus"] == "Accepted"
        action, payload = _remote_start(protocol, "CARD1")
        assert (await csms.csms.registry.call("CS001", action, payload))["status"] == "Accepted"
        await eventually(lambda: len(csms.memory.transactions.by_id) == 1, what="a transaction")
        await asyncio.sleep(0.2)  # the message log is written behind
        assert _calls(csms, "Authorize") == 0
        await station.close()
