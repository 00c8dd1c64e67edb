"""CSMS→station calls: one in flight per station, timeouts, CALLERROR answers, stray responses."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from wattlane.core import telemetry
from wattlane.csms.protocol.errors import (
    CallError,
    CallTimeout,
    InvalidResponse,
    OcppError,
    StationNotConnected,
)
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually
from wattlane.simulator.station import SimCallError, SimStation, default_handlers

PROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]
RESET = {"ocpp1.6": {"type": "Soft"}, "ocpp2.0.1": {"type": "OnIdle"}}


async def _connected(csms: RunningCsms, protocol: str, **kwargs: Any) -> SimStation:
    station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD, **kwargs)
    await station.connect()
    await eventually(lambda: "CS001" in csms.csms.registry, what="registered")
    return station


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_call_returns_the_station_answer(csms: RunningCsms, protocol: str) -> None:
    station = await _connected(csms, protocol, handlers=default_handlers(protocol))
    assert await csms.csms.registry.call("CS001", "Reset", RESET[protocol]) == {"status": "Accepted"}
    assert station.received_calls == [("Reset", RESET[protocol])]
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_callerror_answer_raises_call_error(csms: RunningCsms, protocol: str) -> None:
    station = await _connected(csms, protocol, handlers={})
    with pytest.raises(CallError) as caught:
        await csms.csms.registry.call("CS001", "Reset", RESET[protocol])
    assert caught.value.code == "NotImplemented"
    assert caught.value.action == "Reset"
    await station.close()


async def test_invalid_answer_raises_invalid_response(csms: RunningCsms) -> None:
    async def nonsense(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Maybe"}

    station = await _connected(csms, "ocpp1.6", handlers={"Reset": nonsense})
    with pytest.raises(InvalidResponse):
        await csms.csms.registry.call("CS001", "Reset", {"type": "Soft"})
    await station.close()


async def test_invalid_request_is_refused_before_sending(csms: RunningCsms) -> None:
    station = await _connected(csms, "ocpp1.6")
    with pytest.raises(OcppError):
        await csms.csms.registry.call("CS001", "Reset", {"type": "Sideways"})
    assert station.received_calls == []
    await station.close()


async def test_timeout_raises_call_timeout_and_the_next_call_works(csms: RunningCsms) -> None:
    release = asyncio.Event()

    async def slow(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"status": "Accepted"}

    # The simulator answers only once released, well after the CSMS gave up.
    station = await _connected(csms, "ocpp1.6")
    station.handlers["Reset"] = slow
    task = asyncio.ensure_future(csms.csms.registry.call("CS001", "Reset", {"type": "Soft"}, timeout=0.3))
    with pytest.raises(CallTimeout):
        await task
    release.set()
    # The late answer to the timed-out call is ignored; a new call gets its own answer.
    await asyncio.sleep(0.05)
    station.handlers["ClearCache"] = default_handlers("ocpp1.6")["ClearCache"]
    assert await csms.csms.registry.call("CS001", "ClearCache", {}) == {"status": "Accepted"}
    await station.close()


async def test_one_call_in_flight_per_station(csms: RunningCsms) -> None:
    in_flight = 0
    most = 0

    async def counting(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return {"status": "Accepted"}

    station = await _connected(csms, "ocpp1.6", handlers={"ClearCache": counting})
    # Watch the wire: each CALL must be answered before the next one is sent.
    results = await asyncio.gather(*(csms.csms.registry.call("CS001", "ClearCache", {}) for _ in range(10)))
    assert results == [{"status": "Accepted"}] * 10
    assert len(station.received_calls) == 10
    assert most == 1
    await station.close()


async def test_calls_interleave_with_station_calls(csms: RunningCsms) -> None:
    station = await _connected(csms, "ocpp2.0.1", handlers=default_handlers("ocpp2.0.1"))
    results = await asyncio.gather(
        csms.csms.registry.call("CS001", "ClearCache", {}),
        station.heartbeat(),
        csms.csms.registry.call("CS001", "Reset", {"type": "Immediate"}),
        station.heartbeat(),
    )
    assert results[0] == {"status": "Accepted"}
    assert "currentTime" in results[1]
    await station.close()


async def test_call_to_absent_station_raises(csms: RunningCsms) -> None:
    with pytest.raises(StationNotConnected):
        await csms.csms.registry.call("CS001", "ClearCache", {})


async def test_station_disconnecting_mid_call_raises_not_connected(csms: RunningCsms) -> None:
    async def hang_up(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        assert station.ws is not None
        await station.ws.close()
        raise SimCallError("GenericError", "unreachable", {})

    station = await _connected(csms, "ocpp1.6", handlers={"ClearCache": hang_up})
    with pytest.raises(StationNotConnected):
        await csms.csms.registry.call("CS001", "ClearCache", {})
    await station.close()


async def test_stray_answers_do_not_disturb_a_pending_call(csms: RunningCsms) -> None:
    async def noisy(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        await station.send_raw(orjson.dumps([3, "not-the-id", {"status": "Rejected"}]).decode())
        await station.send_raw(orjson.dumps([4, "not-the-id", "GenericError", "x", {}]).decode())
        return {"status": "Accepted"}

    station = await _connected(csms, "ocpp1.6", handlers={"ClearCache": noisy})
    assert await csms.csms.registry.call("CS001", "ClearCache", {}) == {"status": "Accepted"}
    assert "currentTime" in await station.heartbeat()
    await station.close()


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """This process's finished spans (the tracer provider is set once per process: the first
    module to need one installs it through core, later ones add their processor)."""
    memory = InMemorySpanExporter()
    if not telemetry.configure_tracing("csms", processors=[SimpleSpanProcessor(memory)]):
        raise AssertionError("tracing did not turn on")
    return memory


async def test_a_call_is_a_span_of_the_callers_trace_and_its_frames_carry_the_trace_id(
    csms: RunningCsms, spans: InMemorySpanExporter
) -> None:
    station = await _connected(csms, "ocpp1.6", handlers={})  # answers every CALL with a CALLERROR
    spans.clear()
    with telemetry.tracer().start_as_current_span("request") as request, pytest.raises(CallError):
        await csms.csms.registry.call("CS001", "Reset", {"type": "Soft"})
    (call,) = [s for s in spans.get_finished_spans() if s.name == "OCPP Reset"]
    assert call.parent is not None and call.parent.span_id == request.get_span_context().span_id
    assert call.kind == trace.SpanKind.CLIENT
    assert call.status.status_code == trace.StatusCode.ERROR  # the station refused
    assert call.attributes is not None and call.attributes["ocpp.station"] == "CS001"
    trace_id = format(request.get_span_context().trace_id, "032x")
    await eventually(lambda: len([e for e in csms.memory.log_sink.entries if e.action == "Reset"]) >= 2)
    logged = [(e.message_type, e.trace_id) for e in csms.memory.log_sink.entries if e.action == "Reset"]
    assert logged == [(2, trace_id), (4, trace_id)]  # the CALL and the CALLERROR answering it
    # A station's own CALLs are not part of a request's trace.
    assert {e.trace_id for e in csms.memory.log_sink.entries if e.action != "Reset"} <= {None}
    await station.close()


async def test_a_call_outside_a_trace_records_no_span(csms: RunningCsms, spans: InMemorySpanExporter) -> None:
    station = await _connected(csms, "ocpp1.6", handlers=default_handlers("ocpp1.6"))
    spans.clear()
    assert await csms.csms.registry.call("CS001", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert [s.name for s in spans.get_finished_spans() if s.name.startswith("OCPP")] == []
    await eventually(lambda: any(e.action == "Reset" for e in csms.memory.log_sink.entries))
    assert {e.trace_id for e in csms.memory.log_sink.entries} == {None}
    await station.close()
