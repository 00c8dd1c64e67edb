"""Configuration from environment variables, read once in each process's main and passed down.

A service declares a frozen dataclass (a subclass of `ProcessSettings`) whose fields carry
documented defaults; `load` fills it from `WATTLANE_<PREFIX>_<FIELD>` variables. Malformed values
fail at start-up with a message naming the variable, never later at first use. A field marked
`secret` may also come from a file (`..._FILE`, e.g. a mounted Kubernetes Secret) and is never
printed.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

REDACTED = "<redacted>"


def doc(help_text: str, *, secret: bool = False) -> dict[str, Any]:
    """Field metadata: what the variable means (printed by `settings`), and whether it is secret."""
    return {"help": help_text, "secret": secret}


def is_secret(field: dataclasses.Field[Any]) -> bool:
    return bool(field.metadata.get("secret"))


@dataclasses.dataclass(frozen=True)
class ProcessSettings:
    """What every Wattlane process reads; each service's settings class extends it."""

    metrics_port: int = dataclasses.field(
        default=-1, metadata=doc("HTTP side port: /metrics, /healthz, /readyz (0 = any free port, -1 = off)")
    )
    log_level: str = dataclasses.field(default="info", metadata=doc("debug, info, warning or error"))
    log_json: bool = dataclasses.field(default=True, metadata=doc("JSON lines (false: plain text)"))
    otlp_endpoint: str = dataclasses.field(
        default="", metadata=doc("OTLP gRPC endpoint for traces (empty = tracing off)")
    )
    drain_seconds: float = dataclasses.field(
        default=5.0,
        metadata=doc("after SIGTERM: seconds not-ready before stopping, so endpoints are removed first"),
    )
    grace_seconds: float = dataclasses.field(
        default=10.0, metadata=doc("after the drain: seconds in-flight calls get to finish")
    )


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
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        for member in kind:
            if raw.strip() in (str(member.value), member.name, member.name.lower()):
                return member
        allowed = ", ".join(str(m.value) for m in kind)
        raise SettingsError(f"{name} must be one of {allowed}, got {raw!r}")
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
        elif is_secret(field) and f"{name}_FILE" in env:
            values[field.name] = _read_secret(f"{name}_FILE", env[f"{name}_FILE"])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise SettingsError(f"{name} is required")
    return cls(**values)


def _read_secret(name: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as error:
        raise SettingsError(f"{name}: cannot read {path}: {error.strerror}") from None


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe(cls: type[Any], prefix: str) -> list[tuple[str, str, str]]:
    """(variable, default, help) for every field: what the README and `--help` print."""
    rows = []
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            default = _shown(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            default = "(computed)"
        else:
            default = "(required)"
        rows.append((env_name(prefix, field.name), default, str(field.metadata.get("help", ""))))
    return rows


def effective(settings: Any, prefix: str) -> list[tuple[str, str, str]]:
    """(variable, value in force, help) for every field, secrets redacted: what `settings` prints."""
    rows = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        shown = (REDACTED if value else "") if is_secret(field) else _shown(value)
        rows.append((env_name(prefix, field.name), shown, str(field.metadata.get("help", ""))))
    return rows
