"""Simulated stations react like real ones at a real CSMS: configuration reads back what was set
and takes effect (1.6 keys, 2.0.1 variables); a station displaced or disconnected comes back
with backoff."""

from __future__ import annotations

import random
from typing import Any

import pytest

from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.reconnect import Backoff, stay_connected
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
