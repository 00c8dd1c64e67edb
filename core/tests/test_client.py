"""client.channel: bearer token, request id, default deadline and retries on UNAVAILABLE - against
a real ServiceServer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from prometheus_client import REGISTRY

from wattlane.core.client import channel
from wattlane.core.context import request_id_var
from wattlane.core.errors import FailedPrecondition, Unavailable
from wattlane.core.server import ServiceServer
from wattlane.core.testing.probe import SERVICE, Probe, ProbeClient, serve_probe
from wattlane.core.testing.tokens import TokenMinter

LABEL = "probe-client"


@pytest.fixture(scope="module")
async def served(minter: TokenMinter) -> AsyncIterator[tuple[ServiceServer, Probe]]:
    async with serve_probe(service=LABEL, verifier=minter.verifier(), grace_seconds=0.1) as pair:
        yield pair


@pytest.fixture
def target(served: tuple[ServiceServer, Probe]) -> str:
    return f"127.0.0.1:{served[0].port}"


@pytest.fixture
def probe(served: tuple[ServiceServer, Probe]) -> Probe:
    probe = served[1]
    probe.calls.clear()
    return probe


async def test_static_token(target: str, minter: TokenMinter) -> None:
    async with channel(target, token=minter.user_token("u1")) as ch:
        assert (await ProbeClient(ch).call("Whoami"))["caller"] == "user:u1"


async def test_token_provider_is_asked_on_every_call(target: str, minter: TokenMinter) -> None:
    tokens = iter([minter.user_token("u1"), minter.user_token("u2"), ""])
    async with channel(target, token=lambda: next(tokens)) as ch:
        client = ProbeClient(ch)
        assert (await client.call("Whoami"))["caller"] == "user:u1"
        assert (await client.call("Whoami"))["caller"] == "user:u2"
        # An empty token sends no authorization at all.
        assert (await client.call("Public"))["caller"] == "anonymous"


async def test_explicit_authorization_wins(target: str, minter: TokenMinter) -> None:
    async with channel(target, token=minter.user_token("u1")) as ch:
        reply = await ProbeClient(ch).call(
            "Whoami", metadata=[("authorization", f"Bearer {minter.user_token('u2')}")]
        )
    assert reply["caller"] == "user:u2"


async def test_no_token(target: str) -> None:
    async with channel(target, max_attempts=1) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ProbeClient(ch).call("Whoami")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_request_id_of_the_current_call_is_forwarded(target: str, minter: TokenMinter) -> None:
    token = request_id_var.set("upstream-7")
    try:
        async with channel(target, token=minter.user_token()) as ch:
            client = ProbeClient(ch)
            assert (await client.call("Whoami"))["request_id"] == "upstream-7"
            explicit = await client.call("Whoami", metadata=[("x-request-id", "mine")])
            assert explicit["request_id"] == "mine"
    finally:
        request_id_var.reset(token)


async def test_request_id_travels_through_a_service(target: str, minter: TokenMinter) -> None:
    """A handler calling another service with the core client passes its request id on."""
    token = minter.user_token("u1")
    async with channel(target, token=token) as ch:
        reply = await ProbeClient(ch).call(
            "Forward", {"target": target, "token": token}, metadata=[("x-request-id", "chain-1")]
        )
    assert reply["upstream"]["request_id"] == "chain-1"
    assert reply["downstream"]["request_id"] == "chain-1"
    assert reply["downstream"]["caller"] == "user:u1"


async def test_streaming_calls_carry_token_and_request_id(target: str, minter: TokenMinter) -> None:
    rid = request_id_var.set("stream-rid")
    try:
        async with channel(target, token=minter.user_token("u5")) as ch:
            items = await ProbeClient(ch).stream("Count", {"n": 2})
    finally:
        request_id_var.reset(rid)
    assert [(i["caller"], i["request_id"]) for i in items] == [("user:u5", "stream-rid")] * 2


async def test_default_deadline(target: str, minter: TokenMinter, probe: Probe) -> None:
    async with channel(target, token=minter.user_token(), timeout=0.2, max_attempts=1) as ch:
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ProbeClient(ch).call("Sleep", {"seconds": 5})
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 2
        # A call's own timeout wins over the default.
        assert await ProbeClient(ch).call("Sleep", {"seconds": 0.4}, deadline=5) == {"slept": True}


async def test_server_counts_the_abandoned_call_as_cancelled(
    target: str, minter: TokenMinter, probe: Probe
) -> None:
    labels = {"service": LABEL, "grpc_service": SERVICE, "grpc_method": "Sleep", "grpc_code": "CANCELLED"}
    before = REGISTRY.get_sample_value("wattlane_grpc_server_handled_total", labels) or 0.0
    async with channel(target, token=minter.user_token(), timeout=0.1, max_attempts=1) as ch:
        with pytest.raises(grpc.aio.AioRpcError):
            await ProbeClient(ch).call("Sleep", {"seconds": 5})
    for _ in range(100):  # the server notices the deadline on its own schedule
        if (REGISTRY.get_sample_value("wattlane_grpc_server_handled_total", labels) or 0.0) > before:
            break
        await asyncio.sleep(0.02)
    assert REGISTRY.get_sample_value("wattlane_grpc_server_handled_total", labels) == before + 1
    assert REGISTRY.get_sample_value("wattlane_grpc_server_in_flight", {"service": LABEL}) == 0


async def test_unavailable_is_retried(target: str, minter: TokenMinter, probe: Probe) -> None:
    probe.failures["flaky"] = Unavailable("restarting")
    async with channel(target, token=minter.user_token(), max_attempts=4) as ch:
        reply = await ProbeClient(ch).call("Flaky", {"failures": 2})
    assert reply == {"attempts": 3.0}
    assert probe.calls["Flaky"] == 3


async def test_retries_are_bounded(target: str, minter: TokenMinter, probe: Probe) -> None:
    probe.failures["flaky"] = Unavailable("down")
    async with channel(target, token=minter.user_token(), max_attempts=3) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ProbeClient(ch).call("Flaky", {"failures": 10})
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert probe.calls["Flaky"] == 3


async def test_no_retries_with_one_attempt(target: str, minter: TokenMinter, probe: Probe) -> None:
    probe.failures["flaky"] = Unavailable("down")
    async with channel(target, token=minter.user_token(), max_attempts=1) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ProbeClient(ch).call("Flaky", {"failures": 1})
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert probe.calls["Flaky"] == 1


async def test_other_errors_are_not_retried(target: str, minter: TokenMinter, probe: Probe) -> None:
    probe.failures["flaky"] = FailedPrecondition("no")
    async with channel(target, token=minter.user_token(), max_attempts=4) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ProbeClient(ch).call("Flaky", {"failures": 1})
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert probe.calls["Flaky"] == 1


async def test_unreachable_server_is_unavailable() -> None:
    async with channel("127.0.0.1:1", timeout=2, max_attempts=2) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ProbeClient(ch).call("Public")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
