"""Scoped ListUsers over a big tree: the RPC through real gRPC (identity in its own process, the
caller's token, interceptor, scope, ORM, proto) against the very SELECT the service runs, sent
straight to the database driver in the same run.

The raw SQL is not written by hand: it is captured from identity's own `users.list_in_scope`
(same scope, filter and page token), so both sides run the same statement with the same
parameters, and the rows they return are compared before anything is timed.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import grpc
import jwt
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import event

from bench.common import Stats, Target, cpu_seconds, ms, table
from bench.identity.seed import Node, SeededTree, seed
from bench.identity.service import IdentityProcess
from bench.scratch import ScratchDatabase
from wattlane.api.identity.v1 import users_pb2, users_pb2_grpc
from wattlane.core.db import POSTGRES_SERVER_SETTINGS, Database
from wattlane.core.filtering import compile_filter
from wattlane.core.paging import parse_page
from wattlane.core.tokens import principal_from_claims
from wattlane.identity import scopes, users
from wattlane.identity.api.users import FILTER_FIELDS
from wattlane.identity.tenant_paths import TenantPaths
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, Client, TreeBuilder

TARGET = 2.0


@dataclass(frozen=True)
class Options:
    nodes: int = 100_000
    users: int = 200_000
    calls: int = 400  # timed calls per side and variant (split over `rounds`)
    rounds: int = 4
    warmup: int = 30
    sqlite_dir: Path | None = None  # None: PostgreSQL
    server_url: str = ""
    explain: bool = False
    seed: int = 7


@dataclass(frozen=True)
class Variant:
    name: str
    caller: str  # key of the benchmark user making the call
    parent: str  # "partner", "org" or "" (everything in scope)
    page_size: int
    page: int = 1  # 1 = first page; N = the N-th page, reached through page tokens
    filter: str = ""
    recursive: bool = True


VARIANTS = (
    Variant("partner subtree, 50/page, page 1", "partner-admin", "partner", 50),
    Variant("partner subtree, 100/page, page 1", "partner-admin", "partner", 100),
    Variant("partner subtree, 50/page, page 40", "partner-admin", "partner", 50, page=40),
    Variant(
        "partner subtree, 50/page, state = INVITED", "partner-admin", "partner", 50, filter="state = INVITED"
    ),
    Variant("organization subtree, 50/page, page 1", "org-admin", "org", 50),
    Variant("all in scope (operator), 100/page, page 1", "customer-success", "", 100),
    Variant("all in scope (operator), 100/page, page 100", "customer-success", "", 100, page=100),
)


@dataclass
class Result:
    variant: Variant
    rows: int
    page: int
    grpc: Stats
    raw: Stats
    server_cpu: float  # identity's CPU seconds per gRPC call
    plan: str

    @property
    def ratio(self) -> float:
        return self.grpc.median / self.raw.median


class RawQuery:
    """The captured SELECT, run on a direct driver connection (asyncpg or aiosqlite)."""

    def __init__(self, sql: str, params: Sequence[Any]) -> None:
        self.sql = sql
        self.params = tuple(params)


class Driver:
    def __init__(self, scratch: ScratchDatabase) -> None:
        self.scratch = scratch
        self.pg: asyncpg.Connection | None = None
        self.lite: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if self.scratch.is_postgres:
            # The same session settings as the service's pool (plan_cache_mode), so both sides
            # run the statement under the same planning rules.
            self.pg = await asyncpg.connect(self.scratch.dsn, server_settings=dict(POSTGRES_SERVER_SETTINGS))
        else:
            self.lite = await aiosqlite.connect(self.scratch.sqlite_path)

    async def fetch(self, query: RawQuery) -> list[Any]:
        if self.pg is not None:
            return list(await self.pg.fetch(query.sql, *query.params))
        assert self.lite is not None
        async with self.lite.execute(query.sql, query.params) as cursor:
            return list(await cursor.fetchall())

    async def explain(self, query: RawQuery) -> list[str]:
        """The plan PostgreSQL settles on for the prepared statement (after the five custom plans
        it tries before it may switch to a generic one), with EXPLAIN ANALYZE."""
        if self.pg is None:
            assert self.lite is not None
            async with self.lite.execute("EXPLAIN QUERY PLAN " + query.sql, query.params) as cursor:
                return [str(r[-1]) for r in await cursor.fetchall()]
        args = ", ".join(_literal(p) for p in query.params)
        await self.pg.execute(f"PREPARE bench_plan AS {query.sql}")
        try:
            for _ in range(6):
                await self.pg.execute(f"EXECUTE bench_plan({args})")
            rows = await self.pg.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_plan({args})")
        finally:
            await self.pg.execute("DEALLOCATE bench_plan")
        return [str(r[0]) for r in rows]

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()
        if self.lite is not None:
            await self.lite.close()


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _plan_summary(plan: Sequence[str]) -> str:
    """Index names the plan uses, in order ("seq scan" for a table scan), and "generic" when
    PostgreSQL runs a generic plan (costed without the parameter values)."""
    found: list[str] = []
    for line in plan:
        for marker in (" using ", "Bitmap Index Scan on ", " USING INDEX ", " USING COVERING INDEX "):
            if marker in line:
                name = line.split(marker, 1)[1].split()[0]
                if name not in found:
                    found.append(name)
        if "Seq Scan" in line or (line.lstrip().startswith("SCAN users") and "INDEX" not in line):
            found.append("seq scan")
    generic = any("$1" in line for line in plan)
    return ",".join(found or ["?"]) + (" (generic)" if generic else "")


async def capture_sql(
    db: Database, token: str, request: users_pb2.ListUsersRequest
) -> tuple[RawQuery, list[str]]:
    """Run identity's own list_in_scope for this caller and request, capturing the users SELECT."""
    principal = principal_from_claims(jwt.decode(token, options={"verify_signature": False}), token)
    scope = await scopes.compute_scope(db, principal, 60.0)
    page = parse_page(
        request.page_size,
        request.page_token,
        caller=principal.caller_key,
        method="ListUsers",
        query=(request.parent, request.filter, str(request.recursive)),
    )
    captured: list[RawQuery] = []

    def listen(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().startswith("SELECT users.id"):
            captured.append(RawQuery(statement, params))

    event.listen(db.engine.sync_engine, "before_cursor_execute", listen)
    try:
        async with db.reader() as session:
            rows = await users.list_in_scope(
                session,
                scope,
                parent_id=request.parent.removeprefix("tenants/") or None,
                recursive=request.recursive,
                where=compile_filter(request.filter, FILTER_FIELDS),
                page=page,
                paths=TenantPaths(),
            )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", listen)
    if len(captured) != 1:
        raise RuntimeError(f"expected one users SELECT, captured {len(captured)}")
    return captured[0], [r.id for r in rows[: page.size]]


async def _timed(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def measure(
    variant: Variant,
    stub: users_pb2_grpc.UserServiceAsyncStub,
    token: str,
    parent: str,
    db: Database,
    driver: Driver,
    opts: Options,
    server_pid: int,
) -> Result:
    metadata = (("authorization", f"Bearer {token}"),)
    request = users_pb2.ListUsersRequest(
        parent=parent, page_size=variant.page_size, filter=variant.filter, recursive=variant.recursive
    )
    page = 1
    while page < variant.page:  # walk to the requested page (or the last one there is)
        reply = await stub.ListUsers(request, metadata=metadata)
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
        page += 1
    query, expected = await capture_sql(db, token, request)
    reply = await stub.ListUsers(request, metadata=metadata)
    got = [u.name.removeprefix("users/") for u in reply.users]
    raw_ids = [r[0] for r in await driver.fetch(query)][: variant.page_size]
    if not (got == expected == raw_ids):
        raise AssertionError(f"{variant.name}: gRPC, identity and raw SQL disagree on the rows")
    plan = await driver.explain(query)
    if opts.explain:
        print(f"\n-- {variant.name}\n{query.sql}\n-- params {query.params}\n" + "\n".join(plan))

    async def via_grpc() -> object:
        return await stub.ListUsers(request, metadata=metadata)

    async def via_sql() -> object:
        return await driver.fetch(query)

    await _timed(via_grpc, opts.warmup)
    await _timed(via_sql, opts.warmup)
    grpc_samples: list[float] = []
    raw_samples: list[float] = []
    server_cpu = 0.0
    per_round = max(1, opts.calls // opts.rounds)
    for i in range(opts.rounds):  # alternate which side goes first, so drift hits both alike
        gc.collect()
        if i % 2:
            raw_samples += await _timed(via_sql, per_round)
        cpu = cpu_seconds(server_pid)
        grpc_samples += await _timed(via_grpc, per_round)
        server_cpu += cpu_seconds(server_pid) - cpu
        if not i % 2:
            raw_samples += await _timed(via_sql, per_round)
    return Result(
        variant,
        len(got),
        page,
        Stats.of(grpc_samples),
        Stats.of(raw_samples),
        server_cpu / len(grpc_samples),
        _plan_summary(plan),
    )


async def _noop_rpc(channel: grpc.aio.Channel, opts: Options) -> Stats:
    """A round trip with no work behind it on the same server (health check): the floor any
    RPC pays on this machine, next to which the SQL-only baseline is measured."""
    health = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest()

    async def check() -> object:
        return await health.Check(request)

    await _timed(check, opts.warmup)
    return Stats.of(await _timed(check, opts.calls))


async def _members(target: str, tree: SeededTree) -> dict[str, tuple[str, Node]]:
    """The benchmark users, made through the API: (token, node their calls list under)."""
    admin = await Client(target).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    builder = TreeBuilder(admin)
    try:
        partner = await builder.member(
            f"tenants/{tree.big_partner.id}", [("partner-admin", f"tenants/{tree.big_partner.id}")]
        )
        org = await builder.member(
            f"tenants/{tree.big_org.id}", [("organization-admin", f"tenants/{tree.big_org.id}")]
        )
        cs = await builder.member(
            f"tenants/{tree.root.id}", [("customer-success", f"tenants/{tree.root.id}")]
        )
        return {
            "partner-admin": (partner.client.token, tree.big_partner),
            "org-admin": (org.client.token, tree.big_org),
            "customer-success": (cs.client.token, tree.root),
        }
    finally:
        await builder.close()
        await admin.close()


async def run(opts: Options) -> list[Target]:
    kw = {"server_url": opts.server_url} if opts.server_url else {}
    scratch = ScratchDatabase("identity", sqlite_dir=opts.sqlite_dir, **kw)
    url = await scratch.create()
    service = IdentityProcess(url)
    db: Database | None = None
    driver = Driver(scratch)
    try:
        started = time.perf_counter()
        await service.start()
        db = Database(url)
        booted = time.perf_counter() - started
        tree = await seed(
            db, opts.nodes, opts.users, dsn=scratch.dsn if scratch.is_postgres else "", seed_value=opts.seed
        )
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in {"identity start": booted, **tree.timings}.items())
        members = await _members(service.target, tree)
        await driver.open()
        backend = "PostgreSQL" if scratch.is_postgres else "SQLite"
        kinds: dict[str, int] = {}
        for node in tree.nodes:
            kinds[node.kind] = kinds.get(node.kind, 0) + 1
        print(
            f"\nidentity.list_users — {backend}, {len(tree.nodes):,} tenants "
            f"({', '.join(f'{v:,} {k.lower()}' for k, v in kinds.items())}), {len(tree.user_rows):,} users, "
            f"{len(tree.binding_rows):,} role bindings ({steps})"
        )
        print(
            f"big partner: {tree.big_partner.subtree_users:,} live users in its subtree; "
            f"organization: {tree.big_org.subtree_users:,}; "
            f"median and p99 of {opts.calls} sequential calls per side"
        )
        async with grpc.aio.insecure_channel(service.target) as channel:
            stub = users_pb2_grpc.UserServiceStub(channel)
            noop = await _noop_rpc(channel, opts)
            results = []
            for variant in VARIANTS:
                token, node = members[variant.caller]
                parent = f"tenants/{node.id}" if variant.parent else ""
                results.append(await measure(variant, stub, token, parent, db, driver, opts, service.pid()))
    finally:
        await driver.close()
        await service.stop()
        if db is not None:
            await db.dispose()
        await scratch.drop()
    rows = [
        (
            r.variant.name + (f" (reached page {r.page})" if r.page != r.variant.page else ""),
            r.rows,
            ms(r.grpc.median),
            ms(r.grpc.p99),
            ms(r.server_cpu),
            ms(r.raw.median),
            ms(r.raw.p99),
            f"{r.ratio:.2f}x",
            f"{r.grpc.median / (r.raw.median + noop.median):.2f}x",
            r.plan,
        )
        for r in results
    ]
    print()
    print(
        table(
            (
                "variant",
                "rows",
                "gRPC p50 ms",
                "gRPC p99 ms",
                "server CPU ms",
                "SQL p50 ms",
                "SQL p99 ms",
                "ratio p50",
                "vs SQL+RPC",
                "plan (index)",
            ),
            rows,
        )
    )
    print(
        "ratio p50 = gRPC median / SQL median (the target). vs SQL+RPC = gRPC median / (SQL median + "
        f"the median of a no-op RPC to identity, {ms(noop.median)} ms): the service's own share.\n"
        "server CPU = identity's CPU time per gRPC call (all its threads). SQL = the captured SELECT "
        "on a direct driver connection; plan = the indexes PostgreSQL's plan for it uses."
    )
    worst = max(results, key=lambda r: r.ratio)
    return [Target("identity.list_users", worst.ratio, TARGET, f"worst variant: {worst.variant.name}")]
