"""The per-request auth path: a no-op RPC behind `ServiceServer` (ServiceInterceptor with a real
TokenVerifier and ScopeCache: the token is verified once and cached, the scope fetched once and
cached, and the handler awaits `current_caller().scope()`) against the same no-op RPC on a bare
`grpc.aio` server without interceptors, in the same run, with the same client.

Server and client each run in their own process (multiprocessing, spawn), so on two cores the
client's CPU does not eat into the server's. Each side is measured with many calls in flight
(throughput) and one at a time (latency); the server process's CPU time per request is read
from /proc, which is the overhead measure that does not depend on who saturates first.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import grpc

from bench.common import Stats, Target, load_concurrent, load_sequential, percentile, table, us
from bench.rounds import Load, Side, run_rounds
from wattlane.core.caller import current_caller
from wattlane.core.scope import EffectiveScope, Grant, ScopeCache
from wattlane.core.server import ServerOptions, ServiceServer
from wattlane.core.service import run as run_loop
from wattlane.core.tokens import Principal, TokenVerifier
from wattlane.identity.permissions import BUILTIN_ROLES

TARGET = 1.5
SERVICE = "wattlane.bench.v1.Noop"
METHOD = f"/{SERVICE}/Ping"
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
]
SCOPE_FETCH_SECONDS = 0.002  # what a scope fetch from identity costs; paid once per token and ttl


@dataclass(frozen=True)
class Options:
    seconds: float = 3.0  # per side and round, with `concurrency` calls in flight
    rounds: int = 5
    concurrency: int = 64
    sequential_calls: int = 2000  # per side and round, one call at a time
    tokens: int = 100  # distinct callers (each token verified and scoped once, then cached)
    warmup_seconds: float = 1.0


# -- server processes ----------------------------------------------------------------------------


async def _noop(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return b""


async def _scoped_noop(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    scope = await current_caller().scope()
    return b"" if scope.subject else b"?"


def _handler(behaviour: Any) -> grpc.GenericRpcHandler[bytes, bytes]:
    return grpc.method_handlers_generic_handler(
        SERVICE, {"Ping": grpc.unary_unary_rpc_method_handler(behaviour)}
    )


def _partner_admin_scope(principal: Principal, ttl: float) -> EffectiveScope:
    grant = Grant(principal.tenant_path)
    permissions = BUILTIN_ROLES["partner-admin"][2]
    expires = min(time.time() + ttl, principal.expires_at)
    return EffectiveScope.build(principal.subject, {p: [grant] for p in permissions}, expires_at=expires)


async def _serve(kind: str, jwks: list[dict[str, str]], conn: Connection) -> None:
    if kind == "bare":
        server = grpc.aio.server(options=SERVER_OPTIONS)
        server.add_generic_rpc_handlers((_handler(_noop),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        stop: Any = server.stop
    else:

        async def key_source() -> list[dict[str, str]]:
            return jwks

        async def fetch_scope(principal: Principal) -> EffectiveScope:
            await asyncio.sleep(SCOPE_FETCH_SECONDS)  # stands in for the call to identity
            return _partner_admin_scope(principal, 10.0)

        verifier = TokenVerifier(key_source)
        verifier.load_keys(jwks)
        service = ServiceServer(
            ServerOptions(service="bench"),
            services=[(SERVICE, lambda srv: srv.add_generic_rpc_handlers((_handler(_scoped_noop),)))],
            verifier=verifier,
            scopes=ScopeCache(fetch_scope, ttl=10.0),
        )
        port = await service.start()
        stop = service.stop
    conn.send(port)
    await asyncio.to_thread(conn.recv)  # until told to stop
    await stop(None) if kind == "bare" else await stop()
    conn.close()


def serve(kind: str, jwks: list[dict[str, str]], conn: Connection) -> None:
    """Process entry: serve `kind` ("bare" or "service") until told to stop (uvloop, as services run)."""
    run_loop(_serve(kind, jwks, conn))


# -- client process ------------------------------------------------------------------------------


async def _client(conn: Connection) -> None:
    channels: dict[str, grpc.aio.Channel] = {}
    while True:
        command: Mapping[str, Any] = await asyncio.to_thread(conn.recv)
        if command["op"] == "stop":
            break
        target = command["target"]
        if target not in channels:
            channels[target] = grpc.aio.insecure_channel(target)
            await channels[target].channel_ready()
        stub = channels[target].unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        metadata = [(("authorization", f"Bearer {t}"),) for t in command["tokens"]]

        def call(i: int, stub: Any = stub, metadata: list[Any] = metadata) -> Any:
            return stub(b"", metadata=metadata[i % len(metadata)])

        if command["op"] == "concurrent":
            result = await load_concurrent(call, command["seconds"], command["concurrency"])
        else:
            result = await load_sequential(call, command["calls"])
        conn.send(result)
    for channel in channels.values():
        await channel.close(None)
    conn.close()


def client(conn: Connection) -> None:
    """Process entry: run load commands received on `conn` (uvloop)."""
    run_loop(_client(conn))


# -- orchestration (parent process) ----------------------------------------------------------------


def _tokens(n: int) -> tuple[list[dict[str, str]], list[str]]:
    """A signing key's JWKS and `n` user tokens signed with it, as identity issues them."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from wattlane.identity.keys import KeyPair, Keys, _kid_of  # parent only: keeps children light

    private = Ed25519PrivateKey.generate()
    keys = Keys([KeyPair(_kid_of(private), private)])
    tokens = []
    for i in range(n):
        claims = {"sub": f"user{i:04d}", "typ": "user", "tn": "P1", "tp": f"/OP/P{i % 7}/", "ep": 0}
        tokens.append(keys.sign(claims, 3600)[0])
    return keys.jwks(), tokens


def run(opts: Options) -> list[Target]:
    jwks, tokens = _tokens(opts.tokens)
    sides = [
        Side("bare grpc.aio (no interceptors)", ("bare", jwks), {"tokens": tokens}),
        Side("ServiceServer + auth + scope", ("service", jwks), {"tokens": tokens}),
    ]
    load = Load(opts.seconds, opts.rounds, opts.concurrency, opts.sequential_calls, opts.warmup_seconds)
    run_rounds(sides, load, serve=serve, client=client)  # warm-up: every token verified and scoped once
    return _report(sides, opts)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _report(sides: list[Side], opts: Options) -> list[Target]:
    bare, service = sides
    rows: list[tuple[str, ...]] = []
    for side in sides:
        conc, seq = Stats.of(side.concurrent), Stats.of(side.sequential)
        rows.append(
            (
                side.label,
                f"{_median(side.rps):,.0f}",
                us(conc.median),
                us(conc.p99),
                us(_median(side.cpu_per_call)),
                f"{_median(side.server_busy):.0%}",
                f"{_median(side.client_busy):.0%}",
                us(seq.median),
                us(seq.p99),
            )
        )
    # Each round measures both sides back to back: the median of the per-round ratios holds
    # up better than a ratio of medians when the machine's background load drifts.
    throughput = _median([b / s for b, s in zip(bare.rps, service.rps, strict=True)])
    cpu = _median([s / b for b, s in zip(bare.cpu_per_call, service.cpu_per_call, strict=True)])
    conc_p50 = Stats.of(service.concurrent).median / Stats.of(bare.concurrent).median
    seq_p50 = Stats.of(service.sequential).median / Stats.of(bare.sequential).median
    seq_p99 = percentile(service.sequential, 99) / percentile(bare.sequential, 99)
    ratios = (f"{throughput:.2f}x", f"{conc_p50:.2f}x", "", f"{cpu:.2f}x", "", "", f"{seq_p50:.2f}x")
    rows.append(("ratio (service / bare)", *ratios, f"{seq_p99:.2f}x"))
    print(
        f"\nidentity.auth_path — no-op unary RPC, server and client in separate processes; "
        f"{opts.concurrency} in flight for {opts.rounds} rounds of {opts.seconds:g} s per side, "
        f"then {opts.rounds} rounds of {opts.sequential_calls} sequential calls; "
        f"{opts.tokens} callers' tokens"
    )
    headers = ("server", "calls/s", "p50 µs", "p99 µs", "server CPU µs/call", "server busy", "client busy")
    print(table((*headers, "seq p50 µs", "seq p99 µs"), rows))
    print(
        "(ratios: medians of the per-round ratios; throughput = bare calls/s over service calls/s. "
        "busy: CPU seconds per second of the server / client process under load; a server near "
        "100% or more is the bottleneck)"
    )
    return [
        Target("identity.auth_path throughput", throughput, TARGET, f"{opts.concurrency} in flight"),
        Target("identity.auth_path sequential latency p50", seq_p50, TARGET),
    ]
