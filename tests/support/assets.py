"""Test support for assets and every service that needs real locations, charging points and
cards: a running assets service next to the session's identity, service accounts with the
scopes each side needs, and a builder for organizations covered by an approved account.

The `assets_stack` fixture is registered by tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from wattlane.api.identity.v1 import accounts_pb2, auth_pb2, internal_pb2, internal_pb2_grpc, tenants_pb2
from wattlane.assets.main import AssetsService
from wattlane.assets.onboarding import CsmsLink
from wattlane.assets.provisioning import StepHook
from wattlane.assets.settings import load
from wattlane.contracts import scopes
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Client, Member, TreeBuilder, unique

from .billing import FakeBilling, serve_fake_billing

# What assets' own service account may do at identity (as `wattlane up` configures it).
ASSETS_SCOPES = list(scopes.SERVICE_ACCOUNTS["assets"])
# What the CSMS may ask assets.
CSMS_SCOPES = [scopes.ASSETS_STATIONS, scopes.ASSETS_ACCESS]


async def service_token(admin: Client, scopes: list[str], prefix: str = "svc") -> tuple[str, str, str]:
    """A new service account with `scopes`: (client id, secret, a fresh token)."""
    created = await admin.service_accounts.CreateServiceAccount(
        auth_pb2.CreateServiceAccountRequest(
            service_account=auth_pb2.ServiceAccount(service=unique(prefix).lower(), scopes=scopes)
        )
    )
    token = await admin.auth.IssueServiceToken(
        auth_pb2.IssueServiceTokenRequest(
            client_id=created.service_account.name, client_secret=created.client_secret
        )
    )
    return created.service_account.name, created.client_secret, token.access_token


async def start_assets(
    database_url: str,
    identity_port: int,
    client_id: str,
    client_secret: str,
    *,
    csms: CsmsLink | None = None,
    step_hook: StepHook | None = None,
    **overrides: Any,
) -> AssetsService:
    """A started assets service on a free port next to the identity at `identity_port`."""
    settings = load(
        database_url=database_url,
        port=0,
        metrics_port=-1,
        log_json=False,
        identity_address=f"127.0.0.1:{identity_port}",
        client_id=client_id,
        client_secret=client_secret,
        **overrides,
    )
    service = AssetsService(settings, csms=csms, step_hook=step_hook)
    await service.start()
    return service


@dataclass
class AssetsStack:
    """The session's assets service and what tests need around it."""

    service: AssetsService
    target: str
    csms_token: str  # a CSMS service token (assets.stations, assets.access)
    identity_internal: internal_pb2_grpc.IdentityInternalServiceAsyncStub  # identity.applications
    # The tariffs rate plans may reference (ResolveTariff); a stack without billing has an
    # unserved one (no rate plan can be set there).
    billing: FakeBilling = field(default_factory=FakeBilling)

    def client(self, member: Member | Client | str) -> AssetsClient:
        """An assets client signed in as `member` (its identity token), or with a raw token."""
        if isinstance(member, Member):
            member = member.client
        return AssetsClient(self.target, member if isinstance(member, str) else member.token)


@dataclass
class Org:
    """An organization under a fresh partner and customer, covered by an approved account."""

    partner: tenants_pb2.Tenant
    customer: tenants_pb2.Tenant
    org: tenants_pb2.Tenant
    admin: Member  # organization-admin at the customer
    account: accounts_pb2.Account


async def organization(
    tree: TreeBuilder, stack: AssetsStack, *, datapoints: int = 20, licenses: dict[int, int] | None = None
) -> Org:
    """A partner → customer → organization with an approved account and bought licenses."""
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    admin = await tree.member(customer.name, [("organization-admin", customer.name)])
    cs = await tree.member(root.name, [("customer-success", root.name)])
    application = await admin.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=customer.name,
            application=accounts_pb2.Application(
                kind=accounts_pb2.Application.CREATE_ACCOUNT,
                new_account=accounts_pb2.Account(
                    display_name="Charging",
                    plan="business",
                    datapoints=datapoints,
                    sector="logistics",
                    organizations=[org.name],
                ),
            ),
        )
    )
    decided = await stack.identity_internal.DecideApplication(
        internal_pb2.DecideApplicationRequest(application=application.name, approve=True, actor=cs.user.name)
    )
    for license_type, quantity in (
        licenses or {accounts_pb2.AC_CHARGING: 5, accounts_pb2.DC_CHARGING: 1}
    ).items():
        await admin.client.licenses.PurchaseLicenses(
            accounts_pb2.PurchaseLicensesRequest(parent=org.name, type=license_type, quantity=quantity)  # type: ignore[arg-type]
        )
    return Org(partner, customer, org, admin, decided.account)


@pytest.fixture(scope="session")
async def assets_stack(
    databases: DatabaseFactory, identity: IdentityService, admin: Client
) -> AsyncIterator[AssetsStack]:
    """One assets service per test worker, beside the session's identity."""
    client_id, secret, _ = await service_token(admin, ASSETS_SCOPES, "assets")
    _, _, csms_token = await service_token(admin, CSMS_SCOPES, "csms")
    _, _, workflow_token = await service_token(admin, [scopes.IDENTITY_APPLICATIONS], "worker")
    async with serve_fake_billing() as (billing, billing_address):
        service = await start_assets(
            await databases.create("assets"),
            identity.port,
            client_id,
            secret,
            billing_address=billing_address,
        )
        ch = channel(f"127.0.0.1:{identity.port}", token=workflow_token, max_attempts=1)
        yield AssetsStack(
            service,
            f"127.0.0.1:{service.port}",
            csms_token,
            internal_pb2_grpc.IdentityInternalServiceStub(ch),
            billing,
        )
        await ch.close(None)
        await service.stop()
