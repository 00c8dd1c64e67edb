"""audit_api: ListAuditEntries served over real gRPC, scoped by `audit.read`, with filters and
pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from sqlalchemy import select

from wattlane.api.common.v1 import audit_pb2, audit_pb2_grpc
from wattlane.core.audit import AuditLog, audit_table
from wattlane.core.audit_api import AuditServicer
from wattlane.core.caller import current_caller
from wattlane.core.client import channel
from wattlane.core.context import method_var
from wattlane.core.db import Database
from wattlane.core.errors import NotFound, error_info, field_violations
from wattlane.core.names import parse_name
from wattlane.core.orm import new_metadata
from wattlane.core.scope import EffectiveScope, Grant, ScopeCache
from wattlane.core.server import ServerOptions, ServiceServer
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.tokens import TokenMinter
from wattlane.core.tokens import Principal

metadata = new_metadata()
AUDIT = audit_table(metadata)
AUDIT_SERVICE = audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name
TREE = {"tenants/op": "/op/", "tenants/p1": "/op/p1/", "tenants/c1": "/op/p1/c1/", "tenants/p2": "/op/p2/"}
GRANTS = {
    "auditor": {"audit.read": [Grant("/op/p1/")], "tenants.read": [Grant("/op/p1/")]},
    "operator": {"audit.read": [Grant("/op/")]},
    "clerk": {"tenants.read": [Grant("/op/p1/")]},  # sees the tenants, not their audit log
}
# (actor, method, path) of the recorded entries, oldest first.
ENTRIES = [
    ("user:u1", "/x.TenantService/CreateTenant", "/op/p1/"),
    ("user:u2", "/x.TenantService/UpdateTenant", "/op/p1/c1/"),
    ("user:u1", "/x.UserService/UpdateUser", "/op/p2/"),
    ("service:billing", "/x.TenantService/UpdateTenant", "/op/p1/c1/"),
    ("user:u2", "/x.UserService/CreateUser", "/op/p1/"),
    ("user:u1", "/x.TenantService/DeleteTenant", "/op/"),
]


class TreePaths:
    """What a service's resolver does: `tenants/{id}` to a path the caller can see."""

    async def path_of(self, tenant_name: str) -> str:
        parse_name(tenant_name, "tenants", "parent")
        path = TREE.get(tenant_name)
        scope = await current_caller().scope()
        if path is None or not scope.visible(path):
            raise NotFound(tenant_name)
        return path


@dataclass
class Served:
    target: str
    minter: TokenMinter
    ids: list[str]

    def token(self, subject: str) -> str:
        return self.minter.user_token(subject)


@pytest.fixture(scope="module")
async def served(databases: DatabaseFactory, minter: TokenMinter) -> AsyncIterator[Served]:
    db = Database(await databases.create("audit_api"))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    log = AuditLog(AUDIT)
    for actor, method, path in ENTRIES:
        token = method_var.set(method)
        try:
            async with db.transaction() as session:
                await log.record(
                    session, resource="tenants/x", tenant_path=path, changes=["display_name"], actor=actor
                )
        finally:
            method_var.reset(token)
    async with db.reader() as session:
        ids = list((await session.scalars(select(AUDIT.c.id).order_by(AUDIT.c.id))).all())

    async def fetch(principal: Principal) -> EffectiveScope:
        return EffectiveScope.build(principal.subject, GRANTS.get(principal.subject, {}))

    server = ServiceServer(
        ServerOptions(service="probe-audit"),
        services=[
            (
                AUDIT_SERVICE,
                lambda srv: audit_pb2_grpc.add_AuditServiceServicer_to_server(
                    AuditServicer(db, log, TreePaths()), srv
                ),
            )
        ],
        verifier=minter.verifier(),
        scopes=ScopeCache(fetch),
    )
    await server.start()
    yield Served(f"127.0.0.1:{server.port}", minter, ids)
    await server.stop()
    await db.dispose()


async def list_entries(
    served: Served, subject: str | None, **fields: object
) -> audit_pb2.ListAuditEntriesResponse:
    token = served.token(subject) if subject else None
    async with channel(served.target, token=token, max_attempts=1) as ch:
        return await audit_pb2_grpc.AuditServiceStub(ch).ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(**fields)
        )


async def failure(served: Served, subject: str | None, **fields: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await list_entries(served, subject, **fields)
    return caught.value


def methods(response: audit_pb2.ListAuditEntriesResponse) -> list[str]:
    return [e.method.rsplit("/", 1)[1] for e in response.audit_entries]


async def test_lists_entries_in_scope_oldest_first(served: Served) -> None:
    response = await list_entries(served, "auditor")
    assert methods(response) == ["CreateTenant", "UpdateTenant", "UpdateTenant", "CreateUser"]
    assert response.next_page_token == ""
    first = response.audit_entries[0]
    assert first.name == f"auditEntries/{served.ids[0]}"
    assert (first.actor, first.resource, first.tenant_path) == ("user:u1", "tenants/x", "/op/p1/")
    assert list(first.changed_fields) == ["display_name"]
    assert abs(first.time.ToDatetime(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    everything = (await list_entries(served, "operator")).audit_entries
    assert [e.name for e in everything] == [f"auditEntries/{i}" for i in served.ids]
    assert len(everything) == len(ENTRIES)


async def test_without_audit_read_nothing_is_listed(served: Served) -> None:
    assert list((await list_entries(served, "clerk")).audit_entries) == []
    assert list((await list_entries(served, "stranger")).audit_entries) == []


async def test_parent_narrows_to_its_subtree(served: Served) -> None:
    response = await list_entries(served, "auditor", parent="tenants/c1")
    assert [e.tenant_path for e in response.audit_entries] == ["/op/p1/c1/", "/op/p1/c1/"]


async def test_parent_outside_the_scope_is_not_found(served: Served) -> None:
    for parent in ("tenants/p2", "tenants/missing"):
        error = await failure(served, "auditor", parent=parent)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == f"{parent} not found"


async def test_malformed_parent(served: Served) -> None:
    error = await failure(served, "auditor", parent="users/u1")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error)] == ["parent"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('actor = "user:u2"', ["UpdateTenant", "CreateUser"]),
        ("method:updatetenant", ["UpdateTenant", "UpdateTenant"]),
        ('actor = "user:*" AND NOT method:Create', ["UpdateTenant"]),
        ('time >= "2000-01-01T00:00:00Z"', ["CreateTenant", "UpdateTenant", "UpdateTenant", "CreateUser"]),
        ('time < "2000-01-01T00:00:00Z"', []),
        ('resource = "tenants/x" actor = "service:billing"', ["UpdateTenant"]),
    ],
)
async def test_filters(served: Served, text: str, expected: list[str]) -> None:
    assert methods(await list_entries(served, "auditor", filter=text)) == expected


async def test_bad_filter(served: Served) -> None:
    error = await failure(served, "auditor", filter="tenant_path = /op/")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    (violation,) = field_violations(error)
    assert violation.field == "filter"
    assert (
        violation.description
        == "unknown field 'tenant_path'; filterable fields: actor, method, resource, time"
    )


async def test_pages(served: Served) -> None:
    seen: list[str] = []
    token = ""
    for _ in range(len(ENTRIES)):
        response = await list_entries(served, "operator", page_size=4, page_token=token)
        assert len(response.audit_entries) <= 4
        seen.extend(e.name for e in response.audit_entries)
        token = response.next_page_token
        if not token:
            break
    assert seen == [f"auditEntries/{i}" for i in served.ids]


async def test_page_token_is_bound_to_caller_and_query(served: Served) -> None:
    token = (await list_entries(served, "operator", page_size=2)).next_page_token
    assert token
    for subject, fields in (
        ("auditor", {}),
        ("operator", {"filter": 'actor = "user:u1"'}),
        ("operator", {"parent": "tenants/op"}),
    ):
        error = await failure(served, subject, page_size=2, page_token=token, **fields)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(error)] == ["page_token"]


async def test_negative_page_size(served: Served) -> None:
    error = await failure(served, "auditor", page_size=-1)
    assert [v.field for v in field_violations(error)] == ["page_size"]


async def test_service_tokens_have_no_audit_scope(served: Served) -> None:
    async with channel(served.target, token=served.minter.service_token("billing"), max_attempts=1) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await audit_pb2_grpc.AuditServiceStub(ch).ListAuditEntries(audit_pb2.ListAuditEntriesRequest())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(caught.value)
    assert info is not None
    assert info.reason == "PERMISSION_DENIED"


async def test_anonymous_is_unauthenticated(served: Served) -> None:
    assert (await failure(served, None)).code() == grpc.StatusCode.UNAUTHENTICATED
