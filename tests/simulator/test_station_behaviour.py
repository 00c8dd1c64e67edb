"""Simulated stations react like real ones at a real CSMS: configuration reads back what was set
and takes effect (1.6 keys, 2.0.1 variables)."""

from __future__ import annotations

from typing import Any

import pytest

from wattlane.csms.protocol.options import CsmsOptions
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.station import SimStation, default_handlers

PROTOCOLS = [messages.V16, messages.V201]
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}


async def _booted(csms: RunningCsms, protocol: str, identity: str = "CS001") -> SimStation:
    station = SimStation(
        identity, csms.url, protocol=protocol, password=DEFAULT_PASSWORD, handlers=default_handlers(protocol)
    )
    await station.connect()
    await station.boot()
    return station


def _heartbeats(csms: RunningCsms) -> int:
    return sum(1 for e in csms.memory.log_sink.entries if e.action == "Heartbeat" and e.message_type == 2)


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
