"""The properties that matter in the rendered chart, for every CI scenario: secure pods, probes
on the side port, a PDB per Deployment, the CSMS's gradual drain and autoscaler, settings that
the services really read, no secret in a ConfigMap, service accounts as the contracts' catalog
says, and bad values refused by the schema with a clear message."""

from __future__ import annotations

import base64
import dataclasses
import importlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.tools import CHART, KUBE_VERSION, run_helm, values_file
from wattlane.contracts.scopes import SERVICE_ACCOUNTS
from wattlane.core import settings as core_settings

Doc = dict[str, Any]
COMPONENTS = ("identity", "assets", "billing", "csms", "worker")
# The package each component runs (`python -m wattlane.<module>`) and its settings prefix.
MODULES = {
    "identity": "identity",
    "assets": "assets",
    "billing": "billing",
    "csms": "csms",
    "worker": "workflows",
}
SECRETS_DIR = "/var/run/secrets/wattlane"


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def component(doc: Doc) -> str:
    """The component label ('' on objects that belong to no process, e.g. rules or dashboards)."""
    return str((doc["metadata"].get("labels") or {}).get("app.kubernetes.io/component", ""))


def pod_specs(docs: list[Doc]) -> list[tuple[str, Doc]]:
    """(kind/name, pod spec) of every workload."""
    return [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")
    ]


def configmap(docs: list[Doc], name: str) -> dict[str, str]:
    return dict(named(docs, "ConfigMap", f"wattlane-{name}")["data"])


def settings_class(name: str) -> type[core_settings.ProcessSettings]:
    """The ProcessSettings subclass of a component (what `python -m ... settings` prints)."""
    module = importlib.import_module(f"wattlane.{MODULES[name]}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, core_settings.ProcessSettings)
        and value is not core_settings.ProcessSettings
        and value.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__}: {classes}"
    return classes[0]


def prefix_of(name: str) -> str:
    return "worker" if name == "worker" else name


# --- pods ------------------------------------------------------------------------------------------


def test_scenarios_render_every_component(rendered: dict[str, list[Doc]]) -> None:
    assert set(rendered) >= {"minimal", "production", "external-secrets"}
    for scenario, docs in rendered.items():
        deployments = {component(d) for d in of_kind(docs, "Deployment")}
        assert deployments == set(COMPONENTS), scenario
        for kind in ("ServiceAccount", "ConfigMap", "Service", "PodDisruptionBudget"):
            assert {component(d) for d in of_kind(docs, kind)} >= set(COMPONENTS), (scenario, kind)
        jobs = {component(d) for d in of_kind(docs, "Job")}
        assert jobs == {f"{c}-migration" for c in ("identity", "assets", "billing", "csms")}, scenario


def test_every_container_is_non_root_read_only_and_unprivileged(rendered: dict[str, list[Doc]]) -> None:
    for scenario, docs in rendered.items():
        for where, spec in pod_specs(docs):
            pod = spec["securityContext"]
            assert pod["runAsNonRoot"] is True and pod["runAsUser"] >= 10000, (scenario, where)
            assert pod["seccompProfile"]["type"] == "RuntimeDefault", (scenario, where)
            assert spec["automountServiceAccountToken"] is False, (scenario, where)
            for container in spec["containers"] + spec.get("initContainers", []):
                ctx = container["securityContext"]
                label = (scenario, where, container["name"])
                assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] >= 10000, label
                assert ctx["readOnlyRootFilesystem"] is True, label
                assert ctx["allowPrivilegeEscalation"] is False, label
                assert ctx.get("privileged", False) is False, label
                assert ctx["capabilities"]["drop"] == ["ALL"], label
                assert "add" not in ctx["capabilities"], label
                resources = container["resources"]
                assert {"cpu", "memory"} <= set(resources["requests"]), label
                assert {"cpu", "memory"} <= set(resources["limits"]), label
                # Scratch space on the read-only root: /tmp is an emptyDir.
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                volumes = {v["name"]: v for v in spec["volumes"]}
                assert "emptyDir" in volumes[mounts["/tmp"]], label
                image = container["image"]
                assert not image.endswith(":latest") and (":" in image or "@sha256:" in image), label
        service_accounts = of_kind(docs, "ServiceAccount")
        assert all(sa["automountServiceAccountToken"] is False for sa in service_accounts), scenario


def test_production_pins_the_image_by_digest(rendered: dict[str, list[Doc]]) -> None:
    for _, spec in pod_specs(rendered["production"]):
        for container in spec["containers"]:
            assert re.search(r"@sha256:[0-9a-f]{64}$", container["image"]), container["image"]
            assert container["imagePullPolicy"] == "Always"


def test_every_deployment_has_probes_on_the_side_port_and_a_pdb(rendered: dict[str, list[Doc]]) -> None:
    for scenario, docs in rendered.items():
        budgets = of_kind(docs, "PodDisruptionBudget")
        for deployment in of_kind(docs, "Deployment"):
            name = component(deployment)
            spec = deployment["spec"]["template"]["spec"]
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            (container,) = spec["containers"]
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            # The side port the probes use is the one the process opens (WATTLANE_<SVC>_METRICS_PORT).
            metrics_port = int(configmap(docs, name)[f"WATTLANE_{prefix_of(name).upper()}_METRICS_PORT"])
            assert ports["metrics"] == metrics_port, (scenario, name)
            paths = {
                probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
                for probe in ("startupProbe", "readinessProbe", "livenessProbe")
            }
            assert paths == {
                "startupProbe": ("/healthz", "metrics"),
                "readinessProbe": ("/readyz", "metrics"),
                "livenessProbe": ("/healthz", "metrics"),
            }, (scenario, name)
            assert container["lifecycle"]["preStop"]["sleep"]["seconds"] >= 1, (scenario, name)
            matching = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
            assert len(matching) == 1, (scenario, name, "PodDisruptionBudget")
            assert matching[0]["spec"]["unhealthyPodEvictionPolicy"] in ("AlwaysAllow", "IfHealthyBudget")
            if "replicas" in deployment["spec"]:
                assert deployment["spec"]["replicas"] >= 1


def test_entry_points_are_modules_of_the_tree(rendered: dict[str, list[Doc]]) -> None:
    """Every container runs `python -m wattlane.<module> serve|migrate` of an existing package."""
    for scenario, docs in rendered.items():
        for where, spec in pod_specs(docs):
            for container in spec["containers"]:
                python, dash_m, module = container["command"]
                assert (python, dash_m) == ("python", "-m"), (scenario, where)
                expected = ["migrate"] if where.startswith("Job/") else ["serve"]
                assert container["args"] == expected, (scenario, where)
                assert importlib.util.find_spec(f"{module}.__main__") is not None, (scenario, where, module)


# --- the CSMS --------------------------------------------------------------------------------------


def test_csms_drains_station_sockets_gradually_before_sigkill(rendered: dict[str, list[Doc]]) -> None:
    for scenario, docs in rendered.items():
        deployment = named(docs, "Deployment", "wattlane-csms")
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        settings = configmap(docs, "csms")
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        drain = float(settings["WATTLANE_CSMS_DRAIN_SECONDS"])
        spread = float(settings["WATTLANE_CSMS_CLOSE_SPREAD_SECONDS"])
        grace = float(settings["WATTLANE_CSMS_GRACE_SECONDS"])
        # The close spread runs inside the grace period (the CSMS never spreads longer than grace);
        # the kubelet's SIGKILL comes after preStop + drain + grace, with a margin.
        assert spread >= 10, scenario
        assert grace >= spread, scenario
        assert spec["terminationGracePeriodSeconds"] > pre_stop + drain + grace, scenario
        # Several replicas (or an autoscaler with a minimum of several).
        hpa = [h for h in of_kind(docs, "HorizontalPodAutoscaler") if component(h) == "csms"]
        replicas = hpa[0]["spec"]["minReplicas"] if hpa else deployment["spec"]["replicas"]
        assert replicas >= 2, scenario
        # The OCPP port behind an L4 load balancer.
        ocpp = named(docs, "Service", "wattlane-ocpp")
        assert ocpp["spec"]["type"] in ("LoadBalancer", "NodePort"), scenario
        assert ocpp["spec"]["ports"][0]["targetPort"] == "ocpp"
        assert ocpp["spec"]["selector"]["app.kubernetes.io/component"] == "csms"


def test_csms_autoscales_on_connected_stations_per_pod(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["production"]
    hpa = named(docs, "HorizontalPodAutoscaler", "wattlane-csms")
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "wattlane-csms"}
    assert hpa["spec"]["scaleTargetRef"] == target
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    # The gauge the CSMS exports (core's metrics catalog); prometheus-adapter sums it per pod.
    assert metric["pods"]["metric"]["name"] == "wattlane_ocpp_connected_stations"
    assert metric["pods"]["target"]["type"] == "AverageValue"
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    assert hpa["spec"]["minReplicas"] >= 2
    # The HPA owns the replica count: the Deployment does not fight it on every upgrade.
    assert "replicas" not in named(docs, "Deployment", "wattlane-csms")["spec"]
    assert not of_kind(rendered["minimal"], "HorizontalPodAutoscaler")


def test_csms_tls_certificates_come_from_secrets(rendered: dict[str, list[Doc]]) -> None:
    expected = {"minimal": 1, "production": 3, "external-secrets": 2}
    for scenario, profile in expected.items():
        docs = rendered[scenario]
        settings = configmap(docs, "csms")
        assert settings["WATTLANE_CSMS_SECURITY_PROFILE"] == str(profile)
        spec = named(docs, "Deployment", "wattlane-csms")["spec"]["template"]["spec"]
        files = {
            item["path"]: source["secret"]["name"]
            for volume in spec["volumes"]
            if "projected" in volume
            for source in volume["projected"]["sources"]
            for item in source["secret"]["items"]
        }
        tls = {k: v for k, v in settings.items() if k.startswith("WATTLANE_CSMS_TLS_")}
        if profile == 1:
            assert not tls, scenario
            assert named(docs, "Service", "wattlane-ocpp")["spec"]["ports"][0]["port"] == 80
            continue
        assert named(docs, "Service", "wattlane-ocpp")["spec"]["ports"][0]["port"] == 443
        wanted = {"WATTLANE_CSMS_TLS_CERT", "WATTLANE_CSMS_TLS_KEY"}
        if profile == 3:
            wanted.add("WATTLANE_CSMS_TLS_CLIENT_CA")
        assert set(tls) == wanted, scenario
        for path in tls.values():
            assert path.removeprefix(SECRETS_DIR + "/") in files, (scenario, path)


# --- settings and secrets --------------------------------------------------------------------------


def test_configmaps_hold_settings_the_services_read(rendered: dict[str, list[Doc]], tmp_path: Path) -> None:
    """Every ConfigMap key is a WATTLANE_<SVC>_* variable of the component's settings class (a secret
    one only as its ..._FILE), and the whole ConfigMap (plus the pod's literal env) loads."""
    for scenario, docs in rendered.items():
        for name in COMPONENTS:
            cls = settings_class(name)
            prefix = prefix_of(name)
            fields = {f.name: f for f in dataclasses.fields(cls)}
            variables = {core_settings.env_name(prefix, n): f for n, f in fields.items()}
            data = configmap(docs, name)
            environ: dict[str, str] = {}
            # Every link to another component (or Temporal) the process has is set to the in-cluster
            # address: a default of 127.0.0.1 would silently point at the pod itself.
            links = [
                v
                for v, f in variables.items()
                if f.name.endswith("_address")
                and f.name.removesuffix("_address") in {*COMPONENTS, "temporal"}
            ]
            assert not [v for v in links if v not in data], (scenario, name, "links left at their default")
            for key, value in data.items():
                if key in variables:
                    assert not core_settings.is_secret(variables[key]), (
                        f"{scenario}: secret {key} in ConfigMap"
                    )
                    environ[key] = value
                    continue
                base = key.removesuffix("_FILE")
                assert key.endswith("_FILE") and base in variables, f"{scenario}: {key}: no such setting"
                assert core_settings.is_secret(variables[base]), f"{scenario}: {base} reads no file"
                assert value.startswith(SECRETS_DIR + "/"), (scenario, key)
                # The loader reads the file: give it one.
                stand_in = tmp_path / f"{scenario}-{key}"
                stand_in.write_text("stand-in secret")
                environ[key] = str(stand_in)
            deployment = named(docs, "Deployment", f"wattlane-{name}")
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            for item in container.get("env") or []:
                if item["name"].startswith("WATTLANE_"):
                    assert item["name"] in variables, (scenario, item["name"])
                    environ[item["name"]] = re.sub(r"\$\([A-Z_]+\)", "10.0.0.1", item["value"])
            loaded = core_settings.load(cls, prefix, environ)
            assert loaded.host == "0.0.0.0", (scenario, name)  # type: ignore[attr-defined]
            assert loaded.metrics_port > 0, (scenario, name)
            if scenario == "production" and name == "identity":  # <component>.settings pass through
                assert (loaded.login_max_failures, loaded.login_lockout_seconds) == (10, 1800)  # type: ignore[attr-defined]
            if hasattr(loaded, "migrate_on_start"):
                assert loaded.migrate_on_start is False, (scenario, name)  # the hook Job migrates


def test_no_secret_value_appears_in_a_configmap(rendered: dict[str, list[Doc]]) -> None:
    for scenario, docs in rendered.items():
        secret_values: set[str] = set()
        for secret in of_kind(docs, "Secret"):
            for value in (secret.get("data") or {}).values():
                decoded = base64.b64decode(value).decode()
                secret_values.add(decoded)
                if decoded.startswith("["):  # service-accounts.json: each secret in it as well
                    secret_values.update(a["secret"] for a in json.loads(decoded))
            secret_values.update((secret.get("stringData") or {}).values())
        for cm in of_kind(docs, "ConfigMap"):
            for key, value in cm["data"].items():
                for secret_value in secret_values:
                    assert secret_value not in value, f"{scenario}: a Secret's value in ConfigMap key {key}"
                if key.endswith("_DATABASE_URL"):
                    # postgresql+asyncpg://user@host/db: a password would sit between ':' and '@'.
                    assert not re.search(r"://[^/@]*:[^/@]*@", value), f"{scenario}: password in {key}"
        # Secrets reach containers as files or secretKeyRefs, never as literal env values.
        for where, spec in pod_specs(docs):
            for container in spec["containers"]:
                for item in container.get("env") or []:
                    assert "value" in item or "valueFrom" in item
                    if item["name"] == "PGPASSWORD":
                        assert "secretKeyRef" in item["valueFrom"], (scenario, where)


def test_service_accounts_are_the_contracts_catalog(rendered: dict[str, list[Doc]]) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    catalog = {account: list(scopes) for account, scopes in SERVICE_ACCOUNTS.items()}
    assert values["serviceAccounts"]["scopes"] == catalog, (
        "charts/wattlane/values.yaml serviceAccounts.scopes differs from wattlane.contracts.scopes."
        f"SERVICE_ACCOUNTS; it should read:\n{yaml.safe_dump({'scopes': catalog}, sort_keys=False)}"
    )
    # The chart-made Secret: identity's file and each service's own key agree.
    secret = named(rendered["minimal"], "Secret", "wattlane-service-accounts")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    accounts = json.loads(data.pop("service-accounts.json"))
    assert {a["service"]: a["scopes"] for a in accounts} == catalog
    assert {a["service"]: a["secret"] for a in accounts} == data
    assert all(len(s) >= 32 for s in data.values())
    # Each service reads its own key; identity reads the file.
    for name in ("assets", "billing", "csms", "worker"):
        spec = named(rendered["minimal"], "Deployment", f"wattlane-{name}")["spec"]["template"]["spec"]
        sources = [s for v in spec["volumes"] if "projected" in v for s in v["projected"]["sources"]]
        assert {"key": name, "path": "client-secret"} in [i for s in sources for i in s["secret"]["items"]]
    # With the External Secrets Operator, its template builds the same file from the store.
    external = named(rendered["external-secrets"], "ExternalSecret", "wattlane-service-accounts")
    template = external["spec"]["target"]["template"]["data"]["service-accounts.json"]
    as_json = re.sub(r"\{\{ \.(\w+) \| toJson \}\}", r'"<\1>"', template)
    assert {a["service"]: a["scopes"] for a in json.loads(as_json)} == catalog
    assert {a["service"]: a["secret"] for a in json.loads(as_json)} == {a: f"<{a}>" for a in catalog}
    assert not of_kind(rendered["external-secrets"], "Secret")


def test_migrations_run_as_hook_jobs(rendered: dict[str, list[Doc]]) -> None:
    for scenario, docs in rendered.items():
        for job in of_kind(docs, "Job"):
            annotations = job["metadata"]["annotations"]
            assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}, scenario
            assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
            assert job["spec"]["ttlSecondsAfterFinished"] > 0
            assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
            (container,) = job["spec"]["template"]["spec"]["containers"]
            env = {e["name"]: e for e in container["env"]}
            name = component(job).removesuffix("-migration")
            assert env[f"WATTLANE_{name.upper()}_DATABASE_URL"]["value"].startswith("postgresql")


def test_network_policies_deny_by_default_and_allow_what_each_component_needs(
    rendered: dict[str, list[Doc]],
) -> None:
    for scenario, docs in rendered.items():
        policies = of_kind(docs, "NetworkPolicy")
        deny = named(docs, "NetworkPolicy", "wattlane-default-deny")
        assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
        for deployment in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert deny["spec"]["podSelector"]["matchLabels"].items() <= labels.items(), scenario
            own = [
                p
                for p in policies
                if p is not deny and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            ]
            assert len(own) == 1, (scenario, deployment["metadata"]["name"])
            egress_ports = {port["port"] for rule in own[0]["spec"]["egress"] for port in rule["ports"]}
            assert 53 in egress_ports, scenario  # DNS
            # An empty `from`/`to` would allow everything: never rendered.
            for rule in own[0]["spec"].get("ingress", []):
                assert rule["from"], scenario
            for rule in own[0]["spec"]["egress"]:
                assert rule["to"], scenario
        csms = named(docs, "NetworkPolicy", "wattlane-csms")
        assert "ocpp" in {p["port"] for rule in csms["spec"]["ingress"] for p in rule["ports"]}
        identity = named(docs, "NetworkPolicy", "wattlane-identity")
        callers = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in identity["spec"]["ingress"]
            for peer in rule["from"]
            if "podSelector" in peer
        }
        assert callers == {"assets", "billing", "csms", "worker"}, scenario


# --- values: documented, validated -----------------------------------------------------------------


def _leaves(values: dict[str, Any], path: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, dict) and value:
            out += _leaves(value, here)
        else:
            out.append(here)
    return out


def test_every_value_is_documented_in_the_readme() -> None:
    text = (CHART / "values.yaml").read_text()
    params = re.findall(r"^\s*## @param (\S+) ", text, flags=re.M)
    assert len(params) == len(set(params)), "a value documented twice"
    values = yaml.safe_load(text)
    undocumented = [
        leaf for leaf in _leaves(values) if not any(leaf == p or leaf.startswith(p + ".") for p in params)
    ]
    assert not undocumented, f"values without a `## @param` line: {undocumented}"
    readme = (CHART / "README.md").read_text()
    table = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.M))
    assert set(params) - table == set(), "values.yaml parameters missing from the README's tables"
    assert table - set(params) == set(), "README parameters that values.yaml does not have"


BAD_VALUES = [
    # (what, --set arguments, what helm must say: the schema names the value's path)
    ("a wrong type", ["--set-string", "assets.replicas=two"], "/assets/replicas"),
    ("a missing database URL", ["--set", "identity.database.url="], "/identity/database/url"),
    ("replicas below 1", ["--set", "csms.replicas=0"], "/csms/replicas"),
    (
        "a password in a URL",
        ["--set", "billing.database.url=postgresql://u:pw@h/db"],
        "/billing/database/url",
    ),
    (
        "profile 3 without a CA",
        ["--set", "csms.securityProfile=3", "--set", "csms.tls.secretName=t"],
        "clientCA",
    ),
    ("the latest tag", ["--set", "image.tag=latest"], "/image/tag"),
    (
        "a scrape interval that is no duration",
        ["--set", "monitoring.podMonitor.interval=often"],
        "/monitoring/podMonitor/interval",
    ),
    (
        "a runbook base that is no URL",
        ["--set", "monitoring.rules.runbookBaseUrl=docs"],
        "/monitoring/rules/runbookBaseUrl",
    ),
    (
        "a secret setting",
        ["--set", "csms.settings.CLIENT_SECRET=s3cret"],
        "invalid propertyName 'CLIENT_SECRET'",
    ),
]


@pytest.mark.parametrize(("what", "arguments", "message"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_the_schema_refuses_bad_values_at_lint(what: str, arguments: list[str], message: str) -> None:
    # The same scenario without the change passes (test_chart_tools lints every scenario).
    bad = run_helm(
        "lint",
        "--strict",
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(values_file("minimal")),
        *arguments,
        checks="the values schema tests",
    )
    output = bad.stdout + bad.stderr
    assert bad.returncode != 0, f"{what} passed helm lint"
    assert message in output, output


def test_a_secret_setting_is_refused_with_its_name_at_install() -> None:
    """The schema names only the key; rendering (install, upgrade, template) says where and why."""
    result = run_helm(
        "template", "wattlane", str(CHART), "-f", str(values_file("minimal")), "--skip-schema-validation",
        "--set", "identity.settings.bootstrap_admin_password=pw", checks="the values schema tests",
    )  # fmt: skip
    assert result.returncode != 0
    assert (
        "identity.settings.bootstrap_admin_password: a secret setting cannot be given here" in result.stderr
    )
