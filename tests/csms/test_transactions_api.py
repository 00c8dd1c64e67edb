"""TransactionService against a real identity and a real CSMS database: isolation through the
shared harness (a sibling tenant sees nothing), cross-branch visibility (station owner, card
owner's organization, cardholder), filters, page tokens, views and the streamed CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Iterable

import grpc
import pytest

from tests.support.assets import service_token
from wattlane.api.csms.v1 import transactions_pb2
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.contracts import scopes
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.clock import utcnow
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.isolation import Actor, Grant, ListProbe, Probe, Target, check_isolation
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.providers.interfaces import (
    AccessDecision,
    AccessStatus,
    ChargingChange,
    MeterSample,
    StationOwner,
    TransactionChange,
    TransactionEnd,
    TransactionStart,
)
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.permissions import BUILTIN_ROLES
from wattlane.identity.testing import TreeBuilder

T = transactions_pb2


@pytest.fixture
async def csms(
    databases: DatabaseFactory, identity: IdentityService, tree: TreeBuilder
) -> AsyncIterator[CsmsService]:
    # The CSMS's own account resolves a `parent` tenant's path with identity's directory.
    client_id, secret, _ = await service_token(tree.admin, [scopes.IDENTITY_DIRECTORY], "csms")
    service = CsmsService(
        CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=await databases.create("csmstx"),
            identity_address=f"127.0.0.1:{identity.port}",
            client_id=client_id,
            client_secret=secret,
            process_id="tx",
        )
    )
    await service.start()
    yield service
    await service.stop()


def _id(tenant: tenants_pb2.Tenant) -> str:
    return tenant.name.removeprefix("tenants/")


async def _transaction(
    service: CsmsService,
    identity: str,
    owner: tenants_pb2.Tenant,
    card_owner: tenants_pb2.Tenant,
    *,
    cardholder: str = "",
    key: str = "k",
    location: str = "",
    end: bool = True,
) -> int:
    """A transaction at `identity` (owned by `owner`) paid with a card of `card_owner`."""
    assert service.memory is not None and service.storage is not None
    service.memory.stations.add(identity, "x" * 20, owner=StationOwner(_id(owner), owner.path, location))
    decision = AccessDecision(
        AccessStatus.ACCEPTED,
        payer="cardholder",
        card=f"cards/card-{identity}",
        card_owner=card_owner.name,
        card_owner_path=card_owner.path,
        cardholder=cardholder,
    )
    now = utcnow()
    start = TransactionStart(
        identity, OcppVersion.V201, key, 1, 1, "TOKEN", "ISO14443", now, 100, decision, key
    )
    transaction_id = await service.storage.transactions.record(
        TransactionChange(
            identity,
            start=start,
            samples=(MeterSample(now, energy_wh=100, power_w=7000, soc_percent=40.0),),
            end=TransactionEnd(now, 900, "Local") if end else None,
        )
    )
    assert transaction_id is not None
    return transaction_id


def _grant(role: str, tenant: tenants_pb2.Tenant) -> Grant:
    return Grant(tenant.path, True, frozenset(BUILTIN_ROLES[role][2]))


async def test_no_member_reads_transactions_outside_their_scope(csms: CsmsService, tree: TreeBuilder) -> None:
    root = await tree.root()
    p1 = await tree.tenant(root.name, "PARTNER")
    c1 = await tree.tenant(p1.name, "CUSTOMER")
    org_a = await tree.tenant(c1.name, "ORGANIZATION")
    org_b = await tree.tenant(c1.name, "ORGANIZATION")
    p2 = await tree.tenant(root.name, "PARTNER")
    c2 = await tree.tenant(p2.name, "CUSTOMER")
    org_d = await tree.tenant(c2.name, "ORGANIZATION")
    owners = {"TX-A": org_a, "TX-B": org_b, "TX-D": org_d}
    paths = {}
    for identity, owner in owners.items():
        transaction_id = await _transaction(csms, identity, owner, owner)  # own cards: one path
        paths[f"transactions/{transaction_id}"] = owner.path

    roles = [
        ("organization-admin", org_a),
        ("organization-member", org_b),
        ("cardholder", org_a),  # sees org A, without transactions.read
        ("partner-admin", p1),
        ("employee", org_d),
        ("customer-success", root),
    ]
    actors: list[Actor] = []
    clients: list[CsmsClient] = []
    for role, tenant in roles:
        member = await tree.member(tenant.name, [(role, tenant.name)])
        client = CsmsClient(f"127.0.0.1:{csms.grpc_port}", member.client.token)
        clients.append(client)
        actors.append(
            Actor(f"{role}@{tenant.display_name}", client, member.user.name, [_grant(role, tenant)])
        )
    targets = [Target(name, "transactions", path) for name, path in paths.items()]
    probes = [
        Probe(
            "GetTransaction",
            "transactions",
            "transactions.read",
            "read",
            lambda a, t: a.client.transactions.GetTransaction(
                T.GetTransactionRequest(name=t.name, view=T.FULL)
            ),
        )
    ]

    async def list_transactions(actor: Actor) -> Iterable[tuple[str, str]]:
        page = await actor.client.transactions.ListTransactions(T.ListTransactionsRequest(page_size=1000))
        return [(t.name, paths.get(t.name, "?")) for t in page.transactions]

    async def export(actor: Actor) -> Iterable[tuple[str, str]]:
        chunks = [
            c.csv async for c in actor.client.transactions.ExportTransactions(T.ExportTransactionsRequest())
        ]
        rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
        return [(r["transaction"], paths.get(r["transaction"], "?")) for r in rows]

    try:
        violations = await check_isolation(
            actors,
            targets,
            probes,
            [ListProbe("ListTransactions", list_transactions), ListProbe("ExportTransactions", export)],
        )
        assert not violations, "\n".join(map(str, violations))
        assert len(list(await list_transactions(actors[3]))) == 2  # partner P1: A and B
        assert [p for _, p in await list_transactions(actors[0])] == [org_a.path]
    finally:
        for client in clients:
            await client.close()


async def test_the_card_owner_and_the_cardholder_see_a_transaction_at_another_branchs_station(
    csms: CsmsService, tree: TreeBuilder
) -> None:
    root = await tree.root()
    p1 = await tree.tenant(root.name, "PARTNER")
    c1 = await tree.tenant(p1.name, "CUSTOMER")
    station_org = await tree.tenant(c1.name, "ORGANIZATION")
    sibling = await tree.tenant(c1.name, "ORGANIZATION")
    p2 = await tree.tenant(root.name, "PARTNER")
    c2 = await tree.tenant(p2.name, "CUSTOMER")
    card_org = await tree.tenant(c2.name, "ORGANIZATION")
    driver = await tree.member(card_org.name, [("cardholder", card_org.name)])
    transaction_id = await _transaction(csms, "CROSS-1", station_org, card_org, cardholder=driver.user.name)
    name = f"transactions/{transaction_id}"
    target = f"127.0.0.1:{csms.grpc_port}"
    seen = {}
    for label, tenant, role in (
        ("station owner", station_org, "organization-admin"),
        ("card owner", card_org, "organization-admin"),
        ("card owner's partner", p2, "partner-admin"),
        ("sibling", sibling, "organization-admin"),
    ):
        member = await tree.member(tenant.name, [(role, tenant.name)])
        client = CsmsClient(target, member.client.token)
        try:
            page = await client.transactions.ListTransactions(T.ListTransactionsRequest())
            seen[label] = [t.name for t in page.transactions]
        finally:
            await client.close()
    assert seen == {
        "station owner": [name],
        "card owner": [name],
        "card owner's partner": [name],
        "sibling": [],
    }
    client = CsmsClient(target, driver.client.token)
    try:
        got = await client.transactions.GetTransaction(T.GetTransactionRequest(name=name, view=T.FULL))
        assert (got.cardholder, got.card_owner, got.owner) == (
            driver.user.name,
            card_org.name,
            station_org.name,
        )
        assert (got.energy_wh, got.state, len(got.meter_values)) == (800, T.Transaction.COMPLETED, 1)
        assert got.meter_values[0].soc_percent == 40.0
    finally:
        await client.close()


async def test_filters_pages_views_and_bad_requests(csms: CsmsService, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    other = await tree.tenant(customer.name, "ORGANIZATION")
    ids = [await _transaction(csms, "FLT-1", org, org, key=f"k{i}", location="L1") for i in range(5)]
    ids.append(await _transaction(csms, "FLT-2", org, other, key="k9", end=False))
    admin = await tree.member(customer.name, [("organization-admin", customer.name)])
    client = CsmsClient(f"127.0.0.1:{csms.grpc_port}", admin.client.token)
    rpc = client.transactions
    try:
        names = []
        request = T.ListTransactionsRequest(page_size=2, filter='station = "stations/FLT-1"')
        while True:
            page = await rpc.ListTransactions(request)
            assert all(not t.meter_values for t in page.transactions)  # BASIC by default
            names += [t.name for t in page.transactions]
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
        assert names == [f"transactions/{i}" for i in reversed(ids[:5])]
        full = await rpc.ListTransactions(
            T.ListTransactionsRequest(filter='location = "locations/L1"', view=T.FULL)
        )
        assert len(full.transactions) == 5 and all(len(t.meter_values) == 1 for t in full.transactions)
        by_org = await rpc.ListTransactions(T.ListTransactionsRequest(parent=other.name))
        assert [t.name for t in by_org.transactions] == [f"transactions/{ids[5]}"]
        assert by_org.transactions[0].state == T.Transaction.ACTIVE
        period = await rpc.ListTransactions(
            T.ListTransactionsRequest(
                filter='start_time >= "2000-01-01T00:00:00Z" AND start_time < "2000-02-01T00:00:00Z"'
            )
        )
        assert list(period.transactions) == []
        for bad, field in (
            (T.ListTransactionsRequest(page_size=-1), "page_size"),
            (T.ListTransactionsRequest(filter="nope = 1"), "filter"),
            (T.ListTransactionsRequest(page_token="garbage"), "page_token"),
            (T.ListTransactionsRequest(parent="stations/x"), "parent"),
            (T.ListTransactionsRequest(view=7), "view"),  # type: ignore[arg-type]
        ):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await rpc.ListTransactions(bad)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await rpc.GetTransaction(T.GetTransactionRequest(name="transactions/abc"))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await rpc.GetTransaction(T.GetTransactionRequest(name="transactions/999999"))
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
        chunks = [
            c.csv
            async for c in rpc.ExportTransactions(T.ExportTransactionsRequest(filter='payer = "cardholder"'))
        ]
        rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
        assert len(rows) == 6 and rows[-1]["energy_wh"] == "800" and rows[0]["stop_time"] == ""
        with pytest.raises(grpc.aio.AioRpcError) as error:
            async for _ in rpc.ExportTransactions(T.ExportTransactionsRequest(filter="(")):
                pass
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await client.close()


async def test_the_full_view_has_the_charging_states_and_every_view_the_time_zone_and_billing_reads_any(
    csms: CsmsService, tree: TreeBuilder
) -> None:
    """Billing prices a transaction from GetTransaction FULL with a service token holding
    `csms.transactions` (whoever owns it): the charging ↔ parked changes and the location's zone."""
    assert csms.memory is not None and csms.storage is not None
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    csms.memory.stations.add("TZ-1", "x" * 20, owner=StationOwner(_id(org), org.path))
    decision = AccessDecision(
        AccessStatus.ACCEPTED, payer="free", rate_plan="tariffs/t1", time_zone="Europe/Amsterdam"
    )
    start_time = utcnow()
    start = TransactionStart(
        "TZ-1", OcppVersion.V201, "tz", 1, 1, "TOKEN", "ISO14443", start_time, 0, decision
    )
    transactions = csms.storage.transactions
    transaction_id = await transactions.record(
        TransactionChange("TZ-1", start=start, charging=ChargingChange(start_time, True, 1))
    )
    parked = start_time + dt.timedelta(minutes=30)
    await transactions.record(
        TransactionChange("TZ-1", start=start, charging=ChargingChange(parked, False, 1))
    )
    await transactions.record(
        TransactionChange("TZ-1", start=start, end=TransactionEnd(parked, 500, "Local"))
    )
    name = f"transactions/{transaction_id}"

    _, _, billing_token = await service_token(tree.admin, [scopes.CSMS_TRANSACTIONS], "billing")
    _, _, other_token = await service_token(tree.admin, [scopes.CSMS_HANDOFF], "worker")
    admin = await tree.member(org.name, [("organization-admin", org.name)])
    billing = CsmsClient(f"127.0.0.1:{csms.grpc_port}", billing_token)
    other = CsmsClient(f"127.0.0.1:{csms.grpc_port}", other_token)
    user = CsmsClient(f"127.0.0.1:{csms.grpc_port}", admin.client.token)
    try:
        full = await billing.transactions.GetTransaction(T.GetTransactionRequest(name=name, view=T.FULL))
        assert (full.rate_plan, full.time_zone) == ("tariffs/t1", "Europe/Amsterdam")
        assert [(s.time.ToDatetime(tzinfo=dt.UTC), s.charging) for s in full.charging_states] == [
            (start_time, True),
            (parked, False),
        ]
        basic = await user.transactions.GetTransaction(T.GetTransactionRequest(name=name))
        assert basic.time_zone == "Europe/Amsterdam" and not basic.charging_states
        listed = await user.transactions.ListTransactions(T.ListTransactionsRequest(view=T.FULL))
        assert [len(t.charging_states) for t in listed.transactions] == [2]
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await other.transactions.GetTransaction(T.GetTransactionRequest(name=name))
        assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await billing.transactions.GetTransaction(T.GetTransactionRequest(name="transactions/987654"))
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        for client in (billing, other, user):
            await client.close()


async def test_a_parent_is_a_subtree_in_scope(csms: CsmsService, tree: TreeBuilder) -> None:
    """Issue 15: `parent` = the caller's own customer lists its organizations' transactions (and
    the export exports them); another branch's tenant is NOT_FOUND, as everywhere else."""
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    sub = await tree.tenant(org.name, "ORGANIZATION")
    p2 = await tree.tenant(root.name, "PARTNER")
    foreign = await tree.tenant((await tree.tenant(p2.name, "CUSTOMER")).name, "ORGANIZATION")
    at_org = await _transaction(csms, "PAR-1", org, org)
    at_sub = await _transaction(csms, "PAR-2", sub, sub)
    await _transaction(csms, "PAR-3", foreign, foreign)
    admin = await tree.member(customer.name, [("organization-admin", customer.name)])
    client = CsmsClient(f"127.0.0.1:{csms.grpc_port}", admin.client.token)
    rpc = client.transactions
    try:
        for parent, expected in ((customer, [at_sub, at_org]), (org, [at_sub, at_org]), (sub, [at_sub])):
            page = await rpc.ListTransactions(T.ListTransactionsRequest(parent=parent.name))
            assert [t.name for t in page.transactions] == [f"transactions/{i}" for i in expected]
            export = rpc.ExportTransactions(T.ExportTransactionsRequest(parent=parent.name))
            chunks = [c.csv async for c in export]
            rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
            assert len(rows) == len(expected)
        for name in (foreign.name, p2.name, "tenants/NOSUCHTENANT"):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await rpc.ListTransactions(T.ListTransactionsRequest(parent=name))
            assert error.value.code() == grpc.StatusCode.NOT_FOUND, name
            with pytest.raises(grpc.aio.AioRpcError) as error:
                async for _ in rpc.ExportTransactions(T.ExportTransactionsRequest(parent=name)):
                    pass
            assert error.value.code() == grpc.StatusCode.NOT_FOUND, name
    finally:
        await client.close()
