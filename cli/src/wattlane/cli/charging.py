"""The charging part of `wattlane up`: the CSMS process and the demo's simulated stations.

The CSMS takes station credentials and access decisions from assets (as in production): the
stations are the charging points the demo seeded in assets, each connecting with the
AuthorizationKey assets issued for it (kept in `station-keys.json`)."""

from __future__ import annotations

from pathlib import Path

from wattlane.cli.demo_assets import DemoStation
from wattlane.cli.stack import Child, Stack, python, wait_ready

HEARTBEAT_SECONDS = 10  # short, so the registry visibly moves while you look
# Every demo station with charging enabled runs a compressed day of charging sessions with the
# demo cards its site accepts (seeded: the same day every run): plug-in times busier at rush
# hour, random energy and parking time, at up to its power. At speed 60 a day takes 24 minutes.
SESSION_SPEED = 60
SESSION_SEED = 2026
SESSION_DELAY_SECONDS = 60  # the first one a minute after start: first see them all available
SESSION_STAGGER_SECONDS = 15  # then one station after another
RECONNECT_CAP_SECONDS = 30  # a station dropped (or displaced) retries at least this often


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
    """Start the demo stations: they boot, report Available, heartbeat, answer remote actions as
    real stations do, reconnect when dropped, and those with cards (charging enabled) charge
    through the (compressed) day with them. Each speaks the OCPP version it is registered with
    in assets; one simulator process per protocol, cards and power."""
    keys = data / "station-keys.json"
    groups: dict[tuple[str, tuple[str, ...], int], list[str]] = {}
    for station in stations:
        group = (f"ocpp{station.ocpp_version}", station.cards, station.max_power_w)
        groups.setdefault(group, []).append(station.identity)
    first = SESSION_DELAY_SECONDS
    for n, ((protocol, cards, power), members) in enumerate(sorted(groups.items())):
        argv = [python(), "-m", "wattlane.simulator", "--url", f"ws://127.0.0.1:{csms_port}/ocpp"]
        argv += ["--protocol", protocol, "--keys-file", str(keys), "--status", "Available"]
        argv += ["--reconnect-cap", str(RECONNECT_CAP_SECONDS)]
        for identity in members:
            argv += ["--identity", identity]
        if cards:
            for card in cards:
                argv += ["--session-card", card]
            argv += ["--session-power", str(power), "--session-speed", str(SESSION_SPEED)]
            argv += ["--session-seed", str(SESSION_SEED), "--session-delay", str(first)]
            argv += ["--session-stagger", str(SESSION_STAGGER_SECONDS)]
            first += SESSION_STAGGER_SECONDS * len(members)
        name = f"stations {n + 1} ({protocol}, {', '.join(members)})"
        log = data / "logs" / f"stations-{n + 1}-{protocol}.log"
        await stack.start(Child(name, argv, {}, log))


def banner(csms_port: int, grpc_port: int, metrics_port: int) -> list[tuple[str, str]]:
    """Rows for the `wattlane up` banner."""
    return [
        ("CSMS (OCPP-J)", f"ws://127.0.0.1:{csms_port}/ocpp/<identity>  (ocpp1.6, ocpp2.0.1; Basic auth)"),
        ("CSMS gRPC", f"127.0.0.1:{grpc_port}  (StationService; health, reflection)"),
        ("CSMS metrics", f"http://127.0.0.1:{metrics_port}/metrics  (/healthz, /readyz)"),
    ]
