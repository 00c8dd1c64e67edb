"""service: the skeleton every process runs on — lifecycle, side port, readiness, draining,
background tasks, closers and the serve|migrate|settings entry point."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.core.service import Service, grpc_service_name, main, serve
from wattlane.core.settings import ProcessSettings, SettingsError, doc, effective, load


@dataclasses.dataclass(frozen=True)
class ProbeSettings(ProcessSettings):
    host: str = "127.0.0.1"
    port: int = dataclasses.field(default=0, metadata=doc("gRPC port"))
    metrics_port: int = 0
    api_key: str = dataclasses.field(default="", metadata=doc("a key", secret=True))
    drain_seconds: float = 0.3


class ProbeService(Service[ProbeSettings]):
    """A service with one servicer, one background task and two closers."""

    name = "probe"
    settings_class = ProbeSettings

    def __init__(self, settings: ProbeSettings, *, fail_setup: bool = False) -> None:
        super().__init__(settings)
        self.fail_setup = fail_setup
        self.events: list[str] = []
        self.setup_may_finish = asyncio.Event()
        self.setup_may_finish.set()
        self.ticks = 0

    async def setup(self) -> None:
        await self.setup_may_finish.wait()

        async def tick() -> None:
            self.ticks += 1

        self.every("tick", tick, 0.01)

        async def close(name: str) -> None:
            self.events.append(name)
            if name == "first":
                raise RuntimeError("closing the first one fails; the rest must still close")

        self.on_stop(lambda: close("first"))
        self.on_stop(lambda: close("second"))
        if self.fail_setup:
            raise RuntimeError("setup failed")
        self.add_grpc(
            audit_pb2_grpc.add_AuditServiceServicer_to_server, audit_pb2_grpc.AuditServiceServicer()
        )
        self.serve_grpc(self.settings.host, self.settings.port, verifier=None, scopes=None)

    async def drain(self) -> None:
        self.events.append("drain")


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def aget(port: int, path: str) -> tuple[int, str]:
    return await asyncio.to_thread(get, port, path)


def test_the_grpc_service_name_comes_from_the_generated_registration_function() -> None:
    assert (
        grpc_service_name(audit_pb2_grpc.add_AuditServiceServicer_to_server)
        == "wattlane.api.common.v1.AuditService"
    )


async def test_lifecycle_side_port_readiness_tasks_and_closers() -> None:
    service = ProbeService(ProbeSettings())
    service.setup_may_finish.clear()
    starting = asyncio.create_task(service.start())
    for _ in range(100):
        if service.metrics_port:
            break
        await asyncio.sleep(0.01)
    # Alive but not ready while it wires itself up.
    assert await aget(service.metrics_port, "/healthz") == (200, "ok\n")
    assert await aget(service.metrics_port, "/readyz") == (503, "starting\n")
    service.setup_may_finish.set()
    await starting
    assert await aget(service.metrics_port, "/readyz") == (200, "ready\n")
    status, metrics = await aget(service.metrics_port, "/metrics")
    assert status == 200
    assert 'wattlane_process_ready{service="probe"} 1.0' in metrics
    assert "wattlane_event_loop_lag_seconds_bucket" in metrics
    assert (await aget(service.metrics_port, "/nothing"))[0] == 404
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="wattlane.api.common.v1.AuditService")
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    await asyncio.sleep(0.1)
    assert service.ticks > 0
    side_port, grpc_port = service.metrics_port, service.port

    await service.stop()
    # Drained before the server stopped; closers in reverse order, a failing one not stopping the rest.
    assert service.events == ["drain", "second", "first"]
    ticks = service.ticks
    await asyncio.sleep(0.05)
    assert service.ticks == ticks  # the task stopped
    with pytest.raises(OSError):
        get(side_port, "/healthz")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)


async def test_a_failing_setup_closes_what_it_opened() -> None:
    service = ProbeService(ProbeSettings(), fail_setup=True)
    with pytest.raises(RuntimeError, match="setup failed"):
        await service.start()
    assert service.events == ["drain", "second", "first"]
    assert service.side_port is None or service.side_port._server is None


async def test_healthz_reports_a_stalled_event_loop() -> None:
    """The side port answers from its own thread: a blocked loop reads as not alive."""
    service = ProbeService(ProbeSettings())
    await service.start()
    service.health.stall_seconds = 0.3
    try:
        assert get(service.metrics_port, "/healthz")[0] == 200
        answers: list[tuple[int, str]] = []
        probe = threading.Timer(0.6, lambda: answers.append(get(service.metrics_port, "/healthz")))
        probe.start()
        time.sleep(0.9)  # noqa: ASYNC251 (blocking the event loop, as a CPU-bound bug would)
        probe.join()
        assert answers == [(503, "event loop stalled\n")]
        await asyncio.sleep(0.6)  # the loop turns again: alive
        assert (await aget(service.metrics_port, "/healthz"))[0] == 200
    finally:
        await service.stop()


async def test_serve_goes_not_ready_on_sigterm_before_it_stops() -> None:
    service = ProbeService(ProbeSettings(drain_seconds=0.5))
    serving = asyncio.create_task(serve(service))
    for _ in range(200):
        if service.health.is_ready():
            break
        await asyncio.sleep(0.01)
    assert await aget(service.metrics_port, "/readyz") == (200, "ready\n")
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.2)
    # Within the drain: still up and answering, but not ready.
    assert not serving.done()
    assert await aget(service.metrics_port, "/readyz") == (503, "draining\n")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
    await asyncio.wait_for(serving, 10)
    assert service.events[0] == "drain"


def test_settings_prints_what_is_in_force_with_secrets_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret_file = tmp_path / "api-key"
    secret_file.write_text("s3cr3t\n")
    monkeypatch.setenv("WATTLANE_PROBE_PORT", "6001")
    monkeypatch.setenv("WATTLANE_PROBE_API_KEY_FILE", str(secret_file))
    main(ProbeService, ["settings"])
    out = capsys.readouterr().out
    assert "WATTLANE_PROBE_PORT=6001  # gRPC port" in out
    assert "WATTLANE_PROBE_API_KEY=<redacted>" in out
    assert "s3cr3t" not in out
    assert "WATTLANE_PROBE_DRAIN_SECONDS=0.3" in out
    assert load(ProbeSettings, "probe").api_key == "s3cr3t"  # read from the file


def test_a_bad_setting_stops_the_process_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATTLANE_PROBE_PORT", "lots")
    with pytest.raises(SystemExit) as exited:
        main(ProbeService, ["serve"])
    assert exited.value.code == 2
    assert "WATTLANE_PROBE_PORT must be an integer, got 'lots'" in capsys.readouterr().err


def test_secrets_from_a_missing_file_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLANE_PROBE_API_KEY_FILE", "/no/such/file")
    with pytest.raises(SettingsError, match="WATTLANE_PROBE_API_KEY_FILE: cannot read /no/such/file"):
        load(ProbeSettings, "probe")


def test_effective_lists_every_field_once() -> None:
    rows = effective(ProbeSettings(api_key=""), "probe")
    names = [name for name, _, _ in rows]
    assert len(names) == len(set(names))
    assert ("WATTLANE_PROBE_API_KEY", "", "a key") in rows  # an empty secret shows as empty
    assert "WATTLANE_PROBE_METRICS_PORT" in names
