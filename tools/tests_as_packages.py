"""Copy every project's tests into importable packages, so import-linter can hold tests to the
same "who may import whom" contracts as the source (tests are not packages: pytest imports them
by path). `svc-assets/tests` becomes `wattlane_tests.assets`, the top-level `tests/` becomes
`wattlane_tests.cross`; only Python files are copied.

    python tools/tests_as_packages.py .lint && PYTHONPATH=.lint lint-imports
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_name(tests_dir: Path) -> str:
    if tests_dir.parent == ROOT:
        return "cross"
    return tests_dir.parent.name.removeprefix("svc-").replace("-", "_")


def main(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    package = target / "wattlane_tests"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    # Every project gets its package, even one whose tests all moved to tests/ (its contract
    # still names it).
    projects = [p.parent / "tests" for p in ROOT.glob("*/pyproject.toml")]
    for tests_dir in sorted({ROOT / "tests", *ROOT.glob("*/tests"), *projects}):
        destination = package / package_name(tests_dir)
        destination.mkdir()
        if not tests_dir.is_dir():
            (destination / "__init__.py").touch()
            continue
        for source in tests_dir.rglob("*.py"):
            if "node_modules" in source.parts:
                continue
            copied = destination / source.relative_to(tests_dir)
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copied)
        for folder in [destination, *(p for p in destination.rglob("*") if p.is_dir())]:
            (folder / "__init__.py").touch()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
