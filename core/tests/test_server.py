"""server: a real grpc.aio server with health, reflection, /metrics and graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from wattlane.core.client import channel
from wattlane.core.server import ServerOptions, ServiceServer, run, run_until_signal
from wattlane.core.testing.probe import SERVICE, ProbeClient, serve_probe
from wattlane.core.testing.tokens import TokenMinter

HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"


async def health_check(port: int, service: str) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        reply = await health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
        return int(reply.status)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


async def test_start_binds_a_free_port(minter: TokenMinter) -> None:
    async with serve_probe(verifier=minter.verifier()) as (server, _):
        assert server.port > 0
        async with channel(f"127.0.0.1:{server.port}", max_attempts=1) as ch:
            assert (await ProbeClient(ch).call("Public"))["caller"] == "anonymous"


async def test_health_is_serving_for_the_server_and_each_service() -> None:
    async with serve_probe() as (server, _):
        assert await health_check(server.port, "") == health_pb2.HealthCheckResponse.SERVING
        assert await health_check(server.port, SERVICE) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_check(server.port, "no.such.Service")
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_turns_not_serving_on_stop() -> None:
    """A watcher (the kubelet, a load balancer) learns of the shutdown before the port closes."""
    async with serve_probe(grace_seconds=1.0) as (server, _):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=""))
            first = await asyncio.wait_for(watch.read(), 5)
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            stopping = asyncio.create_task(server.stop())
            second = await asyncio.wait_for(watch.read(), 5)
            assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await stopping
            watch.cancel()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_check(server.port, "")
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_reflection_lists_the_services() -> None:
    async with serve_probe() as (server, _):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            stub = reflection_pb2_grpc.ServerReflectionStub(ch)
            call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            replies = [reply async for reply in call]
        names = {s.name for s in replies[0].list_services_response.service}
        assert names == {SERVICE, HEALTH, REFLECTION}


async def test_in_flight_calls_finish_during_the_grace_period(minter: TokenMinter) -> None:
    async with (
        serve_probe(verifier=minter.verifier(), grace_seconds=5.0) as (server, probe),
        channel(f"127.0.0.1:{server.port}", token=minter.user_token(), max_attempts=1) as ch,
    ):
        call = asyncio.create_task(ProbeClient(ch).call("Sleep", {"seconds": 0.3}))
        await probe.sleeping.wait()
        await server.stop()
        assert (await call) == {"slept": True}


async def test_calls_beyond_the_grace_period_are_cut_off(minter: TokenMinter) -> None:
    async with (
        serve_probe(verifier=minter.verifier(), grace_seconds=0.2) as (server, probe),
        channel(f"127.0.0.1:{server.port}", token=minter.user_token(), max_attempts=1) as ch,
    ):
        call = asyncio.create_task(ProbeClient(ch).call("Sleep", {"seconds": 30}))
        await probe.sleeping.wait()
        await asyncio.wait_for(server.stop(), 5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


async def test_metrics_endpoint_serves_rpc_metrics_and_closes_on_stop() -> None:
    async with serve_probe(service="probe-metrics-endpoint", metrics_port=0) as (server, _):
        assert server.metrics_port
        async with channel(f"127.0.0.1:{server.port}", max_attempts=1) as ch:
            await ProbeClient(ch).call("Public")
        text = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.metrics_port}/metrics")
        assert (
            'wattlane_grpc_server_handled_total{grpc_code="OK",grpc_method="Public",'
            f'grpc_service="{SERVICE}",service="probe-metrics-endpoint"}} 1.0'
        ) in text
        assert "wattlane_grpc_server_handling_seconds_bucket" in text
        port = server.metrics_port
    with socket.socket() as probe_socket:
        probe_socket.settimeout(2)
        with pytest.raises(ConnectionRefusedError):
            probe_socket.connect(("127.0.0.1", port))


async def test_no_metrics_endpoint_by_default() -> None:
    async with serve_probe() as (server, _):
        assert server.metrics_port is None


async def test_port_in_use_is_an_error() -> None:
    async with serve_probe() as (server, _):
        taken = ServiceServer(
            ServerOptions(service="second", port=server.port), services=[], verifier=None, scopes=None
        )
        with pytest.raises((OSError, RuntimeError)):
            await taken.start()


async def test_run_until_signal_stops_gracefully_on_sigterm() -> None:
    loop = asyncio.get_running_loop()
    events: list[str] = []
    started = asyncio.Event()

    async def start() -> None:
        events.append("started")
        started.set()

    def stop() -> None:
        events.append("stopped")

    task = asyncio.create_task(run_until_signal(start, stop))
    try:
        await started.wait()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 5)
        assert events == ["started", "stopped"]
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)  # hand the signals back to pytest


def test_run_executes_an_async_main() -> None:
    seen: list[str] = []

    async def main() -> None:
        await asyncio.sleep(0)
        seen.append(type(asyncio.get_running_loop()).__module__)

    run(main())
    assert len(seen) == 1
