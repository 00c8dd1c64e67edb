"""Generate the Python gRPC code under proto/src from the .proto files under proto/wattlane.

`--check` generates into a temporary directory and fails when the committed code differs, so CI
catches a .proto change whose generated code was not regenerated.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
GENERATED_PACKAGE = Path("wattlane") / "api"


def generate(out: Path) -> None:
    """Run protoc for every .proto file into `out` (python, grpc and mypy stubs)."""
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "wattlane").rglob("*.proto"))
    if not sources:
        return
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *sources,
    ]
    # protoc finds the mypy plugins (protoc-gen-mypy*) on PATH: use this interpreter's scripts.
    os.environ["PATH"] = sysconfig.get_path("scripts") + os.pathsep + os.environ.get("PATH", "")
    if protoc.main(args) != 0:
        sys.exit("protoc failed")


def tree_differs(a: Path, b: Path) -> list[str]:
    """Return the relative paths that differ between two generated trees."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    diffs = sorted(str(p) for p in files_a ^ files_b)
    for rel in files_a & files_b:
        if not filecmp.cmp(a / rel, b / rel, shallow=False):
            diffs.append(str(rel))
    return sorted(diffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="output root (proto/src)")
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    ns = parser.parse_args()
    target = ns.out.resolve() / GENERATED_PACKAGE
    if ns.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            diffs = tree_differs(Path(tmp) / GENERATED_PACKAGE, target)
        if diffs:
            sys.exit("generated gRPC code is stale, run `make proto`:\n  " + "\n  ".join(diffs))
        print("generated gRPC code is up to date")
        return
    shutil.rmtree(target, ignore_errors=True)
    generate(ns.out.resolve())
    print(f"generated {target}")


if __name__ == "__main__":
    main()
