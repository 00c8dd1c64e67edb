"""idempotency: a write runs once per (caller, method, request_id); retries replay its result."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.identity.v1 import tenants_pb2
from wattlane.core.caller import Caller, caller_var
from wattlane.core.context import method_var
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument
from wattlane.core.idempotency import MAX_REQUEST_ID, Idempotency, idempotency_table, request_digest
from wattlane.core.ids import new_id
from wattlane.core.orm import new_metadata
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.tokens import Principal

metadata = new_metadata()
KEYS = idempotency_table(metadata)
tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("display_name", String(100), nullable=False),
)
METHOD = "/wattlane.api.identity.v1.TenantService/CreateTenant"
_unique = itertools.count()


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("idempotency"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
def idem(db: Database) -> Idempotency:
    return Idempotency(db, KEYS)


class CreateTenant:
    """The write of a CreateTenant call; counts how often it ran."""

    def __init__(self, delay: float = 0.0, fail: BaseException | None = None) -> None:
        self.runs = 0
        self.delay = delay
        self.fail = fail

    async def __call__(
        self, session: AsyncSession, request: tenants_pb2.CreateTenantRequest
    ) -> tenants_pb2.Tenant:
        self.runs += 1
        tenant_id = new_id()
        await session.execute(insert(tenants).values(id=tenant_id, display_name=request.tenant.display_name))
        await asyncio.sleep(self.delay)  # let concurrent duplicates overlap
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        return tenants_pb2.Tenant(name=f"tenants/{tenant_id}", display_name=request.tenant.display_name)


def request(name: str, request_id: str = "") -> tenants_pb2.CreateTenantRequest:
    return tenants_pb2.CreateTenantRequest(
        parent="tenants/root", tenant=tenants_pb2.Tenant(display_name=name), request_id=request_id
    )


def fresh(prefix: str = "t") -> str:
    """A display name (and request id) no other test uses: the database is shared."""
    return f"{prefix}-{next(_unique)}-{new_id()}"


async def run(
    idem: Idempotency,
    write: CreateTenant,
    req: tenants_pb2.CreateTenantRequest,
    caller: str = "user:u1",
    method: str = METHOD,
) -> tenants_pb2.Tenant:
    return await idem.run(
        caller=caller,
        method=method,
        request_id=req.request_id,
        request=req,
        response_type=tenants_pb2.Tenant,
        write=lambda session: write(session, req),
    )


async def count_tenants(db: Database, name: str) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).where(tenants.c.display_name == name)) or 0)


async def count_keys(db: Database, request_id: str) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).where(KEYS.c.request_id == request_id)) or 0)


async def test_retry_replays_the_stored_response(db: Database, idem: Idempotency) -> None:
    name = fresh()
    write = CreateTenant()
    first = await run(idem, write, request(name, name))
    again = await run(idem, write, request(name, name))
    assert again == first
    assert write.runs == 1
    assert await count_tenants(db, name) == 1
    assert await count_keys(db, name) == 1


async def test_same_request_id_with_another_request_is_invalid(db: Database, idem: Idempotency) -> None:
    name = fresh()
    write = CreateTenant()
    await run(idem, write, request(name, name))
    with pytest.raises(InvalidArgument) as caught:
        await run(idem, write, request(name + "-changed", name))
    assert [(v.field, v.description) for v in caught.value.violations] == [
        ("request_id", "was already used for a different request")
    ]
    assert write.runs == 1
    assert await count_tenants(db, name + "-changed") == 0


async def test_without_request_id_every_call_writes(db: Database, idem: Idempotency) -> None:
    name = fresh()
    write = CreateTenant()
    first = await run(idem, write, request(name))
    second = await run(idem, write, request(name))
    assert first.name != second.name
    assert write.runs == 2
    assert await count_tenants(db, name) == 2
    assert await count_keys(db, "") == 0


async def test_keys_are_per_caller_and_method(db: Database, idem: Idempotency) -> None:
    name = fresh()
    write = CreateTenant()
    a = await run(idem, write, request(name, name), caller="user:u1")
    b = await run(idem, write, request(name, name), caller="user:u2")
    c = await run(idem, write, request(name, name), caller="user:u1", method=METHOD + "Other")
    assert len({a.name, b.name, c.name}) == 3
    assert write.runs == 3


async def test_a_failed_write_leaves_nothing_and_can_be_retried(db: Database, idem: Idempotency) -> None:
    name = fresh()
    failing = CreateTenant(fail=ConnectionError("mail server down"))
    with pytest.raises(ConnectionError):
        await run(idem, failing, request(name, name))
    assert await count_tenants(db, name) == 0  # the write's own row is rolled back too
    assert await count_keys(db, name) == 0
    write = CreateTenant()
    result = await run(idem, write, request(name, name))
    assert write.runs == 1
    assert await run(idem, write, request(name, name)) == result
    assert write.runs == 1


async def test_a_domain_error_is_not_stored_either(db: Database, idem: Idempotency) -> None:
    name = fresh()
    refusing = CreateTenant(fail=InvalidArgument.field("tenant.display_name", "taken"))
    with pytest.raises(InvalidArgument):
        await run(idem, refusing, request(name, name))
    assert await count_keys(db, name) == 0


async def test_the_writes_own_constraint_failure_propagates(db: Database, idem: Idempotency) -> None:
    name = fresh()
    calls = 0

    async def duplicate(session: AsyncSession) -> tenants_pb2.Tenant:
        nonlocal calls
        calls += 1
        await session.execute(insert(tenants).values(id=name, display_name=name))
        await session.execute(insert(tenants).values(id=name, display_name=name))
        return tenants_pb2.Tenant()

    req = request(name, name)
    with pytest.raises(IntegrityError):
        await idem.run(
            caller="user:u1",
            method=METHOD,
            request_id=name,
            request=req,
            response_type=tenants_pb2.Tenant,
            write=duplicate,
        )
    assert calls == 1  # not mistaken for a lost race on the key and retried
    assert await count_keys(db, name) == 0


@pytest.mark.parametrize("copies", [2, 5])
async def test_concurrent_duplicates_write_once(db: Database, idem: Idempotency, copies: int) -> None:
    name = fresh()
    write = CreateTenant(delay=0.05)
    results = await asyncio.wait_for(
        asyncio.gather(*(run(idem, write, request(name, name)) for _ in range(copies))), 30
    )
    assert write.runs == 1
    assert all(r == results[0] for r in results)
    assert await count_tenants(db, name) == 1
    assert await count_keys(db, name) == 1


async def test_a_concurrent_duplicate_runs_when_the_first_fails(db: Database, idem: Idempotency) -> None:
    name = fresh()
    write = CreateTenant(delay=0.05, fail=ConnectionError("first attempt fails"))  # only the first
    results = await asyncio.gather(
        run(idem, write, request(name, name)), run(idem, write, request(name, name)), return_exceptions=True
    )
    assert write.runs == 2
    assert sorted(type(r).__name__ for r in results) == ["ConnectionError", "Tenant"]
    assert await count_tenants(db, name) == 1
    assert await count_keys(db, name) == 1


async def test_concurrent_different_requests_under_one_id(db: Database, idem: Idempotency) -> None:
    name = fresh()
    write = CreateTenant(delay=0.05)
    results = await asyncio.gather(
        run(idem, write, request(name, name)),
        run(idem, write, request(name + "-x", name)),
        return_exceptions=True,
    )
    assert write.runs == 1
    assert sum(isinstance(r, tenants_pb2.Tenant) for r in results) == 1
    assert sum(isinstance(r, InvalidArgument) for r in results) == 1


@pytest.mark.parametrize("request_id", ["x" * (MAX_REQUEST_ID + 1), "tab\there", "new\nline", "nul\x00"])
async def test_malformed_request_ids(idem: Idempotency, request_id: str) -> None:
    write = CreateTenant()
    with pytest.raises(InvalidArgument) as caught:
        await run(idem, write, request("x", request_id))
    assert caught.value.violations[0].field == "request_id"
    assert write.runs == 0


async def test_longest_request_id(db: Database, idem: Idempotency) -> None:
    request_id = fresh("r")[:20] + "x" * (MAX_REQUEST_ID - 20)
    write = CreateTenant()
    await run(idem, write, request("long", request_id))
    await run(idem, write, request("long", request_id))
    assert write.runs == 1


async def test_once_takes_caller_and_method_from_the_call(db: Database, idem: Idempotency) -> None:
    name = fresh()
    write = CreateTenant()
    req = request(name, name)
    method_token = method_var.set(METHOD)
    try:
        anonymous = await idem.once(req, tenants_pb2.Tenant, lambda s: write(s, req))
        caller_token = caller_var.set(Caller(Principal("user", "u9", "t9", 2e9)))
        try:
            mine = await idem.once(req, tenants_pb2.Tenant, lambda s: write(s, req))
            assert await idem.once(req, tenants_pb2.Tenant, lambda s: write(s, req)) == mine
        finally:
            caller_var.reset(caller_token)
    finally:
        method_var.reset(method_token)
    assert anonymous != mine
    assert write.runs == 2
    async with db.reader() as session:
        keys = (
            await session.execute(select(KEYS.c.caller, KEYS.c.method).where(KEYS.c.request_id == name))
        ).all()
    assert sorted(keys) == [("anonymous", METHOD), ("user:u9", METHOD)]


async def test_purge_forgets_old_keys(db: Database, idem: Idempotency) -> None:
    old, recent = fresh("old"), fresh("recent")
    write = CreateTenant()
    await run(idem, write, request(old, old))
    await run(idem, write, request(recent, recent))
    async with db.transaction() as session:
        await session.execute(
            update(KEYS)
            .where(KEYS.c.request_id == old)
            .values(create_time=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
        )
    async with db.transaction() as session:
        removed = await idem.purge(session, older_than_seconds=86_400)
    assert removed >= 1
    assert await count_keys(db, old) == 0
    assert await count_keys(db, recent) == 1
    await run(idem, write, request(old, old))  # forgotten: runs again
    assert write.runs == 3


def test_request_digest_is_deterministic() -> None:
    a = request("x", "r1")
    b = tenants_pb2.CreateTenantRequest()
    b.request_id = "r1"
    b.tenant.display_name = "x"
    b.parent = "tenants/root"
    assert request_digest(a) == request_digest(b)
    assert request_digest(a) != request_digest(request("y", "r1"))
    assert len(request_digest(a)) == 64
