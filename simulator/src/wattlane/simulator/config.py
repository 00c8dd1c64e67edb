"""A simulated station's configuration: OCPP 1.6 keys (GetConfiguration / ChangeConfiguration)
and the same settings as OCPP 2.0.1 device-model variables (GetVariables / SetVariables).

One store for both versions, so a value set in either reads back in either: a 2.0.1 variable is
a (component, variable) name for one of the keys. What is set is what the station does —
HeartbeatInterval is the period of its heartbeat loop (the BootNotification answer's interval
until changed), AuthorizeRemoteTxRequests whether a remote start first asks Authorize."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEARTBEAT_INTERVAL = "HeartbeatInterval"
AUTHORIZE_REMOTE = "AuthorizeRemoteTxRequests"
NUMBER_OF_CONNECTORS = "NumberOfConnectors"
DISPLAY_COSTS = "CustomDisplayCostAndPrice"  # 1.6 California pricing: the station shows costs

# 2.0.1 (component, variable) → the 1.6 key holding its value.
VARIABLES: dict[tuple[str, str], str] = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): HEARTBEAT_INTERVAL,
    ("AuthCtrlr", "AuthorizeRemoteStart"): AUTHORIZE_REMOTE,
    ("EVSE", "Count"): NUMBER_OF_CONNECTORS,
}
_COMPONENTS = {component for component, _ in VARIABLES}


def _positive_number(value: str) -> bool:
    try:
        return float(value) > 0
    except ValueError:
        return False


def _boolean(value: str) -> bool:
    return value.lower() in ("true", "false")


_VALID: dict[str, Callable[[str], bool]] = {HEARTBEAT_INTERVAL: _positive_number, AUTHORIZE_REMOTE: _boolean}


def seconds_text(seconds: float) -> str:
    """Seconds as a configuration value ("300", or "0.05" for the tests' short periods)."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@dataclass
class StationConfig:
    """The keys, their values and which are read-only; `on_change(key)` runs after a change."""

    values: dict[str, str] = field(
        default_factory=lambda: {
            HEARTBEAT_INTERVAL: "300",
            AUTHORIZE_REMOTE: "true",
            NUMBER_OF_CONNECTORS: "1",
            DISPLAY_COSTS: "true",
        }
    )
    readonly: frozenset[str] = frozenset({NUMBER_OF_CONNECTORS, DISPLAY_COSTS})
    on_change: Callable[[str], None] | None = None

    def get(self, key: str) -> str | None:
        """The value of `key` (None: no such key)."""
        return self.values.get(key)

    def flag(self, key: str) -> bool:
        """A boolean key's value."""
        return (self.values.get(key) or "").lower() == "true"

    def put(self, key: str, value: str) -> None:
        """Set a value as the station itself does (e.g. from the boot answer), read-only or not."""
        changed = self.values.get(key) != value
        self.values[key] = value
        if changed and self.on_change is not None:
            self.on_change(key)

    def change(self, key: str, value: str) -> str:
        """A ChangeConfiguration: "Accepted", "Rejected" (read-only or a bad value) or
        "NotSupported" (no such key)."""
        if key not in self.values:
            return "NotSupported"
        valid = _VALID.get(key)
        if key in self.readonly or (valid is not None and not valid(value)):
            return "Rejected"
        self.put(key, value)
        return "Accepted"

    # -- OCPP 1.6 ------------------------------------------------------------------------------

    def get_configuration(self, keys: list[str]) -> dict[str, Any]:
        """A GetConfiguration.conf for `keys` (all when empty)."""
        wanted = keys or list(self.values)
        answer: dict[str, Any] = {
            "configurationKey": [
                {"key": k, "readonly": k in self.readonly, "value": self.values[k]}
                for k in wanted
                if k in self.values
            ]
        }
        unknown = [k for k in wanted if k not in self.values]
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    # -- OCPP 2.0.1 ----------------------------------------------------------------------------

    def _key(self, item: dict[str, Any]) -> tuple[str | None, str]:
        """The key a GetVariableData / SetVariableData names, or None with the status saying why."""
        component = str((item.get("component") or {}).get("name", ""))
        variable = str((item.get("variable") or {}).get("name", ""))
        if component not in _COMPONENTS:
            return None, "UnknownComponent"
        key = VARIABLES.get((component, variable))
        return (key, "Accepted") if key is not None else (None, "UnknownVariable")

    def get_variables(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """A GetVariablesResponse for `getVariableData` (the Actual attribute only)."""
        results = []
        for item in items:
            key, status = self._key(item)
            if key is not None and item.get("attributeType", "Actual") != "Actual":
                key, status = None, "NotSupportedAttributeType"
            result: dict[str, Any] = {
                "attributeStatus": status,
                "component": item["component"],
                "variable": item["variable"],
            }
            if key is not None:
                result["attributeValue"] = self.values[key]
            results.append(result)
        return {"getVariableResult": results}

    def set_variables(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """A SetVariablesResponse for `setVariableData`, each value set as ChangeConfiguration would."""
        results = []
        for item in items:
            key, status = self._key(item)
            if key is not None and item.get("attributeType", "Actual") != "Actual":
                status = "NotSupportedAttributeType"
            elif key is not None:
                status = (
                    "Accepted" if self.change(key, str(item["attributeValue"])) == "Accepted" else "Rejected"
                )
            results.append(
                {"attributeStatus": status, "component": item["component"], "variable": item["variable"]}
            )
        return {"setVariableResult": results}
