"""The official OCPP JSON schemas (shipped in the `ocpp` package), compiled once with fastjsonschema.

Each schema is compiled on first use and cached; a compiled validator costs a few microseconds per
message, where the `ocpp` package's jsonschema path costs hundreds (see TOOLING.md).

Schema violations map to OCPP-J error kinds by the spec's definitions of the codes:
- payload not an object, unknown property (`additionalProperties`) → FORMAT: the payload does not
  conform to the PDU structure of the action;
- wrong JSON type, or a string longer/shorter than its CiStringNType allows → TYPE: OCPP defines
  the length as part of the data type;
- missing required field, too many/few array items or properties → OCCURRENCE;
- a value outside its enumeration, range, pattern or format → PROPERTY ("a field contains an
  invalid value").
"""

from __future__ import annotations

import importlib.resources
import threading
from collections.abc import Callable
from typing import Any, Final

import fastjsonschema
import orjson

from wattlane.csms.protocol.errors import ErrorKind, OcppError, OcppVersion

Validator = Callable[[Any], Any]

_PACKAGE_DIRS: Final = {OcppVersion.V16: "v16", OcppVersion.V201: "v201"}
_REQUEST_SUFFIX: Final = {OcppVersion.V16: "", OcppVersion.V201: "Request"}

_RULE_KINDS: Final = {
    "type": ErrorKind.TYPE,
    "maxLength": ErrorKind.TYPE,
    "minLength": ErrorKind.TYPE,
    "required": ErrorKind.OCCURRENCE,
    "minItems": ErrorKind.OCCURRENCE,
    "maxItems": ErrorKind.OCCURRENCE,
    "minProperties": ErrorKind.OCCURRENCE,
    "maxProperties": ErrorKind.OCCURRENCE,
    "additionalProperties": ErrorKind.FORMAT,
    "enum": ErrorKind.PROPERTY,
    "const": ErrorKind.PROPERTY,
    "minimum": ErrorKind.PROPERTY,
    "maximum": ErrorKind.PROPERTY,
    "exclusiveMinimum": ErrorKind.PROPERTY,
    "exclusiveMaximum": ErrorKind.PROPERTY,
    "multipleOf": ErrorKind.PROPERTY,
    "pattern": ErrorKind.PROPERTY,
    "format": ErrorKind.PROPERTY,
}


def schema_kind(rule: str | None, path: list[str] | None) -> ErrorKind:
    """Map a fastjsonschema failure (its rule and data path) to an OCPP error kind."""
    if rule == "type" and (not path or path == ["data"]):
        return ErrorKind.FORMAT  # the payload itself is not an object
    return _RULE_KINDS.get(rule or "", ErrorKind.FORMAT)


class SchemaSet:
    """The request and response schemas of one OCPP version."""

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        self._dir = importlib.resources.files("ocpp") / _PACKAGE_DIRS[version] / "schemas"
        suffix = _REQUEST_SUFFIX[version]
        names = [p.name[: -len(".json")] for p in self._dir.iterdir() if p.name.endswith(".json")]
        responses = {n[: -len("Response")] for n in names if n.endswith("Response")}
        if suffix:
            requests = {n[: -len(suffix)] for n in names if n.endswith(suffix)}
        else:
            requests = {n for n in names if not n.endswith("Response")}
        self.actions: frozenset[str] = frozenset(requests & responses)
        self._validators: dict[tuple[str, bool], Validator] = {}
        self._lock = threading.Lock()

    def _validator(self, action: str, response: bool) -> Validator:
        key = (action, response)
        validator = self._validators.get(key)
        if validator is None:
            with self._lock:  # compile each schema once even if threads race (benchmarks, tests)
                validator = self._validators.get(key)
                if validator is None:
                    name = f"{action}{'Response' if response else _REQUEST_SUFFIX[self.version]}.json"
                    # Some of the shipped files start with a UTF-8 BOM.
                    schema = orjson.loads((self._dir / name).read_text(encoding="utf-8-sig"))
                    validator = fastjsonschema.compile(schema)
                    self._validators[key] = validator
        return validator

    def validate_request(self, action: str, payload: Any) -> None:
        """Raise `OcppError` when `payload` is not a valid request of `action`."""
        validator = self._validators.get((action, False)) or self._validator(action, False)
        _run(validator, action, payload)

    def validate_response(self, action: str, payload: Any) -> None:
        """Raise `OcppError` when `payload` is not a valid response to `action`."""
        _run(self._validator(action, True), action, payload)

    def warm(self) -> None:
        """Compile every schema now (startup in production, so the first message pays nothing)."""
        for action in self.actions:
            self._validator(action, False)
            self._validator(action, True)


def _run(validator: Validator, action: str, payload: Any) -> None:
    try:
        validator(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        path = list(exc.path) if exc.path else None
        message = exc.message
        # fastjsonschema names the payload "data": say "payload" / the field's own name instead.
        if message.startswith("data."):
            message = message[len("data.") :]
        elif message.startswith("data"):
            message = "payload" + message[len("data") :]
        raise OcppError(
            schema_kind(exc.rule, path),
            f"{action}: {message}",
            {"field": ".".join(str(p) for p in path[1:]) if path else "", "rule": exc.rule or ""},
        ) from None
    except Exception as exc:  # a validator bug must not reach the socket as a traceback
        raise OcppError(ErrorKind.FORMAT, f"{action}: payload could not be validated: {exc}") from None


_SETS: dict[OcppVersion, SchemaSet] = {}


def schema_set(version: OcppVersion) -> SchemaSet:
    """Return the (process-wide, lazily built) schema set of `version`."""
    found = _SETS.get(version)
    if found is None:
        found = _SETS.setdefault(version, SchemaSet(version))
    return found
