"""The charging part of `wattlane up`: the CSMS process and the demo's simulated stations.

The CSMS takes station credentials and access decisions from assets (as in production): the
stations are the charging points the demo seeded in assets, each connecting with the
AuthorizationKey assets issued for it (kept in `station-keys.json`)."""

from __future__ import annotations

from pathlib import Path

from wattlane.cli.demo_assets import DemoStation
from wattlane.cli.stack import Child, Stack, python, wait_ready

HEARTBEAT_SECONDS = 10  # short, so the registry visibly moves while you look
# Demo stations that run charging sessions by themselves, and with which card (Dirk's card, on
# Amsterdam HQ's whitelist): their completed transactions become priced charge records.
SESSIONS = {"ACME-AMS-01": "04A1B2C3D4E5F6", "ACME-AMS-DC1": "04A1B2C3D4E5F6"}
SESSION_EVERY_SECONDS = 180
SESSION_DELAY_SECONDS = 60  # the first one a minute after start: first see them all available


async def start_csms(
    stack: Stack,
    data: Path,
    *,
    port: int,
    grpc_port: int,
    metrics_port: int,
    identity_port: int,
    assets_port: int,
    client_secret: str,
    temporal_port: int | None = None,
    billing_port: int | None = None,
) -> None:
    """Start the CSMS on a SQLite file, with assets as its station directory and completed
    transactions handed on through Temporal (when given); wait until its side port says ready."""
    env = {
        "WATTLANE_CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'csms.db'}",
        "WATTLANE_CSMS_PORT": str(port),
        "WATTLANE_CSMS_GRPC_PORT": str(grpc_port),
        "WATTLANE_CSMS_METRICS_PORT": str(metrics_port),
        "WATTLANE_CSMS_IDENTITY_ADDRESS": f"127.0.0.1:{identity_port}",
        "WATTLANE_CSMS_ASSETS_ADDRESS": f"127.0.0.1:{assets_port}",
        "WATTLANE_CSMS_CLIENT_ID": "csms",
        "WATTLANE_CSMS_CLIENT_SECRET": client_secret,
        "WATTLANE_CSMS_PROCESS_ID": "csms-local",
        "WATTLANE_CSMS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}" if temporal_port else "",
        "WATTLANE_CSMS_HEARTBEAT_INTERVAL": str(HEARTBEAT_SECONDS),
        # Running and final costs shown on the stations, priced by billing.
        "WATTLANE_CSMS_BILLING_ADDRESS": f"127.0.0.1:{billing_port}" if billing_port else "",
    }
    csms = Child("csms", [python(), "-m", "wattlane.csms"], env, data / "logs" / "csms.log")
    await stack.start(csms)
    await wait_ready(csms, metrics_port)


async def start_stations(stack: Stack, data: Path, stations: list[DemoStation], *, csms_port: int) -> None:
    """Start the demo stations (they boot, report Available and heartbeat; those in SESSIONS
    charge now and then), one simulator process per protocol and card; each speaks the OCPP
    version it is registered with in assets."""
    keys = data / "station-keys.json"
    groups: dict[tuple[str, str], list[str]] = {}
    for station in stations:
        protocol = f"ocpp{station.ocpp_version}"
        groups.setdefault((protocol, SESSIONS.get(station.identity, "")), []).append(station.identity)
    for (protocol, card), members in sorted(groups.items()):
        argv = [python(), "-m", "wattlane.simulator", "--url", f"ws://127.0.0.1:{csms_port}/ocpp"]
        argv += ["--protocol", protocol, "--keys-file", str(keys), "--status", "Available"]
        for identity in members:
            argv += ["--identity", identity]
        name, log = f"stations ({protocol})", f"stations-{protocol}.log"
        if card:
            argv += ["--session-card", card, "--session-every", str(SESSION_EVERY_SECONDS)]
            argv += ["--session-delay", str(SESSION_DELAY_SECONDS)]
            name, log = f"charging stations ({protocol})", f"stations-{protocol}-charging.log"
        await stack.start(Child(name, argv, {}, data / "logs" / log))


def banner(csms_port: int, grpc_port: int, metrics_port: int) -> list[tuple[str, str]]:
    """Rows for the `wattlane up` banner."""
    return [
        ("CSMS (OCPP-J)", f"ws://127.0.0.1:{csms_port}/ocpp/<identity>  (ocpp1.6, ocpp2.0.1; Basic auth)"),
        ("CSMS gRPC", f"127.0.0.1:{grpc_port}  (StationService; health, reflection)"),
        ("CSMS metrics", f"http://127.0.0.1:{metrics_port}/metrics  (/healthz, /readyz)"),
    ]
