"""Accounts, applications, datapoints and feature licenses through identity's APIs (the
approval workflow itself is tested in workflows/tests; here decisions use the internal RPC the
workflow's activity calls)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from google.rpc import error_details_pb2

from wattlane.api.identity.v1 import (
    accounts_pb2,
    auth_pb2,
    internal_pb2,
    internal_pb2_grpc,
    tenants_pb2,
    users_pb2,
)
from wattlane.core.client import channel
from wattlane.core.errors import decode_status, error_info, field_violations
from wattlane.identity.testing import Client, Member, TreeBuilder, unique

A = accounts_pb2.Application
ACC = accounts_pb2.Account


@dataclass
class Internal:
    stub: internal_pb2_grpc.IdentityInternalServiceStub


@pytest.fixture(scope="module")
async def internal(admin: Client) -> AsyncIterator[Internal]:
    """identity's internal API with a real service token (scopes of the worker and assets)."""
    created = await admin.service_accounts.CreateServiceAccount(
        auth_pb2.CreateServiceAccountRequest(
            service_account=auth_pb2.ServiceAccount(
                service=f"test-{unique('svc').lower()}",
                scopes=["identity.applications", "identity.datapoints", "identity.licenses"],
            )
        )
    )
    token = await admin.auth.IssueServiceToken(
        auth_pb2.IssueServiceTokenRequest(
            client_id=created.service_account.name, client_secret=created.client_secret
        )
    )
    ch = channel(admin.target, token=token.access_token, max_attempts=1)
    yield Internal(internal_pb2_grpc.IdentityInternalServiceStub(ch))
    await ch.close(None)


@dataclass
class World:
    customer: tenants_pb2.Tenant
    org: tenants_pb2.Tenant
    boss: Member  # organization-admin at the customer
    cs: Member


async def world(tree: TreeBuilder, country: str = "NL", time_zone: str = "") -> World:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER", country=country)
    customer = await tree.tenant(partner.name, "CUSTOMER", time_zone=time_zone)
    org = await tree.tenant(customer.name, "ORGANIZATION")
    boss = await tree.member(customer.name, [("organization-admin", customer.name)])
    cs = await tree.member(root.name, [("customer-success", root.name)])
    return World(customer, org, boss, cs)


def create_request(w: World, **fields: object) -> accounts_pb2.CreateApplicationRequest:
    account = ACC(
        display_name="Depot", plan="business", datapoints=20, sector="logistics", organizations=[w.org.name]
    )
    for key, value in fields.items():
        if key == "organizations":
            del account.organizations[:]
            account.organizations.extend(value)  # type: ignore[arg-type]
        else:
            setattr(account, key, value)
    return accounts_pb2.CreateApplicationRequest(
        parent=w.customer.name, application=A(kind=A.CREATE_ACCOUNT, new_account=account)
    )


async def approved(w: World, internal: Internal, datapoints: int = 20, effective: str = "") -> ACC:
    app = await w.boss.client.applications.CreateApplication(create_request(w, datapoints=datapoints))
    reply = await internal.stub.DecideApplication(
        internal_pb2.DecideApplicationRequest(
            application=app.name, approve=True, actor=w.cs.user.name, effective_date=effective
        )
    )
    return reply.account


async def test_a_decision_takes_effect_on_the_customers_date_at_its_instant(
    tree: TreeBuilder, internal: Internal
) -> None:
    """The approval workflow sends its clock: 23:30 UTC is 00:30 the next day in Amsterdam
    (winter), and the account's dates are the customer's."""
    w = await world(tree, time_zone="Europe/Amsterdam")
    app = await w.boss.client.applications.CreateApplication(create_request(w))
    request = internal_pb2.DecideApplicationRequest(application=app.name, approve=True, actor=w.cs.user.name)
    request.effective_time.FromDatetime(dt.datetime(2026, 1, 14, 23, 30, tzinfo=dt.UTC))
    decided = await internal.stub.DecideApplication(request)
    assert (decided.account.start_date, decided.account.expiry_date) == ("2026-01-15", "2027-01-15")
    assert decided.time_zone == "Europe/Amsterdam"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"datapoints": 19}, "application.new_account.datapoints"),
        ({"plan": "platinum"}, "application.new_account.plan"),
        ({"sector": "space"}, "application.new_account.sector"),
        ({"rtc_lines": 2}, "application.new_account.rtc_lines"),
        ({"display_name": ""}, "application.new_account.display_name"),
        ({"period_months": 500}, "application.new_account.period_months"),
        ({"mail_domain": "not a domain"}, "application.new_account.mail_domain"),
        ({"organizations": []}, "application.new_account.organizations"),
        ({"organizations": ["tenants/NOPE"]}, "application.new_account.organizations[0]"),
    ],
)
async def test_bad_account_requests_name_the_field(
    tree: TreeBuilder, fields: dict[str, object], field: str
) -> None:
    w = await world(tree)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await w.boss.client.applications.CreateApplication(create_request(w, **fields))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in field_violations(raised.value)]


async def test_all_violations_at_once_and_rtc_only_in_spain(tree: TreeBuilder) -> None:
    w = await world(tree)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await w.boss.client.applications.CreateApplication(
            create_request(w, datapoints=5, plan="x", rtc_lines=1)
        )
    assert {v.field for v in field_violations(raised.value)} == {
        "application.new_account.datapoints",
        "application.new_account.plan",
        "application.new_account.rtc_lines",
    }
    spain = await world(tree, country="ES")
    app = await spain.boss.client.applications.CreateApplication(create_request(spain, rtc_lines=3))
    assert app.new_account.rtc_lines == 3


async def test_nothing_changes_before_approval_and_retries_do_not_duplicate(
    tree: TreeBuilder, internal: Internal
) -> None:
    w = await world(tree)
    request = create_request(w)
    request.request_id = unique("req")
    app = await w.boss.client.applications.CreateApplication(request)
    assert await w.boss.client.applications.CreateApplication(request) == app
    listed = await w.cs.client.applications.ListApplications(
        accounts_pb2.ListApplicationsRequest(filter=f'customer = "{w.customer.name}"')
    )
    assert [a.name for a in listed.applications] == [app.name]
    account = await w.boss.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=app.account))
    assert (account.state, account.expiry_date, account.datapoints_used) == (ACC.PENDING, "", 0)
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # the organization is reserved by the pending account
        await w.boss.client.applications.CreateApplication(create_request(w))
    assert error_info(raised.value).reason == "ORGANIZATION_ALREADY_COVERED"  # type: ignore[union-attr]
    decided = await internal.stub.DecideApplication(
        internal_pb2.DecideApplicationRequest(
            application=app.name, approve=True, actor=w.cs.user.name, effective_date="2026-01-31"
        )
    )
    assert decided.account.state == ACC.ACTIVE
    assert (decided.account.start_date, decided.account.expiry_date) == ("2026-01-31", "2027-01-31")
    # The activity may run twice: the same decision again changes nothing.
    again = await internal.stub.DecideApplication(
        internal_pb2.DecideApplicationRequest(application=app.name, approve=True, actor=w.cs.user.name)
    )
    assert again.account == decided.account
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await internal.stub.DecideApplication(
            internal_pb2.DecideApplicationRequest(
                application=app.name, approve=False, actor=w.cs.user.name, reason="no"
            )
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_expiry_follows_from_the_date_when_read(tree: TreeBuilder, internal: Internal) -> None:
    w = await world(tree)
    long_ago = (dt.date.today() - dt.timedelta(days=800)).isoformat()
    account = await approved(w, internal, effective=long_ago)
    got = await w.boss.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=account.name))
    assert got.state == ACC.EXPIRED  # no job flipped it
    expired = await w.boss.client.accounts.ListAccounts(
        accounts_pb2.ListAccountsRequest(parent=w.customer.name)
    )
    assert [a.state for a in expired.accounts] == [ACC.EXPIRED]


async def test_change_applications(tree: TreeBuilder, internal: Internal) -> None:
    w = await world(tree)
    account = await approved(w, internal, datapoints=25)
    for i in range(22):
        await internal.stub.AllocateDatapoint(
            internal_pb2.AllocateDatapointRequest(
                organization=w.org.name, resource=f"chargingPoints/{w.org.name[-6:]}{i}"
            )
        )
    bad = [
        (A(kind=A.CHANGE_DATAPOINTS, account=account.name, datapoints=21), "application.datapoints"),
        (A(kind=A.CHANGE_DATAPOINTS, account=account.name, datapoints=10), "application.datapoints"),
        (A(kind=A.CHANGE_PLAN, account=account.name, plan="business"), "application.plan"),
        (A(kind=A.CHANGE_PLAN, account=account.name, plan="gold"), "application.plan"),
        (A(kind=A.EXTEND, account=account.name, months=0), "application.months"),
        (A(kind=A.EXTEND), "application.account"),
        (A(kind=A.KIND_UNSPECIFIED), "application.kind"),
    ]
    for application, field in bad:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await w.boss.client.applications.CreateApplication(
                accounts_pb2.CreateApplicationRequest(parent=w.customer.name, application=application)
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert [v.field for v in field_violations(raised.value)] == [field]
    lower = await w.boss.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=w.customer.name,
            application=A(kind=A.CHANGE_DATAPOINTS, account=account.name, datapoints=23),
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # one pending application per account
        await w.boss.client.applications.CreateApplication(
            accounts_pb2.CreateApplicationRequest(
                parent=w.customer.name, application=A(kind=A.EXTEND, account=account.name, months=6)
            )
        )
    assert error_info(raised.value).reason == "APPLICATION_PENDING"  # type: ignore[union-attr]
    # Usage grew after the request: the decision cannot lower the quota below it.
    for i in range(22, 24):
        await internal.stub.AllocateDatapoint(
            internal_pb2.AllocateDatapointRequest(
                organization=w.org.name, resource=f"chargingPoints/{w.org.name[-6:]}{i}"
            )
        )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await internal.stub.DecideApplication(
            internal_pb2.DecideApplicationRequest(application=lower.name, approve=True, actor=w.cs.user.name)
        )
    assert error_info(raised.value).reason == "DATAPOINTS_IN_USE"  # type: ignore[union-attr]
    await internal.stub.DecideApplication(
        internal_pb2.DecideApplicationRequest(
            application=lower.name, approve=False, actor=w.cs.user.name, reason="too low"
        )
    )
    extend = await w.boss.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=w.customer.name, application=A(kind=A.EXTEND, account=account.name, months=6)
        )
    )
    done = await internal.stub.DecideApplication(
        internal_pb2.DecideApplicationRequest(application=extend.name, approve=True, actor=w.cs.user.name)
    )
    before = dt.date.fromisoformat(account.expiry_date)
    assert dt.date.fromisoformat(done.account.expiry_date) > before + dt.timedelta(days=180)


async def test_datapoint_quota(tree: TreeBuilder, internal: Internal) -> None:
    w = await world(tree)
    sub = await tree.tenant(w.org.name, "ORGANIZATION")
    account = await approved(w, internal, datapoints=20)
    prefix = f"chargingPoints/q{w.org.name[-8:]}"
    results = await asyncio.gather(
        *(
            internal.stub.AllocateDatapoint(
                internal_pb2.AllocateDatapointRequest(
                    organization=(sub if i % 2 else w.org).name, resource=f"{prefix}{i}"
                )
            )
            for i in range(25)
        ),
        return_exceptions=True,
    )
    granted = [r for r in results if isinstance(r, internal_pb2.DatapointAllocation)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(granted) == 20 and len(refused) == 5  # a sub-organization draws on its parent's account
    assert {r.code() for r in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    status = decode_status(refused[0])
    assert status is not None
    failures = [d for d in status.details if d.Is(error_details_pb2.QuotaFailure.DESCRIPTOR)]
    assert failures, "RESOURCE_EXHAUSTED carries a QuotaFailure"
    assert "20 used of 20 allowed" in (refused[0].details() or "")
    # Idempotent by resource; release frees one.
    ok = granted[0]
    again = await internal.stub.AllocateDatapoint(
        internal_pb2.AllocateDatapointRequest(
            organization=w.org.name if ok.resource.endswith(("0", "2", "4", "6", "8")) else sub.name,
            resource=ok.resource,
        )
    )
    assert (again.used, again.allowed) == (20, 20)
    assert (
        await internal.stub.ReleaseDatapoint(internal_pb2.ReleaseDatapointRequest(resource=ok.resource))
    ).released
    assert not (
        await internal.stub.ReleaseDatapoint(internal_pb2.ReleaseDatapointRequest(resource=ok.resource))
    ).released
    got = await w.boss.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=account.name))
    assert (got.datapoints_used, got.datapoints_left) == (19, 1)


async def test_datapoints_need_an_account_in_force(
    tree: TreeBuilder, internal: Internal, admin: Client
) -> None:
    w = await world(tree)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await internal.stub.AllocateDatapoint(
            internal_pb2.AllocateDatapointRequest(organization=w.org.name, resource="chargingPoints/x1")
        )
    assert error_info(raised.value).reason == "NO_ACCOUNT"  # type: ignore[union-attr]
    await w.boss.client.applications.CreateApplication(create_request(w))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await internal.stub.AllocateDatapoint(
            internal_pb2.AllocateDatapointRequest(organization=w.org.name, resource="chargingPoints/x1")
        )
    assert error_info(raised.value).reason == "ACCOUNT_NOT_IN_FORCE"  # type: ignore[union-attr]
    for bad in (
        internal_pb2.AllocateDatapointRequest(organization="orgs/x", resource="chargingPoints/x1"),
        internal_pb2.AllocateDatapointRequest(organization=w.org.name, resource=""),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await internal.stub.AllocateDatapoint(bad)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Users cannot call the internal API, whoever they are.
    user_stub = internal_pb2_grpc.IdentityInternalServiceStub(admin.channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await user_stub.AllocateDatapoint(
            internal_pb2.AllocateDatapointRequest(organization=w.org.name, resource="chargingPoints/x1")
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_feature_licenses(tree: TreeBuilder, internal: Internal, admin: Client) -> None:
    w = await world(tree)
    member = await tree.member(w.org.name, [("organization-member", w.org.name)])
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # members use licenses but do not buy them
        await member.client.licenses.PurchaseLicenses(
            accounts_pb2.PurchaseLicensesRequest(parent=w.org.name, type=accounts_pb2.AC_CHARGING, quantity=1)
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for request, code in (
        (
            accounts_pb2.PurchaseLicensesRequest(
                parent=w.org.name, type=accounts_pb2.AC_CHARGING, quantity=0
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            accounts_pb2.PurchaseLicensesRequest(parent=w.org.name, quantity=1),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            accounts_pb2.PurchaseLicensesRequest(
                parent=w.customer.name, type=accounts_pb2.AC_CHARGING, quantity=1
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await w.boss.client.licenses.PurchaseLicenses(request)
        assert raised.value.code() == code
    purchase = await w.boss.client.licenses.PurchaseLicenses(
        accounts_pb2.PurchaseLicensesRequest(parent=w.org.name, type=accounts_pb2.AC_CHARGING, quantity=2)
    )
    assert purchase.purchased_by == w.boss.user.name
    sub = await tree.tenant(w.org.name, "ORGANIZATION")
    first = await internal.stub.AllocateLicense(
        internal_pb2.AllocateLicenseRequest(
            organization=sub.name, type=accounts_pb2.AC_CHARGING, resource="chargingPoints/L1"
        )
    )
    assert first.organization == w.org.name  # a sub-organization uses its parent's pool
    assert (
        await internal.stub.AllocateLicense(
            internal_pb2.AllocateLicenseRequest(
                organization=sub.name, type=accounts_pb2.AC_CHARGING, resource="chargingPoints/L1"
            )
        )
        == first
    )
    await internal.stub.AllocateLicense(
        internal_pb2.AllocateLicenseRequest(
            organization=w.org.name, type=accounts_pb2.AC_CHARGING, resource="chargingPoints/L2"
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await internal.stub.AllocateLicense(
            internal_pb2.AllocateLicenseRequest(
                organization=w.org.name, type=accounts_pb2.AC_CHARGING, resource="chargingPoints/L3"
            )
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no AC_CHARGING license left" in (raised.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # DC was never bought
        await internal.stub.AllocateLicense(
            internal_pb2.AllocateLicenseRequest(
                organization=w.org.name, type=accounts_pb2.DC_CHARGING, resource="chargingPoints/L1"
            )
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    pools = await member.client.licenses.ListLicensePools(
        accounts_pb2.ListLicensePoolsRequest(parent=w.org.name)
    )
    ac = next(p for p in pools.pools if p.type == accounts_pb2.AC_CHARGING)
    assert (ac.purchased, ac.allocated, ac.available) == (2, 2, 0)
    # The purchaser is removed: the licenses stay with the organization.
    await admin.users.DeleteUser(users_pb2.DeleteUserRequest(name=w.boss.user.name))
    pools = await member.client.licenses.ListLicensePools(
        accounts_pb2.ListLicensePoolsRequest(parent=w.org.name)
    )
    assert next(p for p in pools.pools if p.type == accounts_pb2.AC_CHARGING).purchased == 2
    released = await internal.stub.ReleaseLicense(
        internal_pb2.ReleaseLicenseRequest(type=accounts_pb2.AC_CHARGING, resource="chargingPoints/L2")
    )
    assert released.released
    allocations = await member.client.licenses.ListLicenseAllocations(
        accounts_pb2.ListLicenseAllocationsRequest(parent=w.org.name)
    )
    assert [a.resource for a in allocations.license_allocations] == ["chargingPoints/L1"]


async def test_unknown_enum_numbers_and_instants_out_of_range_are_named(
    tree: TreeBuilder, internal: Internal
) -> None:
    """A client may send any enum number and any Timestamp: INVALID_ARGUMENT naming the field."""
    w = await world(tree)
    app_request = create_request(w)
    app_request.application.kind = 999  # type: ignore[assignment]
    calls = [
        (w.boss.client.applications.CreateApplication(app_request), "application.kind"),
        (
            w.boss.client.licenses.PurchaseLicenses(
                accounts_pb2.PurchaseLicensesRequest(parent=w.org.name, type=999, quantity=1)  # type: ignore[arg-type]
            ),
            "type",
        ),
        (
            internal.stub.AllocateLicense(
                internal_pb2.AllocateLicenseRequest(
                    organization=w.org.name,
                    type=999,
                    resource="chargingPoints/x",  # type: ignore[arg-type]
                )
            ),
            "type",
        ),
        (
            internal.stub.ReleaseLicense(
                internal_pb2.ReleaseLicenseRequest(type=999, resource="chargingPoints/x")  # type: ignore[arg-type]
            ),
            "type",
        ),
    ]
    app = await w.boss.client.applications.CreateApplication(create_request(w))
    decide = internal_pb2.DecideApplicationRequest(application=app.name, approve=True, actor=w.cs.user.name)
    decide.effective_time.seconds = 253_402_300_800  # 10000-01-01
    calls.append((internal.stub.DecideApplication(decide), "effective_time"))
    for call, field in calls:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert [v.field for v in field_violations(raised.value)] == [field]
