"""Billing among the real processes (tests/conftest.py: `real_stack`): a tariff made at the
billing process, referenced by an organization's rate plan at the assets process (assets asks
billing), a 1.6 session at the CSMS process from a station assets knows, handed on by the worker
process: one priced charge record, visible to the organization through billing's API and in
`wattlane transactions list` with its cost."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.assets.helpers import location, mask, point, uid
from tests.support.assets import AssetsStack, Org, organization
from tests.support.processes import ADMIN_EMAIL, ADMIN_PASSWORD, RealStack, ws_url
from wattlane.api.assets.v1 import cards_pb2, settings_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.billing.v1 import charge_records_pb2, tariffs_pb2
from wattlane.api.identity.v1 import auth_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.billing import BillingClient
from wattlane.core.clients.identity import IdentityClient
from wattlane.identity.testing import USER_PASSWORD, TreeBuilder
from wattlane.simulator.station import SimStation

T = tariffs_pb2
WATTLANE = str(Path(sys.executable).parent / "wattlane")


async def test_a_session_through_the_processes_ends_as_one_priced_record(
    real_stack: RealStack, tmp_path: Path
) -> None:
    identity, assets, billing = real_stack["identity"], real_stack["assets"], real_stack["billing"]
    admin = await IdentityClient(identity.grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    worker_token = (
        await admin.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="worker", client_secret=real_stack.secrets["worker"])
        )
    ).access_token
    apps = channel(identity.grpc, token=worker_token, max_attempts=1)
    stack = AssetsStack(None, assets.grpc, "", internal_pb2_grpc.IdentityInternalServiceStub(apps))  # type: ignore[arg-type]
    tree = TreeBuilder(admin)
    operator = BillingClient(billing.grpc, admin.token)
    try:
        org: Org = await organization(tree, stack)
        energy = T.PriceComponent(type=T.ENERGY, price="0.25", vat="21", step_size=1)
        tariff = await operator.tariffs.CreateTariff(
            T.CreateTariffRequest(
                parent=org.customer.name,
                tariff=T.Tariff(
                    parent=org.customer.name,
                    display_name="Customer rate",
                    currency="EUR",
                    elements=[T.TariffElement(price_components=[energy])],
                ),
            )
        )
        client = AssetsClient(assets.grpc, org.admin.client.token)
        await client.settings.UpdateOrganizationSettings(
            settings_pb2.UpdateOrganizationSettingsRequest(
                settings=settings_pb2.OrganizationSettings(
                    name=f"{org.org.name}/assetSettings", rate_plan=tariff.name, rate_plan_override=True
                ),
                update_mask=mask("rate_plan", "rate_plan_override"),
            )
        )
        site = await location(
            client, org.org.name, access_mode=settings_pb2.ROAMING, time_zone="Europe/Berlin"
        )
        added = await point(client, site.name, charging_enabled=True)
        key = (
            await client.charging_points.RotateAuthorizationKey(
                cp_pb2.RotateAuthorizationKeyRequest(name=added.name)
            )
        ).authorization_key
        driver = await tree.member(org.org.name)
        card = uid()
        await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=driver.user.name, card=cards_pb2.Card(uid=card))
        )
        await client.close()

        station = SimStation(added.ocpp_identity, ws_url(real_stack["csms"]), password=key)
        await station.connect()
        await station.boot()
        transaction_id = await station.start_transaction(1, card, 1000)
        await station.status(1, "Charging")
        await station.meter_values(1, transaction_id, 5000)
        await station.stop_transaction(transaction_id, 9000)
        await station.close()

        records = BillingClient(billing.grpc, org.admin.client.token)
        try:
            query = charge_records_pb2.ListChargeRecordsRequest(
                filter=f'transaction = "transactions/{transaction_id}"'
            )
            deadline = asyncio.get_running_loop().time() + 60
            while not (found := await records.charge_records.ListChargeRecords(query)).charge_records:
                assert asyncio.get_running_loop().time() < deadline, "no charge record in 60 s"
                await asyncio.sleep(0.5)
        finally:
            await records.close()
        (record,) = found.charge_records
        assert (record.tariff.name, record.priced.time_zone, record.energy_wh) == (
            tariff.name,
            "Europe/Berlin",
            8000,
        )
        assert Decimal(record.total_cost.excl_vat) == Decimal("2.00")  # 8 kWh x 0.25

        env = {
            **os.environ,
            "WATTLANE_HOME": str(tmp_path),
            "WATTLANE_IDENTITY_ADDRESS": identity.grpc,
            "WATTLANE_CSMS_ADDRESS": real_stack["csms"].grpc,
            "WATTLANE_BILLING_ADDRESS": billing.grpc,
        }
        await asyncio.to_thread(
            subprocess.run,
            [WATTLANE, "login", org.admin.user.email, "--password", USER_PASSWORD],
            env=env,
            check=True,
        )
        listed = await asyncio.to_thread(
            subprocess.run, [WATTLANE, "transactions", "list"], env=env, capture_output=True, text=True
        )
        assert listed.returncode == 0, listed.stderr
        row = next(line for line in listed.stdout.splitlines() if line.startswith(f"{transaction_id} "))
        assert f"{tariff.name}  2.00 EUR (2.42" in row, listed.stdout  # 21% VAT on top
    finally:
        await operator.close()
        await tree.close()
        await apps.close(None)
        await admin.close()
