"""`wattlane up` as a user runs it: real processes, real ports, Ctrl-C stops everything."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattlane.cli.stack import port_is_free

WATTLANE = str(Path(sys.executable).parent / "wattlane")


def free_base_port(span: int = 4) -> int:
    """A base port with `span` free ports after it, below Linux's ephemeral range (32768+), so
    that ports other processes get from the kernel (Temporal's internal services, test servers)
    cannot land in it between this check and the stack binding it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - span)
        if all(port_is_free(base + i) for i in range(span)):
            return base
    raise RuntimeError("no free port range")


def test_up_starts_seeds_prints_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    base = free_base_port()
    proc = subprocess.Popen(
        [WATTLANE, "up", "--data-dir", str(tmp_path / "data"), "--base-port", str(base), "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "WATTLANE_HOME": str(tmp_path / "home")},
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            output.append(line)
            if "Press Ctrl-C" in line:
                break
            assert time.monotonic() < deadline, "".join(output)
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

        # The CLI works against the running stack.
        env = {
            **os.environ,
            "WATTLANE_HOME": str(tmp_path / "home"),
            "WATTLANE_IDENTITY_ADDRESS": f"127.0.0.1:{base + 2}",
        }
        subprocess.run(
            [WATTLANE, "login", "admin@voltera.example", "--password", "wattlane-demo"], env=env, check=True
        )
        tenants = subprocess.run(
            [WATTLANE, "tenants", "list"], env=env, check=True, capture_output=True, text=True
        )
        assert "Voltera Installers" in tenants.stdout and "Acme Logistics" in tenants.stdout
        assert "ChargeCo" not in tenants.stdout and "Globex" not in tenants.stdout  # a sibling partner's tree

        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert "Stopped." in rest
        assert proc.returncode == 0
        for offset in range(4):
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
