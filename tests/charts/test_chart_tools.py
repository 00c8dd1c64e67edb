"""Each CI scenario through the tools SREs run: `helm lint --strict`, `kubernetes-validate
--strict` against Kubernetes 1.30, and `checkov --framework kubernetes` with zero failed checks
(a skipped check must carry its reason, written in the chart); checkov's Dockerfile checks in the
same run."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.charts.tools import CHART, KUBE_VERSION, NAMESPACE, ROOT, checkov, run_helm, scenarios, values_file


def custom_resource(api_version: str) -> bool:
    """An operator's kind (ExternalSecret, PrometheusRule, ...): its CRD is not in Kubernetes'
    schemas, so kubernetes-validate cannot check it (its CLI only warns). A built-in group with no
    schema is a mistake (a wrong apiVersion) and fails."""
    group = api_version.rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


@pytest.mark.parametrize("scenario", scenarios())
def test_helm_lint_strict(scenario: str) -> None:
    result = run_helm(
        "lint",
        "--strict",
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(values_file(scenario)),
        checks="helm lint --strict",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


# The oldest Kubernetes the chart supports (Chart.yaml's kubeVersion) and the newest whose schemas
# kubernetes-validate ships: an API removed since 1.30 shows up here.
VERSIONS = [KUBE_VERSION, kubernetes_validate.utils.latest_version()]


@pytest.mark.parametrize("version", VERSIONS)
def test_kubernetes_validate_strict(
    rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """Every object against Kubernetes' schemas, strict: no unknown field anywhere."""
    # kubernetes-validate parses the (large, read-only) schema files again for every object.
    cached = functools.cache(kubernetes_validate.utils.schema_contents)
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", cached)
    errors = []
    for scenario, docs in rendered.items():
        for doc in docs:
            where = f"{scenario}: {doc['kind']}/{doc['metadata']['name']}"
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                assert custom_resource(doc["apiVersion"]), f"{where}: no schema for {doc['apiVersion']}"
            except kubernetes_validate.ValidationError as error:
                errors.append(f"{where}: {error.message} at {list(error.path)}")
    assert not errors, "\n".join(errors)


def test_checkov_finds_nothing(rendered_files: dict[str, Path]) -> None:
    """One checkov run (its start-up is the slow part) over every scenario and the Dockerfile."""
    command = [
        checkov("checkov --framework kubernetes dockerfile"),
        "--framework",
        "kubernetes",
        "dockerfile",
    ]
    command += ["--skip-download", "--output", "json", "--compact", "-f", str(ROOT / "Dockerfile")]
    for path in rendered_files.values():
        command += ["-f", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    reports = json.loads(result.stdout) if result.stdout.strip().startswith(("[", "{")) else None
    assert reports is not None, f"checkov gave no report:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['check_name']}: {c['resource']} ({Path(c['file_path']).name})"
        for report in reports
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov:\n" + "\n".join(failed)
    passed = {report["check_type"]: report["summary"]["passed"] for report in reports}
    assert passed["kubernetes"] > 100 * len(rendered_files), "checkov checked suspiciously little"
    assert passed["dockerfile"] > 20, "checkov checked suspiciously little"
    for report in reports:
        for check in report["results"]["skipped_checks"]:
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            assert len(reason) > 20, f"{check['check_id']} skipped without a reason: {check['resource']}"
