"""The signed-in CLI session: which identity service, which token (kept in a small file)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_IDENTITY = "127.0.0.1:50051"


def home() -> Path:
    """Where the CLI keeps its session (WATTLANE_HOME, else ~/.config/wattlane)."""
    return Path(os.environ.get("WATTLANE_HOME") or Path.home() / ".config" / "wattlane")


@dataclass
class Session:
    identity: str = DEFAULT_IDENTITY
    token: str = ""
    email: str = ""

    @classmethod
    def load(cls) -> Session:
        path = home() / "session.json"
        session = cls(**json.loads(path.read_text())) if path.exists() else cls()
        session.identity = os.environ.get("WATTLANE_IDENTITY_ADDRESS", session.identity)
        return session

    def save(self) -> Path:
        path = home() / "session.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    def clear(self) -> None:
        (home() / "session.json").unlink(missing_ok=True)
