"""`wattlane locations | points | connectors | cards | whitelists | settings | access` against the
session's real identity and assets services (the shared assets stack; the CLI runs as asyncio
subprocesses so the services in this event loop keep serving)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.cli.test_stations_commands import wl
from tests.support.assets import AssetsStack, Org, organization
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, TreeBuilder, unique


async def _signed_in(identity: IdentityService, stack: AssetsStack, home: Path) -> dict[str, str]:
    """An environment whose session was opened with the assets address given once, at login:
    later commands find it in the session (the variable is not passed again)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADDRESS")}
    env["WATTLANE_HOME"] = str(home)
    login_env = {
        **env,
        "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{identity.port}",
        "WATTLANE_ASSETS_ADDRESS": stack.target,
    }
    _, out, _ = await wl(login_env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    assert stack.target in out  # the stored addresses are shown
    stored = json.loads((home / "session.json").read_text())
    assert stored["assets"] == stack.target and stored["identity"] == f"127.0.0.1:{identity.port}"
    assert {"billing", "csms"} <= stored.keys()
    return env


def _created(out: str, collection: str) -> str:
    match = re.search(rf"created ({collection}/\w+)", out)
    assert match is not None, out
    return match.group(1)


def _refused(code: int, err: str, *expected: str) -> None:
    """A refused request: exit code 1, the server's status, message and field; no traceback."""
    assert code == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


async def test_locations_and_settings_round_trip(
    identity: IdentityService, assets_stack: AssetsStack, tree: TreeBuilder, tmp_path: Path
) -> None:
    org: Org = await organization(tree, assets_stack)
    plan = assets_stack.billing.add(f"tariffs/{unique('cli').lower()}", "/")
    env = await _signed_in(identity, assets_stack, tmp_path)
    _, out, _ = await wl(
        env, "locations", "create", "--parent", org.org.name, "--name", "Depot North",
        "--street", "Kade 1", "--city", "Amsterdam", "--country", "NL", "--access-mode", "whitelist",
    )  # fmt: skip
    name = _created(out, "locations")
    _, listed, _ = await wl(env, "locations", "list", "--parent", org.org.name)
    assert name in listed and "Depot North" in listed and "Amsterdam, NL" in listed
    _, as_json, _ = await wl(env, "locations", "list", "--parent", org.org.name, "--output", "json")
    assert [x["name"] for x in json.loads(as_json)] == [name]
    # Paging and filters: a second location, one per page, then only Amsterdam's.
    _, out, _ = await wl(
        env, "locations", "create", "--parent", org.org.name, "--name", "Yard", "--city", "Delft"
    )
    other = _created(out, "locations")
    _, first, more = await wl(env, "locations", "list", "--parent", org.org.name, "--limit", "1", "--json")
    assert [x["name"] for x in json.loads(first)] == [name]
    token = re.search(r"--page-token (\S+)\)", more)
    assert token is not None, more
    _, second, _ = await wl(
        env, "locations", "list", "--parent", org.org.name, "--limit", "1", "--page-token", token.group(1)
    )
    assert other in second and name not in second
    _, filtered, _ = await wl(
        env, "locations", "list", "--filter", 'city = "Delft"', "--parent", org.org.name
    )
    assert other in filtered and name not in filtered
    await wl(env, "locations", "delete", other)
    # Only the given field changes: the street stays when only the city is given.
    _, updated, _ = await wl(env, "locations", "update", name, "--city", "Utrecht")
    assert "(address)" in updated
    _, settings, _ = await wl(env, "settings", "set", org.org.name, "--rate-plan", plan)
    assert plan in settings
    _, shown, _ = await wl(env, "locations", "show", name)
    assert "address: Kade 1, Utrecht, NL" in shown
    # Each effective value with the level it came from.
    assert re.search(rf"rate plan\s+{plan}\s+organization\s+{org.org.name}", shown), shown
    assert re.search(rf"access mode\s+WHITELIST\s+location\s+{name}", shown), shown
    _, effective, _ = await wl(env, "settings", "show", name, "--json")
    assert json.loads(effective)["ratePlan"]["level"] == "ORGANIZATION"

    code, _, err = await wl(
        env,
        "locations",
        "create",
        "--parent",
        org.org.name,
        "--name",
        "Nowhere",
        "--latitude",
        "91",
        ok=False,
    )
    _refused(code, err, "INVALID_ARGUMENT", "location.latitude")
    code, _, err = await wl(env, "locations", "update", name, ok=False)
    assert code == 2 and "nothing to change" in err and "Traceback" not in err

    _, deleted, _ = await wl(env, "locations", "delete", name)
    assert f"deleted {name}" in deleted
    code, _, err = await wl(env, "locations", "show", name, ok=False)
    _refused(code, err, "NOT_FOUND")


async def test_points_connectors_cards_whitelists_and_access(
    identity: IdentityService, assets_stack: AssetsStack, tree: TreeBuilder, tmp_path: Path
) -> None:
    org: Org = await organization(tree, assets_stack)
    env = await _signed_in(identity, assets_stack, tmp_path)
    _, out, _ = await wl(
        env, "locations", "create", "--parent", org.org.name, "--name", "Yard", "--access-mode", "whitelist"
    )
    site = _created(out, "locations")
    ocpp = unique("CLI-CP").upper()
    _, out, _ = await wl(
        env, "points", "create", "--location", site, "--ocpp-identity", ocpp, "--current-type", "ac",
        "--max-power-w", "22000", "--onboarding", "pre-approved",
        "--charging-enabled",  # takes an AC license: only a licensed point accepts cards
    )  # fmt: skip
    point = _created(out, "chargingPoints")
    _, listed, _ = await wl(env, "points", "list", "--location", site)
    assert point in listed and ocpp in listed and "pre-approved" in listed
    _, updated, _ = await wl(env, "points", "update", point, "--alias", "Bay 3", "--access-mode", "open")
    assert "alias" in updated and "access_mode" in updated
    _, rotated, _ = await wl(env, "points", "rotate-key", point)
    assert re.search(r"\(shown only now\): \S{32}\n", rotated), rotated
    # Connected onboarding asks the CSMS, which this stack has not: the server's reason is shown.
    code, _, err = await wl(
        env, "points", "create", "--location", site, "--ocpp-identity", unique("CLI-CP").upper(),
        "--current-type", "ac", "--onboarding", "connected", ok=False,
    )  # fmt: skip
    _refused(code, err, "FAILED_PRECONDITION")

    _, out, _ = await wl(env, "connectors", "create", point, "--type", "type_2", "--max-power-w", "11000")
    connector = _created(out, "connectors")
    code, _, err = await wl(env, "connectors", "create", point, "--type", "ccs2", "--evse", "0", ok=False)
    _refused(code, err, "INVALID_ARGUMENT", "connector.evse_id")
    _, shown, _ = await wl(env, "points", "show", ocpp)  # by the station's OCPP identity too
    assert (
        f"{point}: {ocpp} (Bay 3)" in shown
        and connector in shown
        and "TYPE_2" in shown
        and "authorization key set" in shown
    )
    assert re.search(rf"access mode\s+OPEN\s+charging point\s+{point}", shown), shown
    _, as_json, _ = await wl(env, "points", "show", point, "--output", "json")
    parts = json.loads(as_json)
    assert parts["chargingPoint"]["alias"] == "Bay 3" and parts["connectors"][0]["name"] == connector
    assert parts["effectiveSettings"]["accessMode"]["level"] == "CHARGING_POINT"

    uid = unique("CLI").upper()[:20]
    _, out, _ = await wl(
        env, "cards", "create", "--user", org.admin.user.name, "--uid", uid, "--label", "keys"
    )
    card = _created(out, "cards")
    _, listed, _ = await wl(env, "cards", "list", "--user", org.admin.user.name)
    assert card in listed and uid in listed
    _, updated, _ = await wl(env, "cards", "update", card, "--label", "keyring")
    assert "(label)" in updated
    _, shown, _ = await wl(env, "cards", "show", card, "--json")
    assert json.loads(shown)["label"] == "keyring"
    code, _, err = await wl(
        env, "cards", "create", "--user", org.admin.user.name, "--uid", "no spaces", ok=False
    )
    _refused(code, err, "INVALID_ARGUMENT", "card.uid")

    # The point uses the location's whitelist again: not listed, then listed.
    await wl(env, "points", "update", point, "--inherit-access-mode")
    code, explained, _ = await wl(env, "access", "explain", ocpp, uid)
    assert f"card {uid} at {point}: invalid" in explained and "why:" in explained
    _, out, _ = await wl(env, "whitelists", "add", org.org.name, "--card", card)
    entry = _created(out, "whitelistEntries")
    _, listed, _ = await wl(env, "whitelists", "list", org.org.name)
    assert entry in listed and card in listed
    _, explained, _ = await wl(env, "access", "explain", point, uid, "--output", "json")
    assert json.loads(explained)["status"] == "ACCEPTED"
    await wl(env, "whitelists", "remove", entry)

    await wl(env, "connectors", "delete", connector)
    await wl(env, "cards", "delete", card)
    _, deleted, _ = await wl(env, "points", "delete", point)
    assert f"deleted {point}" in deleted
    _, listed, _ = await wl(env, "points", "list", "--location", site, "--json")
    assert json.loads(listed) == []
    await wl(env, "locations", "delete", site)


async def test_a_session_without_a_reachable_service_says_where_it_looked(
    identity: IdentityService, tmp_path: Path
) -> None:
    """A session opened for a `--base-port` stack talks to that stack's addresses only."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADDRESS")}
    env["WATTLANE_HOME"] = str(tmp_path)
    base = identity.port - 2  # that stack's identity is the running one; its assets are not there
    await wl(env, "login", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, "--base-port", str(base))
    stored = json.loads((tmp_path / "session.json").read_text())
    assert stored["identity"] == f"127.0.0.1:{base + 2}"
    assert stored["csms"] == f"127.0.0.1:{base + 6}" and stored["assets"] == f"127.0.0.1:{base + 7}"
    assert stored["billing"] == f"127.0.0.1:{base + 11}"
    code, _, err = await wl(env, "locations", "list", ok=False)
    assert code == 3 and "UNAVAILABLE" in err and f"assets 127.0.0.1:{base + 7}" in err, err
    assert "Traceback" not in err
