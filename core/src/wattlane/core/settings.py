"""Configuration from environment variables, read once in each process's main and passed down.

A service declares a frozen dataclass whose fields carry documented defaults; `load` fills it
from `WATTLANE_<PREFIX>_<FIELD>` variables. Unknown or malformed values fail at start-up with a
message naming the variable, never later at first use.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """A configuration variable is malformed."""


def _convert(name: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if raw == "":
            return None
        return _convert(name, raw, args[0])
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if origin is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def env_name(prefix: str, field: str) -> str:
    """The environment variable that configures `field` of a settings class with `prefix`."""
    return f"WATTLANE_{prefix.upper()}_{field.upper()}" if prefix else f"WATTLANE_{field.upper()}"


def load(cls: type[T], prefix: str, environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Build settings of dataclass `cls` from the environment; `overrides` win over both."""
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise SettingsError(f"{cls.__name__} has no setting(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        name = env_name(prefix, field.name)
        if name in env:
            values[field.name] = _convert(name, env[name], hints[field.name])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise SettingsError(f"{name} is required")
    return cls(**values)


def describe(cls: type[Any], prefix: str) -> list[tuple[str, str, str]]:
    """(variable, default, help) for every field: what the README and `--help` print."""
    rows = []
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else "(required)"
        rows.append((env_name(prefix, field.name), str(default), str(field.metadata.get("help", ""))))
    return rows
