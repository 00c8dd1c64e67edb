"""The operator commands against a real identity service (as separate CLI processes).

The identity service runs in this test process's event loop, so the CLI is run with asyncio's
subprocess support (a blocking subprocess call would freeze the server it talks to)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, unique

WATTLANE = str(Path(sys.executable).parent / "wattlane")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


async def wl(env: dict[str, str], *args: str, ok: bool = True) -> Result:
    proc = await asyncio.create_subprocess_exec(
        WATTLANE, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    result = Result(proc.returncode or 0, out.decode(), err.decode())
    if ok:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
async def cli_env(identity: IdentityService, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "WATTLANE_HOME": str(tmp_path),
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
    }
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    return env


async def test_tenant_user_role_round_trip(cli_env: dict[str, str]) -> None:
    roots = (await wl(cli_env, "tenants", "list", "--filter", "kind = OPERATOR")).stdout
    root = roots.splitlines()[2].split()[0]
    name = unique("cli-partner")
    created = await wl(
        cli_env,
        "tenants",
        "create",
        "--parent",
        root,
        "--kind",
        "partner",
        "--name",
        name,
        "--brand-color",
        "#123456",
    )
    partner = created.stdout.splitlines()[2].split()[0]
    assert partner.startswith("tenants/")
    email = f"{unique('cli')}@example.test"
    user_out = await wl(
        cli_env,
        "users",
        "create",
        "--tenant",
        partner,
        "--email",
        email,
        "--name",
        "Cli User",
        "--role",
        "partner-admin",
    )
    token = user_out.stdout.split("invitation token (one-time): ")[1].split()[0]
    await wl(cli_env, "users", "accept", token, "--password", "cli-password-1")
    bindings = await wl(cli_env, "roles", "bindings", "--tenant", partner)
    assert "roles/partner-admin" in bindings.stdout
    # Errors come back readable, naming the field.
    bad = await wl(
        cli_env,
        "tenants",
        "create",
        "--parent",
        root,
        "--kind",
        "partner",
        "--name",
        "x",
        "--locale",
        "english",
        ok=False,
    )
    assert bad.returncode == 1
    assert "INVALID_ARGUMENT" in bad.stderr and "tenant.locale" in bad.stderr
    missing = await wl(cli_env, "tenants", "get", "tenants/NOPE", ok=False)
    assert "NOT_FOUND" in missing.stderr
    whoami = await wl(cli_env, "whoami")
    assert ADMIN_EMAIL in whoami.stdout and "accounts.approve" in whoami.stdout


async def test_tenants_and_users_show_and_list_a_page_at_a_time(cli_env: dict[str, str]) -> None:
    """`show` (old name `get`) prints a table or JSON; `list` takes --limit and --page-token and
    says on stderr where the next page starts, as every other noun's list does."""
    roots = (await wl(cli_env, "tenants", "list", "--filter", "kind = OPERATOR")).stdout
    root = roots.splitlines()[2].split()[0]
    partner = (
        (await wl(cli_env, "tenants", "create", "--parent", root, "--kind", "partner", "--name", unique("p")))
        .stdout.splitlines()[2]
        .split()[0]
    )
    children = set()
    for _ in range(3):
        out = await wl(
            cli_env,
            "tenants",
            "create",
            "--parent",
            partner,
            "--kind",
            "customer",
            "--name",
            unique("c"),
            "--customer-type",
            "company",
        )
        children.add(out.stdout.splitlines()[2].split()[0])
    first = await wl(cli_env, "tenants", "list", "--parent", partner, "--limit", "2")
    assert len(first.stdout.splitlines()) == 2 + 2  # header, rule, two rows
    token = first.stderr.split("--page-token ")[1].split(")")[0]
    second = await wl(cli_env, "tenants", "list", "--parent", partner, "--limit", "2", "--page-token", token)
    listed = {line.split()[0] for out in (first, second) for line in out.stdout.splitlines()[2:]}
    assert listed == children and "--page-token" not in second.stderr
    one = sorted(children)[0]
    shown = await wl(cli_env, "tenants", "show", one)
    assert one in shown.stdout and "customer type: company" in shown.stdout
    assert json.loads((await wl(cli_env, "tenants", "get", one, "--output", "json")).stdout)["name"] == one
    me = await wl(cli_env, "users", "show", "me", "--output", "json")
    assert json.loads(me.stdout)["email"] == ADMIN_EMAIL
    users = await wl(cli_env, "users", "list", "--limit", "1", "--output", "json")
    assert len(json.loads(users.stdout)) == 1
    missing = await wl(cli_env, "users", "show", "users/NOPE", ok=False)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


async def test_readme_users_create_with_role_as_partner_admin(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 15: the README's `users create --role organization-member`, run by a partner admin at
    a customer's organization, works; a role it may not give leaves no half-made user behind."""
    roots = (await wl(cli_env, "tenants", "list", "--filter", "kind = OPERATOR")).stdout
    root = roots.splitlines()[2].split()[0]

    async def tenant(parent: str, kind: str, *extra: str) -> str:
        out = await wl(
            cli_env, "tenants", "create", "--parent", parent, "--kind", kind, "--name", unique(kind), *extra
        )
        return out.stdout.splitlines()[2].split()[0]

    partner = await tenant(root, "partner")
    org = await tenant(await tenant(partner, "customer", "--customer-type", "company"), "organization")
    admin_email = f"{unique('partner-admin')}@example.test"
    made = await wl(
        cli_env, "users", "create", "--tenant", partner, "--email", admin_email, "--name", "P",
        "--role", "partner-admin",
    )  # fmt: skip
    token = made.stdout.split("invitation token (one-time): ")[1].split()[0]
    await wl(cli_env, "users", "accept", token, "--password", "cli-password-1")
    env = {**cli_env, "WATTLANE_HOME": str(tmp_path / "partner")}
    await wl(env, "login", admin_email, "--password", "cli-password-1")
    member = f"{unique('new')}@example.test"
    await wl(
        env, "users", "create", "--tenant", org, "--email", member, "--name", "New",
        "--role", "organization-member",
    )  # fmt: skip
    assert "roles/organization-member" in (await wl(env, "roles", "bindings", "--tenant", org)).stdout
    other = f"{unique('new')}@example.test"
    refused = await wl(
        env, "users", "create", "--tenant", org, "--email", other, "--name", "Other",
        "--role", "organization-admin", ok=False,
    )  # fmt: skip
    assert "PERMISSION_DENIED" in refused.stderr
    # Nothing was left behind: the retry without that role is not ALREADY_EXISTS.
    await wl(env, "users", "create", "--tenant", org, "--email", other, "--name", "Other")


async def test_whoami_shows_an_allow_listed_members_restriction(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 15: a member restricted to one location sees that restriction in `whoami`, not the
    whole subtree."""
    roots = (await wl(cli_env, "tenants", "list", "--filter", "kind = OPERATOR")).stdout
    parent = roots.splitlines()[2].split()[0]
    for kind in ("partner", "customer", "organization"):
        extra = ["--customer-type", "company"] if kind == "customer" else []
        out = await wl(
            cli_env, "tenants", "create", "--parent", parent, "--kind", kind, "--name", unique(kind), *extra
        )
        parent = out.stdout.splitlines()[2].split()[0]
    email = f"{unique('restricted')}@example.test"
    made = await wl(cli_env, "users", "create", "--tenant", parent, "--email", email, "--name", "R")
    user = made.stdout.splitlines()[2].split()[0]
    token = made.stdout.split("invitation token (one-time): ")[1].split()[0]
    await wl(cli_env, "users", "accept", token, "--password", "cli-password-1")
    await wl(
        cli_env, "roles", "assign", "--user", user, "--role", "organization-member", "--tenant", parent,
        "--allow", "locations/L1", "--allow", "chargingPoints/CP9",
    )  # fmt: skip
    env = {**cli_env, "WATTLANE_HOME": str(tmp_path / "restricted")}
    await wl(env, "login", email, "--password", "cli-password-1")
    lines = (await wl(env, "whoami")).stdout.splitlines()
    rows = {line.split()[0]: line for line in lines if "." in line.split()[0]}
    assert "locations/L1" in rows["stations.read"] and "chargingPoints/CP9" in rows["stations.read"]
    assert "only" in rows["stations.read"]
