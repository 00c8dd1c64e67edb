"""A local Prometheus server for `wattlane up --observe` (and the live dashboard test): Debian's
`prometheus` binary when it is installed, scraping every process's side port, with the chart's
alerting and recording rules (charts/wattlane/rules) loaded, so the dashboards' queries and the
alerts work as in production."""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wattlane.cli.stack import Child, Stack, StackError

# cli/src/wattlane/cli/observe.py -> the repository, where the chart's rules live (`wattlane up`
# runs from a checkout: the projects are installed in editable mode).
_REPOSITORY = Path(__file__).resolve().parents[4]


def prometheus_binary() -> str | None:
    """The Prometheus server binary (Debian package `prometheus`), or None."""
    return shutil.which("prometheus")


def rule_files(repository: Path = _REPOSITORY) -> list[Path]:
    """The chart's rule files, or none when this is not a checkout."""
    return sorted((repository / "charts" / "wattlane" / "rules").glob("*.yaml"))


def dashboards_dir(repository: Path = _REPOSITORY) -> Path:
    return repository / "charts" / "wattlane" / "dashboards"


def config(targets: Mapping[str, int], rules: list[Path], interval: str = "5s") -> dict[str, Any]:
    """A Prometheus configuration: one job per process (`job` = its name, as the chart's
    ServiceMonitors name them), scraping 127.0.0.1:<side port>/metrics."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rules],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for name, port in targets.items()
        ],
    }


def prometheus_child(
    binary: str, directory: Path, port: int, targets: Mapping[str, int], interval: str = "5s"
) -> Child:
    """The Prometheus process (not started): its configuration written (JSON is YAML) into
    `directory`, its data in `directory`/data, its log in `directory`/prometheus.log."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(json.dumps(config(targets, rule_files(), interval), indent=2))
    argv = [
        binary,
        f"--config.file={path}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=2d",
    ]
    return Child("prometheus", argv, {}, directory / "prometheus.log")


async def start_prometheus(
    stack: Stack, binary: str, directory: Path, port: int, targets: Mapping[str, int], interval: str = "5s"
) -> str:
    """Start Prometheus in `stack`, wait until it answers ready; its URL."""
    child = prometheus_child(binary, directory, port, targets, interval)
    await stack.start(child)
    await stack.wait_port(child, port)
    url = f"http://127.0.0.1:{port}"
    # Listening is not ready: the TSDB opens after the port (503 "Service Unavailable" until then).
    deadline = asyncio.get_running_loop().time() + 60
    while await asyncio.to_thread(_status, f"{url}/-/ready") != 200:
        if not child.alive():
            raise StackError(f"prometheus exited during start-up; last log lines:\n{child.tail()}")
        if asyncio.get_running_loop().time() > deadline:
            raise StackError(f"prometheus not ready in 60s; see {child.log_path}")
        await asyncio.sleep(0.2)
    return url


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def query(url: str, expr: str, timeout: float = 10.0) -> dict[str, Any]:
    """An instant query through Prometheus's HTTP API: its `data` (resultType, result); raises
    StackError with Prometheus's message for a bad query."""
    request = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            body = json.loads(text)
        except ValueError:
            raise StackError(f"{expr}: HTTP {error.code}: {text[:200]!r}") from None
    if body.get("status") != "success":
        raise StackError(f"{expr}: {body.get('errorType')}: {body.get('error')}")
    data: dict[str, Any] = body["data"]
    return data


def banner(url: str) -> list[tuple[str, str]]:
    """Rows for `wattlane up`'s banner."""
    return [
        ("Prometheus", f"{url}  (targets: {url}/targets, alerts: {url}/alerts)"),
        ("dashboards", f"{dashboards_dir()}/*.json  (import into Grafana; see the README)"),
    ]
