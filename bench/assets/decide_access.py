"""DecideAccess against a no-op RPC, in the same run, with the same client.

The assets side is the real path the CSMS calls: `ServiceServer` (interceptor, service-token
verification, scope check) → `AssetsInternalServicer.DecideAccess` → its indexed lookups (the
charging point with its location, the organization settings chain, the card by UID, the
whitelist) on a database seeded with `--points` charging points and `--cards` cards. The
baseline is a no-op unary RPC on a bare `grpc.aio` server. Both servers and the client run in
their own processes (spawn), so the client's CPU does not eat into a server's; requests are
serialized once up front, so both sides cost the client the same.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc

from bench.common import (
    Stats,
    Target,
    load_concurrent,
    load_note,
    load_sequential,
    percentile,
    run_async,
    table,
    us,
)
from bench.rounds import Load, Side, run_rounds
from bench.scratch import DEFAULT_SERVER_URL, ScratchDatabase

TARGET = 3.0
NOOP_SERVICE = "wattlane.bench.v1.Noop"
NOOP = f"/{NOOP_SERVICE}/Ping"
DECIDE = "/wattlane.api.assets.v1.AssetsInternalService/DecideAccess"


@dataclass(frozen=True)
class Options:
    points: int = 50_000
    cards: int = 500_000
    seconds: float = 3.0  # per side and round, with `concurrency` calls in flight
    rounds: int = 3
    concurrency: int = 32
    sequential_calls: int = 1000  # per side and round, one call at a time
    unknown_share: float = 0.2  # of requests with a UID no card has
    sqlite_dir: Path | None = None
    server_url: str = DEFAULT_SERVER_URL


# -- server processes ----------------------------------------------------------------------------


class _NoIdentity:
    """DecideAccess needs neither the directory nor quotas: any use is a bug in the benchmark."""

    async def owner(self, name: str) -> Any:
        raise RuntimeError("not used by DecideAccess")

    async def allocate_datapoint(self, organization_id: str, resource: str) -> None:
        raise RuntimeError("not used by DecideAccess")

    async def release_datapoint(self, resource: str) -> None:
        raise RuntimeError("not used by DecideAccess")

    async def allocate_license(self, organization_id: str, license_type: str, resource: str) -> None:
        raise RuntimeError("not used by DecideAccess")

    async def release_license(self, license_type: str, resource: str) -> None:
        raise RuntimeError("not used by DecideAccess")


async def _serve(kind: str, url: str, jwks: list[dict[str, str]], conn: Connection) -> None:
    if kind == "noop":

        async def noop(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            return b""

        bare = grpc.aio.server()
        bare.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    NOOP_SERVICE, {"Ping": grpc.unary_unary_rpc_method_handler(noop)}
                ),
            )
        )
        port = bare.add_insecure_port("127.0.0.1:0")
        await bare.start()
        conn.send(port)
        await asyncio.to_thread(conn.recv)
        await bare.stop(None)
        return
    from wattlane.api.assets.v1 import internal_pb2, internal_pb2_grpc
    from wattlane.assets.access import AccessDecider
    from wattlane.assets.api.internal import AssetsInternalServicer
    from wattlane.assets.models import AUDIT, IDEMPOTENCY
    from wattlane.assets.runtime import Runtime
    from wattlane.assets.settings import load
    from wattlane.core.audit import AuditLog
    from wattlane.core.db import Database
    from wattlane.core.idempotency import Idempotency
    from wattlane.core.server import ServerOptions, ServiceServer
    from wattlane.core.tokens import TokenVerifier

    db = Database(url)
    rt = Runtime(
        settings=load(database_url=url),
        db=db,
        audit=AuditLog(AUDIT),
        idempotency=Idempotency(db, IDEMPOTENCY),
        directory=_NoIdentity(),
        quota=_NoIdentity(),
        decider=AccessDecider(db),
    )

    async def keys() -> list[dict[str, str]]:
        return jwks

    verifier = TokenVerifier(keys)
    verifier.load_keys(jwks)
    name = internal_pb2.DESCRIPTOR.services_by_name["AssetsInternalService"].full_name
    server = ServiceServer(
        ServerOptions(service="assets"),
        services=[
            (
                name,
                lambda srv: internal_pb2_grpc.add_AssetsInternalServiceServicer_to_server(
                    AssetsInternalServicer(rt), srv
                ),
            )
        ],
        verifier=verifier,
        scopes=None,
    )
    conn.send(await server.start())
    await asyncio.to_thread(conn.recv)
    await server.stop()
    await db.dispose()


def serve(kind: str, url: str, jwks: list[dict[str, str]], conn: Connection) -> None:
    """Process entry: serve `kind` ("noop" or "assets") until told to stop (uvloop)."""
    from wattlane.core.service import run as run_loop

    run_loop(_serve(kind, url, jwks, conn))


# -- client process ------------------------------------------------------------------------------


async def _client(conn: Connection, token: str, requests: list[bytes]) -> None:
    metadata = (("authorization", f"Bearer {token}"),)
    channels: dict[str, grpc.aio.Channel] = {}
    while True:
        command: Mapping[str, Any] = await asyncio.to_thread(conn.recv)
        if command["op"] == "stop":
            break
        target = command["target"]
        if target not in channels:
            channels[target] = grpc.aio.insecure_channel(target)
            await channels[target].channel_ready()
        stub = channels[target].unary_unary(
            command["method"], request_serializer=None, response_deserializer=None
        )

        def call(i: int, stub: Any = stub) -> Any:
            return stub(requests[i % len(requests)], metadata=metadata)

        if command["op"] == "concurrent":
            result = await load_concurrent(call, command["seconds"], command["concurrency"])
        else:
            result = await load_sequential(call, command["calls"])
        conn.send(result)
    for channel in channels.values():
        await channel.close(None)
    conn.close()


def client(conn: Connection, token: str, requests: list[bytes]) -> None:
    """Process entry: run load commands received on `conn` (uvloop)."""
    from wattlane.core.service import run as run_loop

    run_loop(_client(conn, token, requests))


# -- orchestration (parent process) ----------------------------------------------------------------


def _service_token() -> tuple[list[dict[str, str]], str]:
    """A signing key's JWKS and a CSMS service token (`assets.access`) signed with it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from wattlane.identity.keys import KeyPair, Keys, _kid_of

    private = Ed25519PrivateKey.generate()
    keys = Keys([KeyPair(_kid_of(private), private)])
    claims = {"sub": "bench-csms", "typ": "service", "svc": "csms", "scp": ["assets.access"]}
    return keys.jwks(), keys.sign(claims, 3600)[0]


async def _prepare(opts: Options, db: ScratchDatabase) -> tuple[str, list[bytes], float]:
    from bench.assets.seed import seed
    from wattlane.api.assets.v1 import internal_pb2
    from wattlane.assets.schema import MIGRATIONS
    from wattlane.core.db import Database
    from wattlane.core.migrations import upgrade_async

    url = await db.create()
    await upgrade_async(url, MIGRATIONS)
    database = Database(url)
    try:
        seeded = await seed(
            database,
            "" if db.sqlite_dir else db.dsn,
            points=opts.points,
            cards=opts.cards,
            rng=random.Random(7),
        )
    finally:
        await database.dispose()
    rng = random.Random(11)
    requests = []
    for _ in range(10_000):
        uid = f"{rng.getrandbits(56):014X}" if rng.random() < opts.unknown_share else rng.choice(seeded.uids)
        request = internal_pb2.DecideAccessRequest(identity=rng.choice(seeded.identities), id_token=uid)
        requests.append(request.SerializeToString())
    return url, requests, seeded.seconds


def run(opts: Options) -> list[Target]:
    db = ScratchDatabase("assets", sqlite_dir=opts.sqlite_dir, server_url=opts.server_url)
    try:
        url, requests, seed_seconds = run_async(_prepare(opts, db))
        engine = "SQLite" if opts.sqlite_dir else "PostgreSQL"
        print(f"seeded {opts.points:,} points and {opts.cards:,} cards in {seed_seconds:.1f} s ({engine})")
        return _measure(opts, url, requests)
    finally:
        run_async(db.drop())


def _measure(opts: Options, url: str, requests: list[bytes]) -> list[Target]:
    jwks, token = _service_token()
    sides = [
        Side("no-op RPC (bare grpc.aio)", ("noop", url, jwks), {"method": NOOP}),
        Side("DecideAccess (assets)", ("assets", url, jwks), {"method": DECIDE}),
    ]
    load = Load(
        opts.seconds, opts.rounds, opts.concurrency, opts.sequential_calls, min(1.0, opts.seconds), 120
    )
    run_rounds(sides, load, serve=serve, client=client, client_args=(token, requests))
    return _report(sides, opts)


def _report(sides: Sequence[Side], opts: Options) -> list[Target]:
    noop, decide = sides
    rows: list[tuple[str, ...]] = []
    for side in sides:
        conc, seq = Stats.of(side.concurrent), Stats.of(side.sequential)
        rows.append(
            (
                side.label,
                f"{statistics.median(side.rps):,.0f}",
                us(conc.median),
                us(conc.p99),
                us(statistics.median(side.cpu_per_call)),
                us(seq.median),
                us(seq.p99),
            )
        )
    # Per-round ratios (both sides measured back to back), then their median: steadier than a
    # ratio of medians when the machine's background load drifts.
    throughput = statistics.median([n / d for n, d in zip(noop.rps, decide.rps, strict=True)])
    conc_p99 = percentile(decide.concurrent, 99) / percentile(noop.concurrent, 99)
    seq_p50 = Stats.of(decide.sequential).median / Stats.of(noop.sequential).median
    seq_p99 = percentile(decide.sequential, 99) / percentile(noop.sequential, 99)
    cpu = statistics.median([d / n for n, d in zip(noop.cpu_per_call, decide.cpu_per_call, strict=True)])
    rows.append(
        (
            "ratio (DecideAccess / no-op)",
            f"{throughput:.2f}x",
            "",
            f"{conc_p99:.2f}x",
            f"{cpu:.2f}x",
            f"{seq_p50:.2f}x",
            f"{seq_p99:.2f}x",
        )
    )
    print(
        f"\nassets.decide_access — {opts.points:,} charging points, {opts.cards:,} cards, "
        f"{opts.unknown_share:.0%} unknown UIDs; {opts.concurrency} in flight for {opts.rounds} rounds of "
        f"{opts.seconds:g} s per side, then {opts.rounds} rounds of {opts.sequential_calls} sequential calls"
    )
    headers = ("server", "calls/s", "p50 µs", "p99 µs", "server CPU µs/call", "seq p50 µs", "seq p99 µs")
    print(table(headers, rows))
    print(
        "(throughput ratio = no-op calls/s over DecideAccess calls/s; latency ratios DecideAccess over no-op)"
    )
    return [
        Target("assets.decide_access throughput", throughput, TARGET, f"{opts.concurrency} in flight"),
        Target("assets.decide_access p99 under load", conc_p99, TARGET, f"{opts.concurrency} in flight"),
        Target("assets.decide_access sequential latency p99", seq_p99, TARGET),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from bench.assets import __doc__ as doc

    parser = argparse.ArgumentParser(prog="python -m bench.assets", description=(doc or "").splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="use a SQLite file instead of PostgreSQL")
    parser.add_argument("--sqlite-dir", type=Path, help="where the SQLite file goes (default: a temp dir)")
    parser.add_argument(
        "--server-url", default=DEFAULT_SERVER_URL, help="PostgreSQL server for the scratch database"
    )
    parser.add_argument("--points", type=int, default=50_000, help="charging points (default 50,000)")
    parser.add_argument("--cards", type=int, default=500_000, help="cards (default 500,000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per side and round under load")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (sides alternate which goes first)")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight under load")
    parser.add_argument(
        "--sequential-calls", type=int, default=1000, help="one-at-a-time calls per side and round"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[Target]:
    """Run the benchmark; returns its targets (also printed)."""
    args = parse_args(argv)
    print(load_note())
    with tempfile.TemporaryDirectory(prefix="wl-bench-") as tmp:
        opts = Options(
            points=args.points,
            cards=args.cards,
            seconds=args.seconds,
            rounds=args.rounds,
            concurrency=args.concurrency,
            sequential_calls=args.sequential_calls,
            sqlite_dir=(args.sqlite_dir or Path(tmp)) if args.sqlite else None,
            server_url=args.server_url,
        )
        targets = run(opts)
    print()
    for target in targets:
        print(target.line())
    return targets
