"""The CSMS's metrics from core's catalog: handshake refusals by reason, connections by version,
CALLs by version x action x direction x result with their latency, CALLERRORs by code both ways,
remote actions that time out, and a drain that spreads its 1001 closes over a window."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from wattlane.core.metrics import publish
from wattlane.csms.protocol.errors import CallError, CallTimeout, OcppVersion
from wattlane.csms.protocol.metrics import VersionMetrics, command_timed_out
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator.station import SimCallError, SimStation, default_handlers

V16 = "ocpp1.6"


def sample(name: str, **labels: str) -> float:
    publish()  # what the side port does before each scrape: the hot path's plain counts go out
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Samples before and after: `delta(name, **labels)` is how much they moved."""

    def __init__(self) -> None:
        self._before: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def watch(self, name: str, **labels: str) -> Delta:
        self._before[(name, tuple(sorted(labels.items())))] = sample(name, **labels)
        return self

    def __call__(self, name: str, **labels: str) -> float:
        return sample(name, **labels) - self._before[(name, tuple(sorted(labels.items())))]


def rejections(reason: str) -> tuple[str, dict[str, str]]:
    return "wattlane_ocpp_handshake_rejections_total", {"reason": reason}


async def test_every_handshake_refusal_is_counted_by_its_reason(csms: RunningCsms) -> None:
    delta = Delta()
    for reason in ("unknown_station", "bad_credentials", "bad_path", "no_subprotocol"):
        name, labels = rejections(reason)
        delta.watch(name, **labels)
    with pytest.raises(Exception, match="404"):
        await SimStation("NOBODY", csms.url, password=DEFAULT_PASSWORD).connect()
    with pytest.raises(Exception, match="401"):
        await SimStation("CS001", csms.url, password="wrong-password-0123").connect()
    with pytest.raises(Exception, match="404"):
        await SimStation(
            "CS001", csms.url.replace("/ocpp", "/elsewhere"), password=DEFAULT_PASSWORD
        ).connect()
    speechless = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD, subprotocols=["ocpp9"])
    await speechless.connect()
    assert (await speechless.wait_closed())[0] == 1002
    for reason in ("unknown_station", "bad_credentials", "bad_path", "no_subprotocol"):
        name, labels = rejections(reason)
        assert delta(name, **labels) == 1, reason


async def test_connections_calls_answers_and_latency_are_counted_per_version_and_action(
    csms: RunningCsms,
) -> None:
    ok_boot = {"version": V16, "action": "BootNotification", "direction": "in", "result": "ok"}
    unknown = {"version": V16, "action": "other", "direction": "in", "result": "callerror"}
    delta = (
        Delta()
        .watch("wattlane_ocpp_connects_total", version=V16)
        .watch("wattlane_ocpp_disconnects_total", version=V16)
        .watch("wattlane_ocpp_connected_stations", version=V16)
        .watch("wattlane_ocpp_messages_total", **ok_boot)
        .watch("wattlane_ocpp_messages_total", **unknown)
        .watch("wattlane_ocpp_call_seconds_count", action="BootNotification", direction="in")
        .watch("wattlane_ocpp_call_errors_total", version=V16, code="NotImplemented", direction="out")
    )
    station = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD)
    await station.connect()
    await eventually(lambda: delta("wattlane_ocpp_connected_stations", version=V16) == 1)
    await station.boot()
    with pytest.raises(SimCallError, match="NotImplemented"):
        await station.call("MadeUpAction-42", {})
    assert delta("wattlane_ocpp_connects_total", version=V16) == 1
    assert delta("wattlane_ocpp_messages_total", **ok_boot) == 1
    assert delta("wattlane_ocpp_call_seconds_count", action="BootNotification", direction="in") == 1
    # An action outside the schemas is counted, under "other": never as a label of its own.
    assert delta("wattlane_ocpp_messages_total", **unknown) == 1
    assert (
        sample(
            "wattlane_ocpp_messages_total",
            version=V16,
            action="MadeUpAction-42",
            direction="in",
            result="callerror",
        )
        == 0
    )
    assert delta("wattlane_ocpp_call_errors_total", version=V16, code="NotImplemented", direction="out") == 1
    await station.close()
    await eventually(lambda: delta("wattlane_ocpp_disconnects_total", version=V16) == 1)
    assert delta("wattlane_ocpp_connected_stations", version=V16) == 0


async def test_our_calls_are_counted_by_how_the_station_answered(csms: RunningCsms) -> None:
    out = {"version": V16, "direction": "out"}
    delta = (
        Delta()
        .watch("wattlane_ocpp_messages_total", action="Reset", result="ok", **out)
        .watch("wattlane_ocpp_messages_total", action="ClearCache", result="callerror", **out)
        .watch("wattlane_ocpp_messages_total", action="ChangeAvailability", result="timeout", **out)
        .watch("wattlane_ocpp_call_seconds_count", action="Reset", direction="out")
        .watch("wattlane_ocpp_call_errors_total", version=V16, code="NotImplemented", direction="in")
        .watch("wattlane_ocpp_command_timeouts_total", action="ChangeAvailability")
    )
    station = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD, handlers=default_handlers(V16))
    station.handlers.pop("ClearCache", None)  # answered NotImplemented
    station.script("ChangeAvailability", None)  # never answered
    await station.connect()
    await station.boot()
    registry = csms.csms.registry
    await registry.call("CS001", "Reset", {"type": "Soft"})
    with pytest.raises(CallError):
        await registry.call("CS001", "ClearCache", {})
    with pytest.raises(CallTimeout):
        await registry.call(
            "CS001", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, timeout=0.2
        )
    command_timed_out("ChangeAvailability")  # what the command runner says of a remote action
    assert delta("wattlane_ocpp_messages_total", action="Reset", result="ok", **out) == 1
    assert delta("wattlane_ocpp_call_seconds_count", action="Reset", direction="out") == 1
    assert delta("wattlane_ocpp_messages_total", action="ClearCache", result="callerror", **out) == 1
    assert delta("wattlane_ocpp_call_errors_total", version=V16, code="NotImplemented", direction="in") == 1
    assert delta("wattlane_ocpp_messages_total", action="ChangeAvailability", result="timeout", **out) == 1
    assert delta("wattlane_ocpp_command_timeouts_total", action="ChangeAvailability") == 1
    await station.close()


async def test_a_drain_closes_every_station_with_1001_spread_over_the_window() -> None:
    stations = {f"D-{n}": DEFAULT_PASSWORD for n in range(6)}
    async with running_csms(stations=stations) as running:
        fleet = [SimStation(i, running.url, password=DEFAULT_PASSWORD) for i in stations]
        for station in fleet:
            await station.connect()
        await eventually(lambda: len(running.csms.registry) == 6)
        closed: dict[str, float] = {}

        async def watch(station: SimStation) -> int | None:
            code, _ = await station.wait_closed(timeout=10)
            closed[station.identity] = time.monotonic()
            return code

        watchers = [asyncio.create_task(watch(s)) for s in fleet]
        started = time.monotonic()
        await running.csms.drain(1.0, min_rate=1.0)  # 6 stations over 1 s: one every 1/6 s
        codes = await asyncio.gather(*watchers)
        assert codes == [1001] * 6
        spread = max(closed.values()) - min(closed.values())
        assert spread >= 0.6 and max(closed.values()) - started < 5.0
        # No new station gets in once the drain began.
        with pytest.raises(OSError):
            await SimStation("D-0", running.url, password=DEFAULT_PASSWORD).connect(open_timeout=2)


def test_plain_counts_are_published_once_into_the_catalog_histogram_and_counters() -> None:
    metrics = VersionMetrics(OcppVersion.V201)
    incoming = metrics.incoming("Heartbeat")
    labels = {"version": "ocpp2.0.1", "action": "Heartbeat", "direction": "in"}
    seconds = {"action": "Heartbeat", "direction": "in"}
    delta = (
        Delta()
        .watch("wattlane_ocpp_messages_total", result="ok", **labels)
        .watch("wattlane_ocpp_messages_total", result="callerror", **labels)
        .watch("wattlane_ocpp_call_seconds_bucket", le="0.001", **seconds)
        .watch("wattlane_ocpp_call_seconds_count", **seconds)
        .watch("wattlane_ocpp_call_seconds_sum", **seconds)
    )
    incoming.ok(0.0004)
    incoming.ok(0.002)
    incoming.error(30.0)  # beyond the last bound: +Inf
    metrics.publish()
    metrics.publish()  # nothing new: nothing added twice
    assert delta("wattlane_ocpp_messages_total", result="ok", **labels) == 2
    assert delta("wattlane_ocpp_messages_total", result="callerror", **labels) == 1
    assert delta("wattlane_ocpp_call_seconds_bucket", le="0.001", **seconds) == 1
    assert delta("wattlane_ocpp_call_seconds_count", **seconds) == 3
    assert abs(delta("wattlane_ocpp_call_seconds_sum", **seconds) - 30.0024) < 1e-9
