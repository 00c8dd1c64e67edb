"""`wattlane tariffs list|show|create|update|price` against a real identity and a real billing
service (in this test's event loop, so the CLI runs as asyncio subprocesses)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli.test_stations_commands import wl
from tests.support.assets import service_token
from wattlane.billing.main import BillingService
from wattlane.billing.settings import load
from wattlane.cli.commands.tariffs import session_window
from wattlane.contracts import scopes
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, Client, TreeBuilder


@pytest.fixture
async def billing(
    databases: DatabaseFactory, identity: IdentityService, admin: Client
) -> AsyncIterator[BillingService]:
    client_id, secret, _ = await service_token(admin, list(scopes.SERVICE_ACCOUNTS["billing"]), "billing")
    service = BillingService(
        load(
            database_url=await databases.create("billingcli"),
            port=0,
            metrics_port=-1,
            log_json=False,
            identity_address=f"127.0.0.1:{identity.port}",
            client_id=client_id,
            client_secret=secret,
        )
    )
    await service.start()
    yield service
    await service.stop()


def test_a_session_on_a_sunday_evening_is_read_in_the_location_s_zone() -> None:
    wednesday = dt.date(2026, 12, 2)
    start, stop = session_window("17:40", "21:10", "Europe/Amsterdam", "sunday", wednesday)
    assert start == dt.datetime(2026, 12, 6, 16, 40, tzinfo=dt.UTC)
    assert stop == dt.datetime(2026, 12, 6, 20, 10, tzinfo=dt.UTC)
    overnight = session_window("22:00", "06:30", "Europe/Amsterdam", None, wednesday)
    assert overnight[1] - overnight[0] == dt.timedelta(hours=8, minutes=30)


async def test_tariffs_create_list_show_update_and_price(
    billing: BillingService, identity: IdentityService, tree: TreeBuilder, tmp_path: Path
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    env = {
        **os.environ,
        "WATTLANE_HOME": str(tmp_path),
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
        "WATTLANE_BILLING_ADDRESS": f"127.0.0.1:{billing.port}",
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    # Off-peak 21:00-07:00 at 0.20/kWh, otherwise 0.40/kWh, with a 1.00 session fee; VAT 21%.
    spec = {
        "displayName": "Off-peak",
        "currency": "EUR",
        "elements": [
            {
                "priceComponents": [{"type": "ENERGY", "price": "0.20", "vat": "21", "stepSize": 1}],
                "restrictions": {"startTime": "21:00", "endTime": "07:00"},
            },
            {
                "priceComponents": [
                    {"type": "ENERGY", "price": "0.40", "vat": "21", "stepSize": 1},
                    {"type": "FLAT", "price": "1.00", "vat": "21"},
                ]
            },
        ],
    }
    path = tmp_path / "tariff.json"
    path.write_text(json.dumps(spec))
    _, created, _ = await wl(env, "tariffs", "create", "--parent", org.name, "--file", str(path))
    match = re.search(r"tariffs/\w+", created)
    assert match is not None and "version 1" in created
    name = match.group(0)
    _, listed, _ = await wl(env, "tariffs", "list", "--parent", org.name)
    assert name in listed and "Off-peak" in listed and "(restricted)" in listed
    _, simple, _ = await wl(
        env, "tariffs", "create", "--parent", org.name, "--display-name", "Flat rate", "--currency", "eur",
        "--energy", "0.35", "--vat", "21",
    )  # fmt: skip
    assert "0.35/kWh" in simple
    _, updated, _ = await wl(env, "tariffs", "update", name, "--display-name", "Off-peak 2027")
    assert "version 2" in updated
    _, shown, _ = await wl(env, "tariffs", "show", name, "--versions")
    assert "Off-peak 2027" in shown and "version 2" in shown and '"start_time":"21:00"' in shown
    _, priced, _ = await wl(
        env, "tariffs", "price", name, "--energy-kwh", "22", "--start", "17:40", "--stop", "21:10",
        "--on", "sunday", "--time-zone", "Europe/Amsterdam",
    )  # fmt: skip
    assert "22 kWh from Sun" in priced and "17:40 to 21:10" in priced
    lines = priced.splitlines()
    assert any("21:00" in line and "ENERGY" in line for line in lines)  # a period starts at 21:00
    assert any("FLAT" in line for line in lines)
    total = lines[-1]
    assert total.startswith("total: 9.59 EUR excl. VAT") and "(exact: 9.59" in total
    code, _, err = await wl(
        env, "tariffs", "create", "--parent", org.name, "--display-name", "Bad", "--currency", "EUR",
        "--energy", "-1", ok=False,
    )  # fmt: skip
    assert code == 1 and "tariff.elements[0].price_components[0].price" in err
