"""Real Wattlane processes for cross-service tests: each started as production starts it
(`python -m wattlane.<svc> serve`, configured only through `WATTLANE_<SVC>_*`), watched through
its side port (`/readyz`), stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wattlane.cli.stack import Child, Stack, python, wait_ready
from wattlane.contracts.scopes import SERVICE_ACCOUNTS
from wattlane.core.testing.temporal import venv_bin

ADMIN_EMAIL = "admin@wattlane.test"
ADMIN_PASSWORD = "admin-password-1"
# argon2 at its cheapest: tests create many users (production cost is the settings default).
FAST_HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8", "ARGON2_PARALLELISM": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """(status, body) of GET http://127.0.0.1:port/path; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def service_accounts(directory: Path) -> tuple[Path, dict[str, str]]:
    """The file identity reads its internal service accounts from (scopes from contracts), and
    each account's secret."""
    secret = {name: secrets.token_urlsafe(24) for name in SERVICE_ACCOUNTS}
    path = directory / "service-accounts.json"
    path.write_text(
        json.dumps(
            [
                {"service": name, "secret": secret[name], "scopes": list(s)}
                for name, s in SERVICE_ACCOUNTS.items()
            ]
        )
    )
    return path, secret


@dataclass
class Process:
    """One running Wattlane process and its ports."""

    name: str  # identity, billing, assets, csms, worker
    env: dict[str, str]
    side_port: int
    grpc_port: int = 0  # 0: serves no gRPC (the worker)
    child: Child | None = None

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def argv(self, command: str = "serve") -> list[str]:
        return [python(), "-m", f"wattlane.{'workflows' if self.name == 'worker' else self.name}", command]

    async def start(self, stack: Stack, logs: Path, timeout: float = 90.0) -> None:
        self.child = Child(self.name, self.argv(), self.env, logs / f"{self.name}.log")
        await stack.start(self.child)
        await wait_ready(self.child, self.side_port, timeout)

    def signal(self, sig: signal.Signals) -> None:
        assert self.child is not None and self.child.process is not None
        self.child.process.send_signal(sig)


def common_env(prefix: str, side_port: int) -> dict[str, str]:
    return {
        f"WATTLANE_{prefix}_METRICS_PORT": str(side_port),
        f"WATTLANE_{prefix}_LOG_JSON": "true",
        f"WATTLANE_{prefix}_DRAIN_SECONDS": "0.5",
    }


@dataclass
class RealStack:
    """Temporal dev server, an SMTP sink, identity, billing, assets, the CSMS and the worker as
    real processes."""

    directory: Path
    databases: Mapping[str, str]  # service -> database URL
    stack: Stack = field(default_factory=Stack)
    processes: dict[str, Process] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    temporal_port: int = 0
    smtp_port: int = 0

    @property
    def mail_directory(self) -> Path:
        """Where the SMTP sink writes every mail it receives (one .eml file each)."""
        return self.directory / "mail"

    def __getitem__(self, name: str) -> Process:
        return self.processes[name]

    async def start(self) -> None:
        logs = self.directory / "logs"
        accounts, self.secrets = service_accounts(self.directory)
        self.temporal_port = free_port()
        temporal = Child(
            "temporal",
            [
                venv_bin("temporal"),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.temporal_port),
                "--db-filename",
                str(self.directory / "temporal.db"),
                "--log-level",
                "warn",
            ],
            {},
            logs / "temporal.log",
        )
        await self.stack.start(temporal)
        self.smtp_port = free_port()
        mail = Child(
            "mail sink",
            [
                python(),
                "-m",
                "wattlane.workflows.mail.sink",
                "--port",
                str(self.smtp_port),
                "--dir",
                str(self.mail_directory),
            ],
            {},
            logs / "mail.log",
        )
        await self.stack.start(mail)
        await self.stack.wait_port(temporal, self.temporal_port)
        await self.stack.wait_port(mail, self.smtp_port)
        temporal_address = f"127.0.0.1:{self.temporal_port}"

        identity = Process("identity", {}, free_port(), free_port())
        identity.env = {
            **common_env("IDENTITY", identity.side_port),
            "WATTLANE_IDENTITY_DATABASE_URL": self.databases["identity"],
            "WATTLANE_IDENTITY_PORT": str(identity.grpc_port),
            "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "WATTLANE_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "WATTLANE_IDENTITY_SERVICE_ACCOUNTS_FILE": str(accounts),
            "WATTLANE_IDENTITY_TEMPORAL_ADDRESS": temporal_address,
            **{f"WATTLANE_IDENTITY_{k}": v for k, v in FAST_HASHING.items()},
        }
        await self._start(identity, logs)

        # Billing: tariffs (assets' rate plans resolve there), charge records of completed
        # transactions read from the CSMS (started after it; asked only when a handoff runs).
        csms_grpc_port = free_port()
        billing = Process("billing", {}, free_port(), free_port())
        billing.env = {
            **common_env("BILLING", billing.side_port),
            "WATTLANE_BILLING_DATABASE_URL": self.databases["billing"],
            "WATTLANE_BILLING_PORT": str(billing.grpc_port),
            "WATTLANE_BILLING_IDENTITY_ADDRESS": identity.grpc,
            "WATTLANE_BILLING_CSMS_ADDRESS": f"127.0.0.1:{csms_grpc_port}",
            "WATTLANE_BILLING_CLIENT_ID": "billing",
            "WATTLANE_BILLING_CLIENT_SECRET": self.secrets["billing"],
        }
        await self._start(billing, logs)

        assets = Process("assets", {}, free_port(), free_port())
        assets.env = {
            **common_env("ASSETS", assets.side_port),
            "WATTLANE_ASSETS_DATABASE_URL": self.databases["assets"],
            "WATTLANE_ASSETS_PORT": str(assets.grpc_port),
            "WATTLANE_ASSETS_IDENTITY_ADDRESS": identity.grpc,
            "WATTLANE_ASSETS_CLIENT_ID": "assets",
            "WATTLANE_ASSETS_CLIENT_SECRET": self.secrets["assets"],
            "WATTLANE_ASSETS_BILLING_ADDRESS": billing.grpc,
        }
        await self._start(assets, logs)

        # The CSMS: stations' credentials and access from assets, handoffs through Temporal.
        csms = Process("csms", {}, free_port(), csms_grpc_port)
        csms.env = {
            **common_env("CSMS", csms.side_port),
            "WATTLANE_CSMS_DATABASE_URL": self.databases["csms"],
            "WATTLANE_CSMS_PORT": str(free_port()),  # the stations' WebSocket (see `ws_url`)
            "WATTLANE_CSMS_GRPC_PORT": str(csms.grpc_port),
            "WATTLANE_CSMS_PROCESS_ID": "csms-e2e",
            "WATTLANE_CSMS_IDENTITY_ADDRESS": identity.grpc,
            "WATTLANE_CSMS_ASSETS_ADDRESS": assets.grpc,
            "WATTLANE_CSMS_CLIENT_ID": "csms",
            "WATTLANE_CSMS_CLIENT_SECRET": self.secrets["csms"],
            "WATTLANE_CSMS_TEMPORAL_ADDRESS": temporal_address,
            "WATTLANE_CSMS_BILLING_ADDRESS": billing.grpc,  # costs shown on stations
            "WATTLANE_CSMS_CAMPAIGN_POLL_SECONDS": "1",  # campaigns look at progress every second
        }
        await self._start(csms, logs)

        # The worker: identity's workflows and the handoffs (charge record, then delivery).
        worker = Process("worker", {}, free_port())
        worker.env = {
            **common_env("WORKER", worker.side_port),
            "WATTLANE_WORKER_TEMPORAL_ADDRESS": temporal_address,
            "WATTLANE_WORKER_IDENTITY_ADDRESS": identity.grpc,
            "WATTLANE_WORKER_CLIENT_ID": "worker",
            "WATTLANE_WORKER_CLIENT_SECRET": self.secrets["worker"],
            "WATTLANE_WORKER_CSMS_ADDRESS": csms.grpc,
            "WATTLANE_WORKER_BILLING_ADDRESS": billing.grpc,
            "WATTLANE_WORKER_SMTP_PORT": str(self.smtp_port),
        }
        await self._start(worker, logs)

    async def _start(self, process: Process, logs: Path) -> None:
        self.processes[process.name] = process
        await process.start(self.stack, logs)

    async def stop(self) -> None:
        await self.stack.stop()


def ws_url(csms: Process) -> str:
    """Where the CSMS process takes station connections (a station appends `/<identity>`)."""
    return f"ws://127.0.0.1:{csms.env['WATTLANE_CSMS_PORT']}/ocpp"


def environment_without_wattlane() -> dict[str, str]:
    """The test runner's environment minus any WATTLANE_* variable (a clean process)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WATTLANE_")}
