"""`wattlane employees | roles update | applications create` against the session's real identity
(the CLI runs as asyncio subprocesses so the service in this event loop keeps serving)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.cli.test_stations_commands import wl
from tests.support.assets import AssetsStack, Org, organization
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, TreeBuilder, unique


async def _env(identity: IdentityService, home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "WATTLANE_HOME": str(home),
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    return env


async def test_employees_with_a_home_organization(
    identity: IdentityService, tree: TreeBuilder, tmp_path: Path
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    company = await tree.tenant(partner.name, "CUSTOMER", customer_type="COMPANY")
    org = await tree.tenant(company.name, "ORGANIZATION")
    env = await _env(identity, tmp_path)
    email = f"{unique('emp')}@example.test"
    _, out, _ = await wl(
        env, "employees", "create", "--organization", org.name, "--email", email, "--name", "Bo Jansen",
        "--home-name", "Home of Bo",
    )  # fmt: skip
    match = re.search(r"created (users/\w+)", out)
    assert match is not None, out
    user = match.group(1)
    home = re.search(r"home organization: (tenants/\w+) \(Home of Bo\)", out)
    assert home is not None, out
    _, listed, _ = await wl(env, "employees", "list", org.name)
    assert re.search(rf"{user}\s+{re.escape(email)}\s+Bo Jansen\s+\w+\s+{home.group(1)}", listed), listed
    _, as_json, _ = await wl(env, "employees", "list", org.name, "--output", "json")
    assert [u["name"] for u in json.loads(as_json)] == [user]
    code, _, err = await wl(
        env, "employees", "create", "--organization", org.name, "--email", "not-an-email", "--name", "X",
        ok=False,
    )  # fmt: skip
    assert code == 1 and "INVALID_ARGUMENT" in err and "user.email" in err and "Traceback" not in err


async def test_roles_update_changes_only_the_given_fields(
    identity: IdentityService, tree: TreeBuilder, tmp_path: Path
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    env = await _env(identity, tmp_path)
    name = unique("Support")
    await wl(
        env, "roles", "create", "--tenant", partner.name, "--name", name, "--description", "first line",
        "--permission", "stations.read",
    )  # fmt: skip
    _, listed, _ = await wl(env, "roles", "list", "--tenant", partner.name, "--output", "json")
    role = next(r["name"] for r in json.loads(listed) if r["displayName"] == name)
    _, updated, _ = await wl(
        env, "roles", "update", role, "--permission", "stations.read", "--permission", "cards.read"
    )
    assert "(permissions)" in updated and "cards.read" in updated
    _, shown, _ = await wl(env, "roles", "update", role, "--name", f"{name} 2", "--json")
    after = json.loads(shown)
    assert after["displayName"] == f"{name} 2" and after["description"] == "first line"
    assert sorted(after["permissions"]) == ["cards.read", "stations.read"]
    code, _, err = await wl(env, "roles", "update", role, "--permission", "no.such", ok=False)
    assert code == 1 and "INVALID_ARGUMENT" in err and "role.permissions" in err, err


async def test_applications_create_each_kind_is_pending_for_customer_success(
    identity: IdentityService, assets_stack: AssetsStack, tree: TreeBuilder, tmp_path: Path
) -> None:
    # An account has at most one pending application: one account per kind.
    orgs: list[Org] = [await organization(tree, assets_stack) for _ in range(3)]
    env = await _env(identity, tmp_path)
    _, plans, _ = await wl(env, "applications", "plans")
    assert "business" in plans and "enterprise" in plans
    customer = orgs[0].customer.name
    uncovered = await tree.tenant(customer, "ORGANIZATION")
    created = []
    for org, kind, flags in (
        (orgs[0], "change_datapoints", ["--datapoints", "40"]),
        (orgs[1], "change_plan", ["--plan", "enterprise"]),
        (orgs[2], "renew", ["--months", "12"]),
        (
            orgs[0],
            "create_account",
            [
                "--name",
                "Second",
                "--datapoints",
                "20",
                "--sector",
                "logistics",
                "--organization",
                uncovered.name,
            ],
        ),
    ):
        where = ["--plan", "business"] if kind == "create_account" else ["--account", org.account.name]
        _, out, _ = await wl(
            env, "applications", "create", "--customer", org.customer.name, "--kind", kind, *where, *flags,
            "--json",
        )  # fmt: skip
        app = json.loads(out)
        assert app["kind"] == kind.upper() and app["state"] == "PENDING"
        created.append(app["name"])
    _, listed, _ = await wl(env, "applications", "list", "--json")
    assert set(created) <= {a["name"] for a in json.loads(listed)}
    code, _, err = await wl(
        env, "applications", "create", "--customer", customer, "--kind", "change_datapoints", ok=False
    )
    assert code == 2 and "also give --account, --datapoints" in err and "Traceback" not in err
    other: Org = await organization(tree, assets_stack)
    code, _, err = await wl(
        env, "applications", "create", "--customer", other.customer.name, "--kind", "change_datapoints",
        "--account", other.account.name, "--datapoints", "3", ok=False,
    )  # fmt: skip
    assert code == 1 and "INVALID_ARGUMENT" in err and "application.datapoints" in err, err
