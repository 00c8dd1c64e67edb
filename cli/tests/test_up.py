"""`wattlane up` as a user runs it: real processes, real ports, Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.cli.stack import port_is_free
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.identity import IdentityClient

WATTLANE = str(Path(sys.executable).parent / "wattlane")


def free_base_port(span: int = 14) -> int:
    """A base port with `span` free ports after it, below Linux's ephemeral range (32768+), so
    that ports other processes get from the kernel (Temporal's internal services, test servers)
    cannot land in it between this check and the stack binding it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - span)
        if all(port_is_free(base + i) for i in range(span)):
            return base
    raise RuntimeError("no free port range")


class LineReader:
    """Reads a process's output on a thread, so waiting for a line can time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.queue.put(line)
        self.queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> list[str]:
        """Lines up to and including the first matching one; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("timed out; output so far:\n" + "".join(self.seen)) from None
            if line is None:
                raise AssertionError("process ended; output:\n" + "".join(self.seen))
            self.seen.append(line)
            if predicate(line):
                return list(self.seen)


async def _registered_versions(identity: str, assets: str) -> dict[str, str]:
    """Every charging point's OCPP version as assets has it registered (seen by the operator)."""
    admin = await IdentityClient(identity, max_attempts=4).login("admin@wattlane.local", "wattlane-demo")
    client = AssetsClient(assets, admin.token, max_attempts=4)
    try:
        page = await client.charging_points.ListChargingPoints(
            cp_pb2.ListChargingPointsRequest(page_size=100)
        )
        return {p.ocpp_identity: p.ocpp_version for p in page.charging_points}
    finally:
        await client.close()
        await admin.close()


def test_up_starts_seeds_prints_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    base = free_base_port()
    proc = subprocess.Popen(
        [
            WATTLANE,
            "up",
            "--data-dir",
            str(tmp_path / "data"),
            "--base-port",
            str(base),
            "--headless",
            "--observe",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "WATTLANE_HOME": str(tmp_path / "home")},
    )
    lines = LineReader(proc)
    try:
        output = lines.wait_for(lambda line: "Press Ctrl-C" in line, 150)
        text = "".join(output)
        assert "Wattlane is running." in text, text
        for login in (
            "admin@wattlane.local",
            "cs@wattlane.local",
            "admin@voltera.example",
            "eva@acme.example",
            "driver@acme.example",
            "member@acme.example",
        ):
            assert login in text
        assert not port_is_free(base + 2)  # identity is listening
        assert re.search(r"ACME-AMS-01\s+\S{32}", text), text  # a demo station with its key
        assert "04A1B2C3D4E5F6" in text  # a demo card

        # The banner says how to point the CLI at this stack, exactly.
        assert f"wattlane login EMAIL --base-port {base}" in text
        assert f"export WATTLANE_CSMS_ADDRESS=127.0.0.1:{base + 6}" in text
        assert f"export WATTLANE_ASSETS_ADDRESS=127.0.0.1:{base + 7}" in text

        # The CLI works against the running stack: `login --base-port` stores every service
        # address of it, so later commands (the CSMS's too) talk to this stack, not the default ports.
        env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("_ADDRESS")},
            "WATTLANE_HOME": str(tmp_path / "home"),
        }
        subprocess.run(
            [
                WATTLANE,
                "login",
                "admin@voltera.example",
                "--password",
                "wattlane-demo",
                "--base-port",
                str(base),
            ],
            env=env,
            check=True,
        )
        tenants = subprocess.run(
            [WATTLANE, "tenants", "list"], env=env, check=True, capture_output=True, text=True
        )
        assert "Voltera Installers" in tenants.stdout and "Acme Logistics" in tenants.stdout
        assert "ChargeCo" not in tenants.stdout and "Globex" not in tenants.stdout  # a sibling partner's tree

        # The stations seeded in assets connect with the keys assets issued, boot and heartbeat;
        # their partner sees them online in the CSMS, and not the other partner's (GLOBEX-LON-01).
        assert f"ws://127.0.0.1:{base + 5}/ocpp/<identity>" in text
        deadline = time.monotonic() + 60
        while True:
            listed = subprocess.run(
                [WATTLANE, "stations", "list"], env=env, check=True, capture_output=True, text=True
            )
            online = re.findall(r"^([A-Z0-9-]+)\s+online\s+available\s", listed.stdout, re.MULTILINE)
            if sorted(online) == ["ACME-AMS-01", "ACME-AMS-02", "ACME-AMS-DC1", "ACME-UTR-01"]:
                break
            assert time.monotonic() < deadline, listed.stdout
            time.sleep(0.5)
        # Each station is registered in assets with the OCPP version it connects with.
        spoken = dict(re.findall(r"^([A-Z0-9-]+)\s+online\s+\S+\s+ocpp(\S+)\s", listed.stdout, re.MULTILINE))
        registered = asyncio.run(_registered_versions(f"127.0.0.1:{base + 2}", f"127.0.0.1:{base + 7}"))
        assert len(spoken) == 4 and spoken == {i: registered[i] for i in spoken}, (spoken, registered)
        shown = subprocess.run(
            [WATTLANE, "stations", "show", "ACME-AMS-DC1"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        assert "ACME-AMS-DC1: online, available, ocpp2.0.1" in shown.stdout, shown.stdout
        assert "Wattlane Sim-1" in shown.stdout
        assert "GLOBEX" not in listed.stdout
        logged = subprocess.run(
            [WATTLANE, "stations", "log", "ACME-AMS-01", "--action", "BootNotification"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        assert re.search(r"ACME-AMS-01\s+out\s+result\s+BootNotification", logged.stdout), logged.stdout
        assert re.search(r"ACME-AMS-01\s+in\s+call\s+BootNotification", logged.stdout), logged.stdout
        # The CSMS's side port is on under `wattlane up` too, shown in the banner.
        assert f"http://127.0.0.1:{base + 10}/metrics" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 10}/metrics", timeout=5) as response:
            exposition = response.read().decode()
        assert 'wattlane_ocpp_connected_stations{version="ocpp1.6"}' in exposition
        assert 'wattlane_process_ready{service="csms"} 1.0' in exposition

        # Billing runs beside the others, with the demo's tariffs at every level of the tree,
        # each organization's rate plan one of them (assets checked each with billing).
        assert f"127.0.0.1:{base + 11}" in text and f"http://127.0.0.1:{base + 12}/metrics" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 12}/readyz", timeout=5) as response:
            assert response.status == 200
        for seeded in (
            "Wattlane standard",
            "Voltera day and night",
            "Acme HQ fleet rate",
            "Acme Depot Utrecht -> Voltera day and night",
            "Globex London -> Wattlane standard",
        ):
            assert seeded in text, text
        # The other way the banner gives: its `export` lines, as printed, then a plain login.
        env.update(re.findall(r"^\s*export (WATTLANE_\w+_ADDRESS)=(\S+)$", text, re.MULTILINE))
        assert env["WATTLANE_BILLING_ADDRESS"] == f"127.0.0.1:{base + 11}"
        subprocess.run(
            [WATTLANE, "login", "admin@acme.example", "--password", "wattlane-demo"], env=env, check=True
        )
        transactions = subprocess.run(
            [WATTLANE, "transactions", "list"], env=env, capture_output=True, text=True
        )
        assert transactions.returncode == 0, transactions.stderr
        assert "cost" in transactions.stdout and "warning" not in transactions.stderr

        # --observe: Prometheus scrapes every process's side port, with the chart's rules loaded.
        if shutil.which("prometheus") is None:
            assert not os.environ.get("WATTLANE_REQUIRE_PROMTOOL"), "CI installs prometheus"
            assert "not installed (apt-get install prometheus)" in text, text
        else:
            prometheus = f"http://127.0.0.1:{base + 13}"
            assert f"{prometheus}  (targets:" in text, text
            deadline = time.monotonic() + 60
            while True:
                with urllib.request.urlopen(f"{prometheus}/api/v1/query?query=up", timeout=5) as response:
                    up = json.loads(response.read())["data"]["result"]
                jobs = sorted(s["metric"]["job"] for s in up if s["value"][1] == "1")
                if jobs == ["assets", "billing", "csms", "identity", "worker"]:
                    break
                assert time.monotonic() < deadline, up
                time.sleep(1)
            with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=5) as response:
                groups = {g["name"] for g in json.loads(response.read())["data"]["groups"]}
            assert {"wattlane-symptoms", "wattlane-slo-grpc-availability"} <= groups, groups

        # Customer Success approves the seeded pending application from the CLI; the mail arrives.
        pending = re.search(r"wattlane applications approve (applications/\S+)", text)
        assert pending is not None, text
        subprocess.run(
            [WATTLANE, "login", "cs@wattlane.local", "--password", "wattlane-demo"], env=env, check=True
        )
        listed = subprocess.run(
            [WATTLANE, "applications", "list"], env=env, check=True, capture_output=True, text=True
        )
        assert pending.group(1) in listed.stdout and "CHANGE_DATAPOINTS" in listed.stdout
        approved = subprocess.run(
            [WATTLANE, "applications", "approve", pending.group(1)], env=env, capture_output=True, text=True
        )
        assert approved.returncode == 0, approved.stderr
        assert "APPROVED" in approved.stdout
        lines.wait_for(lambda line: "mail to Ada Acme" in line and "wijziging datapunten" in line, 60)
        accounts = subprocess.run(
            [WATTLANE, "accounts", "list"], env=env, check=True, capture_output=True, text=True
        )
        assert "4/60" in accounts.stdout  # the datapoint change is in force (4 demo stations in use)

        # "Forgot password" from the CLI: the reset mail arrives through the worker.
        forgot = subprocess.run(
            [WATTLANE, "users", "forgot-password", "driver@acme.example"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert forgot.returncode == 0, forgot.stderr
        lines.wait_for(lambda line: "mail to" in line and ("password" in line or "wachtwoord" in line), 60)

        proc.send_signal(signal.SIGINT)
        lines.wait_for(lambda line: "Stopped." in line, 60)
        proc.wait(timeout=30)
        assert proc.returncode == 0
        for offset in (*range(9), 11, 12, 13):
            assert port_is_free(base + offset), f"port {base + offset} still in use after Ctrl-C"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_up_reports_a_taken_port(tmp_path: Path) -> None:
    base = free_base_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", base + 2))
        blocker.listen()
        result = subprocess.run(
            [WATTLANE, "up", "--data-dir", str(tmp_path / "data"), "--base-port", str(base), "--headless"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {base + 2} (identity) is already in use" in result.stderr


@pytest.mark.parametrize("args", [["tenants", "list"], ["whoami"]])
def test_commands_need_a_session(tmp_path: Path, args: list[str]) -> None:
    result = subprocess.run(
        [WATTLANE, *args], capture_output=True, text=True, env={**os.environ, "WATTLANE_HOME": str(tmp_path)}
    )
    assert result.returncode == 2
    assert "wattlane login" in result.stderr
