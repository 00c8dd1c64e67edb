"""promtool (Debian's `prometheus` package) in tests: lint an exposition, check and unit-test rule files.

CI installs it (`.ci/run`) and sets WATTLANE_REQUIRE_PROMTOOL=1, so there a missing promtool
fails the test. A developer's `make test` without it skips these checks and says so."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REQUIRE = "WATTLANE_REQUIRE_PROMTOOL"


def promtool() -> str:
    """The promtool binary; skips the test (or fails it in CI) when it is not installed."""
    return _binary("promtool")


def prometheus() -> str:
    """The Prometheus server binary (same package, same rule: skip, or fail in CI)."""
    return _binary("prometheus")


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (apt-get install prometheus): Prometheus checks not run"
        if os.environ.get(REQUIRE):
            pytest.fail(message)
        pytest.skip(message)
    return found


def check_metrics(exposition: bytes) -> None:
    """Fail with promtool's findings when `exposition` is not clean Prometheus text."""
    result = subprocess.run(
        [promtool(), "check", "metrics"], input=exposition, capture_output=True, timeout=60, check=False
    )
    findings = (result.stdout + result.stderr).decode().strip()
    assert result.returncode == 0 and not findings, f"promtool check metrics:\n{findings}"


def _run(*args: str) -> str:
    result = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, check=False)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{output}"
    return output


def check_rules(*paths: str) -> str:
    """`promtool check rules` on rule files; fails with its findings, returns its report."""
    return _run("check", "rules", *paths)


def run_rule_tests(path: str) -> str:
    """`promtool test rules` on a unit-test file; fails with promtool's diff of expected and got."""
    return _run("test", "rules", path)
