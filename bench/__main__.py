"""`python -m bench` (`make bench`): run every benchmark package under bench/ (each has a __main__)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    """Run each `bench/<name>/__main__.py` as `python -m bench.<name>`; fail if any fails."""
    root = Path(__file__).resolve().parent
    failed = 0
    for package in sorted(p.parent.name for p in root.glob("*/__main__.py")):
        print(f"== bench.{package}", flush=True)
        failed += subprocess.call([sys.executable, "-m", f"bench.{package}"], cwd=root.parent) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
