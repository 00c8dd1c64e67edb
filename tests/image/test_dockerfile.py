"""The Dockerfile, checked without a container engine (none runs here or in CI): its stages, what
the final stages may do (no compiler, no index, non-root, read-only friendly), COPY sources
against the tree and .dockerignore, every project built, entry modules that exist, and the
projects' wheels built the way the build stage builds them (checkov's Dockerfile checks run with
the chart's, in tests/charts/test_chart_tools.py: one checkov start-up)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser

from tests.charts.test_chart import MODULES, settings_class
from tests.charts.tools import CHART, ROOT

DOCKERFILE = ROOT / "Dockerfile"
BASE = re.compile(r"^python:3\.11-slim(-\w+)?(@sha256:[0-9a-f]{64})?$")
PROCESS_TARGETS = {"identity", "assets", "billing", "csms", "worker"}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == instruction]


def stages() -> dict[str, Stage]:
    parsed = DockerfileParser(str(DOCKERFILE))
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for item in parsed.structure:
        kind, value = item["instruction"], item["value"]
        if kind == "FROM":
            base, _, name = value.partition(" AS ")
            current = Stage(name.strip() or f"stage{len(found)}", base.strip())
            found[current.name] = current
        elif kind != "COMMENT":
            assert current is not None, f"{kind} before FROM"
            current.instructions.append((kind, value))
    return found


def lineage(all_stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [all_stages[name]]
    while chain[-1].base in all_stages:
        chain.append(all_stages[chain[-1].base])
    return chain


# Projects that only render files committed to the tree (rules, dashboards): no process runs them.
BUILD_TIME_ONLY = frozenset({"ops"})


def projects() -> set[str]:
    """Every project of the monorepo that a process needs: a folder with a pyproject.toml."""
    return {p.parent.name for p in ROOT.glob("*/pyproject.toml")} - BUILD_TIME_ONLY


def exec_form(value: str) -> list[str]:
    return list(json.loads(value)) if value.startswith("[") else shlex.split(value)


# --- stages ----------------------------------------------------------------------------------------


def test_multi_stage_build_on_a_slim_python_311() -> None:
    all_stages = stages()
    assert list(all_stages) == [
        "build",
        "runtime",
        *sorted(PROCESS_TARGETS, key=list(MODULES).index),
        "platform",
    ]
    assert BASE.match(all_stages["build"].base) and BASE.match(all_stages["runtime"].base)
    # The wheels must match the runtime's Python and glibc: the same base image.
    assert all_stages["build"].base == all_stages["runtime"].base
    for name in [*PROCESS_TARGETS, "platform"]:
        assert all_stages[name].base == "runtime", name
    # The last stage is what `docker build .` gives: the platform image the chart runs.
    assert list(all_stages)[-1] == "platform"


def test_final_stages_compile_and_fetch_nothing() -> None:
    all_stages = stages()
    for name in ["runtime", *PROCESS_TARGETS, "platform"]:
        for stage in lineage(all_stages, name)[:-1] if name != "runtime" else [all_stages["runtime"]]:
            for run in stage.values("RUN"):
                for forbidden in ("apt-get", "apk ", "gcc", "build-essential", "cc ", "make "):
                    assert forbidden not in run, f"{stage.name}: {forbidden.strip()} in a final stage"
                for install in re.findall(r"pip install[^&]*", run):
                    assert "--no-index" in install and "--only-binary=:all:" in install, stage.name
    runtime = all_stages["runtime"]
    (mount_run,) = [r for r in runtime.values("RUN") if "--mount=type=bind,from=build" in r]
    assert "source=/wheels" in mount_run
    # Nothing is copied in from the build stage but through that read-only mount.
    assert not [c for s in all_stages.values() if s.name != "build" for c in s.values("COPY")]
    # The build stage is the one with a compiler.
    assert any("build-essential" in r for r in all_stages["build"].values("RUN"))


def test_runs_as_the_charts_non_root_user() -> None:
    runtime = stages()["runtime"]
    (user,) = runtime.values("USER")
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert uid.isdigit() and gid.isdigit() and int(uid) >= 10000 and int(gid) >= 10000
    (useradd,) = [r for r in runtime.values("RUN") if "useradd" in r]
    assert f"--uid {uid}" in useradd and f"--gid {gid}" in useradd
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    assert values["podSecurityContext"]["runAsGroup"] == int(gid)


def test_works_with_a_read_only_root_filesystem() -> None:
    runtime = stages()["runtime"]
    env = " ".join(runtime.values("ENV"))
    # No .pyc written at run time (compiled at build), home and temp files under /tmp (an emptyDir).
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", "TMPDIR=/tmp"):
        assert setting in env.split(), setting
    assert any("compileall" in r for r in runtime.values("RUN"))


# --- against the tree ------------------------------------------------------------------------------


def _dockerignore() -> list[re.Pattern[str]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions are not handled by this check"
        regex = re.escape(line.strip("/")).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        patterns.append(re.compile(regex.replace(r"\?", "[^/]") + "$"))
    return patterns


def excluded(path: str, patterns: list[re.Pattern[str]]) -> bool:
    """Whether .dockerignore leaves `path` (or a folder holding it) out of the build context."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(p.match(prefix) for p in patterns for prefix in prefixes)


def test_copy_sources_exist_and_reach_the_build_context() -> None:
    patterns = _dockerignore()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for stage in stages().values():
        for copy in stage.values("COPY"):
            *sources, _destination = [a for a in shlex.split(copy) if not a.startswith("--")]
            for source in sources:
                path = ROOT / source
                assert path.exists(), f"COPY {source}: not in the tree"
                assert not excluded(source.rstrip("/"), patterns), f"COPY {source}: .dockerignore drops it"
                if path.is_dir():
                    # What a wheel needs is in the context: the project file and every source file.
                    inside = [f for f in tracked if f.startswith(source.rstrip("/") + "/")]
                    needed = [f for f in inside if f.endswith("pyproject.toml") or "/src/" in f]
                    dropped = [f for f in needed if excluded(f, patterns)]
                    assert needed and not dropped, (source, dropped[:5])
    # The tree itself (tests, node_modules, the virtualenv) stays out of the context.
    for heavy in (".venv", ".git", "svc-csms/tests/npm/node_modules", "tests/charts"):
        assert excluded(heavy, patterns), heavy


def test_every_project_is_built_and_installed() -> None:
    build = stages()["build"]
    copied = {shlex.split(c)[0].rstrip("/") for c in build.values("COPY")} - {"constraints.txt"}
    assert copied == projects()
    (wheel_run,) = [r for r in build.values("RUN") if "pip wheel" in r]
    assert set(re.findall(r"\./([\w-]+)", wheel_run)) == projects()
    assert "-c constraints.txt" in wheel_run  # the one lock file
    (install,) = [r for r in stages()["runtime"].values("RUN") if "pip install" in r]
    assert "/wheels/wattlane_*.whl" in install


def test_entry_points_exist() -> None:
    """Each process target runs `python -m wattlane.<module>` of the tree (the modules the chart
    runs), and its HEALTHCHECK asks that process's default side port."""
    all_stages = stages()
    targets = {}
    for name in sorted(PROCESS_TARGETS):
        stage = all_stages[name]
        (entrypoint,) = stage.values("ENTRYPOINT")
        python, dash_m, module = exec_form(entrypoint)
        assert (python, dash_m) == ("python", "-m"), name
        assert exec_form(stage.values("CMD")[0]) == ["serve"], name
        targets[name] = module
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module
        (healthcheck,) = stage.values("HEALTHCHECK")
        defaults = {f.name: f.default for f in dataclasses.fields(settings_class(name))}
        assert f"127.0.0.1:{defaults['metrics_port']}/healthz" in healthcheck, name
    assert targets == {name: f"wattlane.{module}" for name, module in MODULES.items()}
    # The platform image's default command is the CLI's console script.
    assert exec_form(all_stages["platform"].values("CMD")[0])[0] == "wattlane"
    assert 'wattlane = "wattlane.cli.main:main"' in (ROOT / "cli" / "pyproject.toml").read_text()


# --- tools -----------------------------------------------------------------------------------------


def test_project_wheels_carry_every_source_file(tmp_path: Path) -> None:
    """The build stage's `pip wheel` of our projects (without dependencies here: they come from the
    index there) gives wheels holding every tracked file under each project's src/: migrations,
    Alembic's template, mail templates, generated protobuf code and stubs."""
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--wheel-dir",
         str(wheels), *[f"./{p}" for p in sorted(projects())]],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    built = {w.name.split("-")[0]: w for w in wheels.glob("*.whl")}
    assert len(built) == len(projects())
    contents = set()
    for wheel in built.values():
        with zipfile.ZipFile(wheel) as archive:
            contents.update(archive.namelist())
    tracked = subprocess.run(
        ["git", "ls-files", *[f"{p}/src" for p in projects()]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    files = {f.split("/src/", 1)[1] for f in tracked}
    assert files, "no source files found"
    assert not sorted(files - contents)[:10], "tracked source files missing from the wheels"
