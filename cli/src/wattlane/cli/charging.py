"""The charging part of `wattlane up`: the CSMS process and a handful of simulated stations.

The stations are known to the CSMS through static demo credentials for now (one shared key for
identities `DEMO-<n>`, owned by a demo organization); once assets runs in the local stack, the
CSMS takes credentials from assets instead (WATTLANE_CSMS_ASSETS_ADDRESS)."""

from __future__ import annotations

from pathlib import Path

from wattlane.api.identity.v1 import tenants_pb2
from wattlane.cli.stack import Child, Stack, python

DEMO_STATION_PASSWORD = "wattlane-demo-station-key"  # 25 bytes: a valid AuthorizationKey length
DEMO_STATION_PATTERN = r"DEMO-\d+"
HEARTBEAT_SECONDS = 10  # short, so the registry visibly moves while you look
# (protocol, first n, count): DEMO-1..3 speak OCPP 1.6, DEMO-4..5 OCPP 2.0.1.
FLEETS = (("ocpp1.6", 1, 3), ("ocpp2.0.1", 4, 2))


def demo_identities() -> list[str]:
    """The identities of the simulated stations."""
    return [f"DEMO-{n}" for _, start, count in FLEETS for n in range(start, start + count)]


async def start_csms(
    stack: Stack,
    data: Path,
    *,
    port: int,
    grpc_port: int,
    identity_port: int,
    owner: tenants_pb2.Tenant | None,
    temporal_port: int | None = None,
) -> None:
    """Start the CSMS on a SQLite file, its API trusting identity, completed transactions handed
    on through Temporal (when given); wait until it is healthy."""
    env = {
        "WATTLANE_CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'csms.db'}",
        "WATTLANE_CSMS_PORT": str(port),
        "WATTLANE_CSMS_GRPC_PORT": str(grpc_port),
        "WATTLANE_CSMS_IDENTITY_ADDRESS": f"127.0.0.1:{identity_port}",
        "WATTLANE_CSMS_PROCESS_ID": "csms-local",
        "WATTLANE_CSMS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}" if temporal_port else "",
        "WATTLANE_CSMS_HEARTBEAT_INTERVAL": str(HEARTBEAT_SECONDS),
        "WATTLANE_CSMS_DEMO_PATTERN": DEMO_STATION_PATTERN,
        "WATTLANE_CSMS_DEMO_PASSWORD": DEMO_STATION_PASSWORD,
    }
    if owner is not None:
        env["WATTLANE_CSMS_DEMO_OWNER"] = owner.name.removeprefix("tenants/")
        env["WATTLANE_CSMS_DEMO_OWNER_PATH"] = owner.path
    csms = Child("csms", [python(), "-m", "wattlane.csms"], env, data / "logs" / "csms.log")
    await stack.start(csms)
    await stack.wait_grpc_healthy(csms, grpc_port)


async def start_stations(stack: Stack, data: Path, *, csms_port: int) -> None:
    """Start the simulated fleets (they boot, report Available and heartbeat)."""
    for protocol, start, count in FLEETS:
        argv = [
            python(),
            "-m",
            "wattlane.simulator",
            "--url",
            f"ws://127.0.0.1:{csms_port}/ocpp",
            "--protocol",
            protocol,
            "--prefix",
            "DEMO-",
            "--start",
            str(start),
            "--count",
            str(count),
            "--password",
            DEMO_STATION_PASSWORD,
        ]
        name = f"stations ({protocol})"
        await stack.start(Child(name, argv, {}, data / "logs" / f"stations-{protocol}.log"))


def banner(csms_port: int, grpc_port: int) -> list[tuple[str, str]]:
    """Rows for the `wattlane up` banner."""
    return [
        ("CSMS (OCPP-J)", f"ws://127.0.0.1:{csms_port}/ocpp/<identity>  (ocpp1.6, ocpp2.0.1; Basic auth)"),
        ("CSMS gRPC", f"127.0.0.1:{grpc_port}  (StationService; health, reflection)"),
        ("simulated stations", f"{', '.join(demo_identities())}  (key {DEMO_STATION_PASSWORD})"),
    ]
