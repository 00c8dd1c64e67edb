"""audit: entries written in the change's transaction, with who/what/when from the call context."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from sqlalchemy import Column, String, Table, func, insert, select

from wattlane.core.audit import AuditLog, audit_table
from wattlane.core.caller import Caller, caller_var
from wattlane.core.clock import utcnow
from wattlane.core.context import method_var, request_id_var
from wattlane.core.db import Database
from wattlane.core.orm import new_metadata
from wattlane.core.scope import EffectiveScope, Grant
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.tokens import Principal

metadata = new_metadata()
AUDIT = audit_table(metadata)
stations = Table("stations", metadata, Column("id", String(64), primary_key=True), Column("name", String(64)))
USER = Principal("user", "u1", "t1", 2e9, tenant_id="o9", tenant_path="/op/o9/")
SERVICE = Principal("service", "sa1", "t2", 2e9, service="billing")


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(await databases.create("audit"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(AUDIT)


@pytest.fixture
def call_context() -> Iterator[None]:
    """What the interceptor sets for an RPC."""
    tokens = (
        request_id_var.set("rid-1"),
        method_var.set("/wattlane.api.assets.v1.StationService/UpdateStation"),
        caller_var.set(Caller(USER)),
    )
    yield
    caller_var.reset(tokens[2])
    method_var.reset(tokens[1])
    request_id_var.reset(tokens[0])


async def entries_for(db: Database, audit: AuditLog, resource: str) -> list[dict[str, object]]:
    async with db.reader() as session:
        rows = (await session.execute(select(AUDIT).where(AUDIT.c.resource == resource))).mappings().all()
    return [dict(r) for r in rows]


async def test_entry_from_the_call_context(db: Database, audit: AuditLog, call_context: None) -> None:
    before = utcnow()
    span = NonRecordingSpan(SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1)))
    with trace.use_span(span):
        async with db.transaction() as session:
            await session.execute(insert(stations).values(id="s1", name="North"))
            await audit.record(
                session,
                resource="stations/s1",
                tenant_path="/op/o9/",
                changes={"name": "North", "max_kw": 22},
            )
    (entry,) = await entries_for(db, audit, "stations/s1")
    assert entry["actor"] == "user:u1"
    assert entry["on_behalf_of"] == ""
    assert entry["method"] == "/wattlane.api.assets.v1.StationService/UpdateStation"
    assert entry["tenant_path"] == "/op/o9/"
    assert entry["request_id"] == "rid-1"
    assert entry["trace_id"] == f"{0xABC:032x}"
    assert entry["changes"] == {"fields": ["max_kw", "name"], "values": {"name": "North", "max_kw": 22}}
    assert isinstance(entry["time"], dt.datetime)
    assert before <= entry["time"] <= utcnow()
    assert len(str(entry["id"])) == 26


async def test_rolled_back_change_leaves_no_entry(db: Database, audit: AuditLog, call_context: None) -> None:
    async def change_that_fails() -> None:
        async with db.transaction() as session:
            await session.execute(insert(stations).values(id="s2", name="South"))
            await audit.record(session, resource="stations/s2", tenant_path="/op/o9/", changes=["name"])
            raise RuntimeError("the write failed after the audit record")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await entries_for(db, audit, "stations/s2") == []
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).where(stations.c.id == "s2")) == 0


async def test_field_lists_and_no_changes(db: Database, audit: AuditLog, call_context: None) -> None:
    async with db.transaction() as session:
        await audit.record(session, resource="stations/s3", tenant_path="/op/o9/", changes=["b", "a"])
        await audit.record(session, resource="stations/s3", tenant_path="/op/o9/")
    entries = await entries_for(db, audit, "stations/s3")
    assert sorted(str(e["changes"]) for e in entries) == sorted(
        [str({"fields": ["a", "b"]}), str({"fields": []})]
    )


async def test_service_and_anonymous_actors_and_overrides(db: Database, audit: AuditLog) -> None:
    token = caller_var.set(Caller(SERVICE))
    try:
        async with db.transaction() as session:
            await audit.record(session, resource="stations/s4", tenant_path="/op/")
    finally:
        caller_var.reset(token)
    async with db.transaction() as session:  # outside any RPC: a workflow activity, a migration
        await audit.record(session, resource="stations/s5", tenant_path="/op/")
        await audit.record(
            session,
            resource="stations/s6",
            tenant_path="/op/",
            actor="service:workflows",
            action="MoveTenant",
        )
    (service,) = await entries_for(db, audit, "stations/s4")
    (anonymous,) = await entries_for(db, audit, "stations/s5")
    (explicit,) = await entries_for(db, audit, "stations/s6")
    assert service["actor"] == "service:billing"
    assert (anonymous["actor"], anonymous["method"], anonymous["request_id"], anonymous["trace_id"]) == (
        "anonymous",
        "",
        "",
        "",
    )
    assert (explicit["actor"], explicit["method"]) == ("service:workflows", "MoveTenant")


async def test_list_by_scope_oldest_first(db: Database, audit: AuditLog) -> None:
    async with db.transaction() as session:
        for i, path in enumerate(["/op/p1/", "/op/p1/c1/", "/op/p2/", "/op/p1/c2/", "/op/p10/"]):
            await audit.record(session, resource=f"things/list{i}", tenant_path=path)
    scope = EffectiveScope.build("u1", {"audit.read": [Grant("/op/p1/")]})
    where = scope.filter("audit.read", AUDIT.c.tenant_path)
    mine = AUDIT.c.resource.like("things/list%")
    async with db.reader() as session:
        entries = await audit.list(session, scope_filter=where, extra=[mine])
        assert [e.resource for e in entries] == ["things/list0", "things/list1", "things/list3"]
        assert [e.id for e in entries] == sorted(e.id for e in entries)
        page = await audit.list(session, scope_filter=where, extra=[mine], limit=1, after_id=entries[0].id)
        assert [e.resource for e in page] == ["things/list1"]
        nothing = EffectiveScope.build("u1", {"audit.read": []}).filter("audit.read", AUDIT.c.tenant_path)
        assert await audit.list(session, scope_filter=nothing, extra=[mine]) == []
