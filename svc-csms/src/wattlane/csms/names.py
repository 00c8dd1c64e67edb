"""Resource names of the CSMS API: `stations/{identity}`, `stations/{identity}/commands/{id}` and
`transactions/{number}` (identities keep the OCPP alphabet and OCPP 1.6 transaction ids are
numbers, so they are parsed here rather than with core's id pattern)."""

from __future__ import annotations

from wattlane.core.errors import InvalidArgument
from wattlane.core.names import parse_name
from wattlane.core.ocpp import validate_identity

STATIONS = "stations/"
ANY_STATION = "stations/-"  # AIP-159: every station the caller may read


def station_name(identity: str) -> str:
    """`stations/{identity}`."""
    return STATIONS + identity


def parse_station_name(name: str, field: str = "name") -> str:
    """The identity in `stations/{identity}`; INVALID_ARGUMENT naming `field` when malformed."""
    if not name:
        raise InvalidArgument.field(field, "is required (expected stations/{identity})")
    identity = name[len(STATIONS) :] if name.startswith(STATIONS) else ""
    if not validate_identity(identity):
        raise InvalidArgument.field(field, f"must look like stations/{{identity}}, got {name[:80]!r}")
    return identity


def parse_station_parent(parent: str) -> str | None:
    """A List parent: the identity of `stations/{identity}`, or None for `stations/-`."""
    if parent == ANY_STATION:
        return None
    return parse_station_name(parent, "parent")


def parse_identity(identity: str, field: str = "identity") -> str:
    """A bare OCPP identity from a request field."""
    if not validate_identity(identity):
        raise InvalidArgument.field(field, "must be an OCPP identity (1-48 letters, digits, *-_=+|@.)")
    return identity


def command_name(identity: str, command_id: str) -> str:
    """`stations/{identity}/commands/{id}`."""
    return f"stations/{identity}/commands/{command_id}"


def parse_command_name(name: str, field: str = "name") -> tuple[str, str]:
    """(identity, command id) of `stations/{identity}/commands/{id}`; INVALID_ARGUMENT naming `field`."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "stations" or parts[2] != "commands" or not validate_identity(parts[1]):
        raise InvalidArgument.field(field, "must look like stations/{identity}/commands/{id}")
    if not parts[3] or len(parts[3]) > 32 or not parts[3].isalnum():
        raise InvalidArgument.field(field, "has a malformed command id")
    return parts[1], parts[3]


def transaction_name(transaction_id: int) -> str:
    """`transactions/{id}`."""
    return f"transactions/{transaction_id}"


def parse_transaction_name(name: str, field: str = "name") -> int:
    """The number in `transactions/{number}`; INVALID_ARGUMENT naming `field` when malformed."""
    raw = parse_name(name, "transactions", field)
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument.field(field, "must look like transactions/{number}")
    return int(raw)
