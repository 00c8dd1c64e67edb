"""Assets' rate plans against the real billing (ResolveTariff with assets' own service token): a
setting may reference a charging tariff owned at its tenant or above; a sibling's tariff, a
home-charging reimbursement rate, a deleted tariff or a name of the old `ratePlans/` kind is
INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from tests.support.assets import (
    ASSETS_SCOPES,
    AssetsStack,
    organization,
    service_token,
    start_assets,
)
from wattlane.api.assets.v1 import settings_pb2
from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.api.identity.v1 import internal_pb2_grpc
from wattlane.billing.main import BillingService
from wattlane.billing.settings import load
from wattlane.contracts import scopes
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.billing import BillingClient
from wattlane.core.errors import field_violations
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import Client, TreeBuilder

S = settings_pb2


@dataclass
class Services:
    assets: AssetsStack
    billing_target: str


@pytest.fixture
async def stack(
    databases: DatabaseFactory, identity: IdentityService, admin: Client
) -> AsyncIterator[Services]:
    """Billing, and assets asking it (not the fake of tests/support/billing.py)."""
    client_id, secret, _ = await service_token(admin, list(scopes.SERVICE_ACCOUNTS["billing"]), "billing")
    billing = BillingService(
        load(
            database_url=await databases.create("billingassets"),
            port=0,
            metrics_port=-1,
            log_json=False,
            identity_address=f"127.0.0.1:{identity.port}",
            client_id=client_id,
            client_secret=secret,
        )
    )
    await billing.start()
    client_id, secret, _ = await service_token(admin, ASSETS_SCOPES, "assets")
    _, _, workflow_token = await service_token(admin, [scopes.IDENTITY_APPLICATIONS], "worker")
    assets = await start_assets(
        await databases.create("assetsbilling"),
        identity.port,
        client_id,
        secret,
        billing_address=f"127.0.0.1:{billing.port}",
    )
    ch = channel(f"127.0.0.1:{identity.port}", token=workflow_token, max_attempts=1)
    try:
        stub = internal_pb2_grpc.IdentityInternalServiceStub(ch)
        yield Services(AssetsStack(assets, f"127.0.0.1:{assets.port}", "", stub), f"127.0.0.1:{billing.port}")
    finally:
        await ch.close(None)
        await assets.stop()
        await billing.stop()


async def _set(client: AssetsClient, org: str, plan: str) -> S.OrganizationSettings:
    settings: S.OrganizationSettings = await client.settings.UpdateOrganizationSettings(
        S.UpdateOrganizationSettingsRequest(
            settings=S.OrganizationSettings(
                name=f"{org}/assetSettings", rate_plan=plan, rate_plan_override=True
            ),
            update_mask=FieldMask(paths=["rate_plan", "rate_plan_override"]),
        )
    )
    return settings


async def test_rate_plans_reference_real_tariffs_visible_from_the_setting(
    stack: Services, tree: TreeBuilder, admin: Client
) -> None:
    org = await organization(tree, stack.assets)
    other = await organization(tree, stack.assets)
    operator = BillingClient(stack.billing_target, admin.token)
    assets = stack.assets.client(org.admin)

    async def tariff(parent: str, purpose: int = tariffs_pb2.CHARGING) -> str:
        energy = tariffs_pb2.PriceComponent(type=tariffs_pb2.ENERGY, price="0.30", step_size=1)
        created = await operator.tariffs.CreateTariff(
            tariffs_pb2.CreateTariffRequest(
                parent=parent,
                tariff=tariffs_pb2.Tariff(
                    display_name="T",
                    currency="EUR",
                    purpose=purpose,  # type: ignore[arg-type]
                    elements=[tariffs_pb2.TariffElement(price_components=[energy])],
                ),
            )
        )
        return str(created.name)

    try:
        customers = await tariff(org.customer.name)
        own = await tariff(org.org.name)
        assert (await _set(assets, org.org.name, customers)).rate_plan == customers
        assert (await _set(assets, org.org.name, own)).rate_plan == own
        deleted = await tariff(org.org.name)
        await operator.tariffs.DeleteTariff(tariffs_pb2.DeleteTariffRequest(name=deleted))
        refused = [
            await tariff(other.org.name),  # a sibling branch's
            await tariff(org.org.name, tariffs_pb2.HOME_REIMBURSEMENT),  # not a charging tariff
            deleted,
            "tariffs/never-was",
            "ratePlans/standard",
        ]
        for plan in refused:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await _set(assets, org.org.name, plan)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, plan
            assert [v.field for v in field_violations(raised.value)] == ["settings.rate_plan"]
    finally:
        await operator.close()
        await assets.close()
