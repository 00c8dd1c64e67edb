"""An example for `wattlane --help` and for each command's help (shown under "example:"), kept
in one table so every command has one (a test checks)."""

from __future__ import annotations

import argparse

EXAMPLES: dict[str, str] = {
    "": """  wattlane up                                     # the local platform, with a demo tree
  wattlane login admin@acme.example               # signs in; stores every service address
  wattlane locations list --output json           # JSON for scripts, tables for people
  wattlane access explain ACME-AMS-01 04A1B2C3D4  # would this card be accepted here? why not?
  source <(wattlane completion bash)              # shell completion""",
    "up": "wattlane up --base-port 20000 --data-dir /tmp/stack2",
    "login": "wattlane login admin@acme.example --base-port 20000",
    "logout": "wattlane logout",
    "whoami": "wattlane whoami",
    "completion": "source <(wattlane completion bash)",
    "tenants list": 'wattlane tenants list --parent tenants/01J0PARTNER --filter "kind = CUSTOMER"',
    "tenants show": "wattlane tenants show tenants/01J0CUSTOMER",
    "tenants get": "wattlane tenants show tenants/01J0CUSTOMER",  # get: show's older name
    "tenants create": "wattlane tenants create --parent tenants/01J0CUSTOMER --kind organization --name D",
    "tenants update": 'wattlane tenants update tenants/01J0ORG --name "Depot North"',
    "tenants delete": "wattlane tenants delete tenants/01J0ORG",
    "users list": 'wattlane users list --parent tenants/01J0CUSTOMER --filter "state = ACTIVE"',
    "users show": "wattlane users show me",
    "users get": "wattlane users show me",  # get: show's older name
    "users create": (
        "wattlane users create --tenant tenants/01J0CUSTOMER --email ann@acme.example "
        '--name "Ann Smit" --role organization-admin'
    ),
    "users invite": "wattlane users invite users/01J0USER --mail",
    "users forgot-password": "wattlane users forgot-password ann@acme.example",
    "users reset-password": "wattlane users reset-password TOKEN_FROM_THE_MAIL",
    "users accept": "wattlane users accept TOKEN_FROM_THE_INVITATION",
    "users disable": "wattlane users disable users/01J0USER",
    "users enable": "wattlane users enable users/01J0USER",
    "users delete": "wattlane users delete users/01J0USER",
    "employees create": (
        "wattlane employees create --organization tenants/01J0ORG --email bo@acme.example "
        '--name "Bo Jansen" --home-organization'
    ),
    "employees list": "wattlane employees list tenants/01J0ORG --output json",
    "roles permissions": "wattlane roles permissions",
    "roles list": "wattlane roles list --tenant tenants/01J0CUSTOMER",
    "roles create": (
        "wattlane roles create --tenant tenants/01J0CUSTOMER --name Support "
        "--permission stations.read --permission cards.read"
    ),
    "roles update": "wattlane roles update roles/01J0ROLE --permission stations.read --permission cards.read",
    "roles delete": "wattlane roles delete roles/01J0ROLE",
    "roles assign": (
        "wattlane roles assign --user users/01J0USER --role roles/station-operator --tenant tenants/01J0ORG"
    ),
    "roles bindings": "wattlane roles bindings --tenant tenants/01J0ORG",
    "roles unassign": "wattlane roles unassign roleBindings/01J0BINDING",
    "applications list": "wattlane applications list --kind create_account",
    "applications show": "wattlane applications show applications/01J0APP",
    "applications create": (
        "wattlane applications create --customer tenants/01J0CUSTOMER --kind change_datapoints "
        "--account accounts/01J0ACCOUNT --datapoints 40"
    ),
    "applications plans": "wattlane applications plans",
    "applications approve": "wattlane applications approve applications/01J0APP",
    "applications reject": 'wattlane applications reject applications/01J0APP --reason "duplicate"',
    "accounts list": "wattlane accounts list",
    "licenses buy": "wattlane licenses buy --organization tenants/01J0ORG --type ac_charging --quantity 5",
    "licenses pools": "wattlane licenses pools --organization tenants/01J0ORG",
    "locations list": "wattlane locations list --parent tenants/01J0ORG --filter 'city = \"Amsterdam\"'",
    "locations show": "wattlane locations show locations/01J0LOCATION",
    "locations create": (
        'wattlane locations create --parent tenants/01J0ORG --name "Depot North" --city Amsterdam '
        "--country NL --access-mode whitelist"
    ),
    "locations update": "wattlane locations update locations/01J0LOCATION --city Utrecht",
    "locations delete": "wattlane locations delete locations/01J0LOCATION",
    "points list": "wattlane points list --location locations/01J0LOCATION --filter 'current_type = DC'",
    "points show": "wattlane points show ACME-AMS-01",
    "points create": (
        "wattlane points create --location locations/01J0LOCATION --ocpp-identity ACME-AMS-09 "
        "--current-type ac --max-power-w 22000 --onboarding pre-approved"
    ),
    "points update": "wattlane points update chargingPoints/01J0POINT --alias 'Bay 3' --inherit-access-mode",
    "points delete": "wattlane points delete chargingPoints/01J0POINT",
    "points rotate-key": "wattlane points rotate-key chargingPoints/01J0POINT",
    "connectors list": "wattlane connectors list chargingPoints/01J0POINT",
    "connectors create": "wattlane connectors create chargingPoints/01J0POINT --connector 2 --type type_2",
    "connectors delete": "wattlane connectors delete connectors/01J0CONNECTOR",
    "cards list": "wattlane cards list --parent tenants/01J0CUSTOMER --filter 'blocked = true'",
    "cards show": "wattlane cards show cards/01J0CARD",
    "cards create": "wattlane cards create --user users/01J0USER --uid 04A1B2C3D4 --label 'Ann, keyring'",
    "cards update": "wattlane cards update cards/01J0CARD --blocked",
    "cards delete": "wattlane cards delete cards/01J0CARD",
    "whitelists list": "wattlane whitelists list tenants/01J0ORG",
    "whitelists add": "wattlane whitelists add tenants/01J0ORG --card cards/01J0CARD",
    "whitelists remove": "wattlane whitelists remove whitelistEntries/01J0ENTRY",
    "settings show": "wattlane settings show chargingPoints/01J0POINT",
    "settings set": "wattlane settings set tenants/01J0ORG --rate-plan tariffs/01J0TARIFF",
    "access explain": "wattlane access explain ACME-AMS-01 04A1B2C3D4",
    "stations list": "wattlane stations list --filter 'online = true'",
    "stations show": "wattlane stations show ACME-AMS-01",
    "stations log": "wattlane stations log ACME-AMS-01 --action StatusNotification --limit 20",
    "stations status": "wattlane stations status ACME-AMS-01 --connector 1",
    "stations reset": "wattlane stations reset ACME-AMS-01 --hard",
    "stations unlock": "wattlane stations unlock ACME-AMS-01 --connector 1",
    "stations start": "wattlane stations start ACME-AMS-01 --connector 1 --card 04A1B2C3D4",
    "stations stop": "wattlane stations stop ACME-AMS-01 --transaction 42",
    "stations availability": "wattlane stations availability ACME-AMS-01 off --connector 2",
    "stations config": "wattlane stations config ACME-AMS-01 HeartbeatInterval=300",
    "stations variables": "wattlane stations variables ACME-AMS-02 OCPPCommCtrlr.HeartbeatInterval",
    "stations firmware": "wattlane stations firmware ACME-AMS-01 https://firmware.example/fw-2.1.bin",
    "stations diagnostics": "wattlane stations diagnostics ACME-AMS-01 https://upload.example/diag",
    "stations limit": "wattlane stations limit ACME-AMS-01 11000 --connector 1",
    "stations commands": "wattlane stations commands ACME-AMS-01 --filter 'state = \"REJECTED\"'",
    "firmware campaigns create": (
        "wattlane firmware campaigns create --version 2.1.0 --location https://firmware.example/fw-2.1.bin "
        "--subtree tenants/01J0ORG --canary 2 --waves 50,50 --gate-percent 95"
    ),
    "firmware campaigns list": 'wattlane firmware campaigns list --filter "state = RUNNING"',
    "firmware campaigns show": "wattlane firmware campaigns show campaigns/01J0CAMPAIGN --watch",
    "firmware campaigns pause": (
        'wattlane firmware campaigns pause campaigns/01J0CAMPAIGN --reason "support calls"'
    ),
    "firmware campaigns resume": (
        'wattlane firmware campaigns resume campaigns/01J0CAMPAIGN --reason "canary checked on site"'
    ),
    "firmware campaigns cancel": (
        'wattlane firmware campaigns cancel campaigns/01J0CAMPAIGN --reason "wrong image"'
    ),
    "tariffs list": "wattlane tariffs list --parent tenants/01J0ORG",
    "tariffs show": "wattlane tariffs show tariffs/01J0TARIFF --versions",
    "tariffs create": (
        "wattlane tariffs create --parent tenants/01J0ORG --display-name Standard --currency EUR "
        "--energy 0.30 --vat 21"
    ),
    "tariffs update": "wattlane tariffs update tariffs/01J0TARIFF --energy 0.32",
    "tariffs price": (
        "wattlane tariffs price tariffs/01J0TARIFF --energy-kwh 22 --start 17:40 --stop 21:10 --on sunday"
    ),
    "invoices list": "wattlane invoices list --state finalized --output json",
    "invoices show": "wattlane invoices show invoices/01J0INVOICE",
    "invoices finalize": "wattlane invoices finalize invoices/01J0INVOICE",
    "invoices pdf": "wattlane invoices pdf invoices/01J0INVOICE -o invoice.pdf",
    "invoices csv": "wattlane invoices csv invoices/01J0INVOICE -o lines.csv",
    "invoices credit": 'wattlane invoices credit invoices/01J0INVOICE --line 1:2.5 --reason "meter error"',
    "invoices mark-paid": "wattlane invoices mark-paid invoices/01J0INVOICE --reference INV-2026-000042",
    "invoices import-payments": "wattlane invoices import-payments bank.csv --issuer tenants/01J0PARTNER",
    "settlements run": (
        "wattlane settlements run --issuer tenants/01J0OP --month 2026-11 --time-zone Europe/Brussels"
    ),
    "settlements status": "wattlane settlements status --issuer tenants/01J0OP --month 2026-11 --output json",
    "transactions list": "wattlane transactions list --filter 'station = \"stations/ACME-AMS-01\"'",
    "transactions show": "wattlane transactions show transactions/01J0TRANSACTION",
    "transactions export": "wattlane transactions export --parent tenants/01J0ORG -o sessions.csv",
}


def leaves(root: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every runnable command, by its words after `wattlane` (e.g. "points rotate-key")."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[path] = parser
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, f"{path} {name}".strip())

    walk(root, "")
    return found


def add_examples(root: argparse.ArgumentParser) -> None:
    """Put each command's example under its help."""
    for path, parser in leaves(root).items():
        if path in EXAMPLES:
            example = EXAMPLES[path]
            parser.epilog = f"example:\n  {example}"
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
