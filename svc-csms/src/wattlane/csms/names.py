"""Resource names of the CSMS API: `stations/{identity}` (identities keep the OCPP alphabet, so
they are parsed here rather than with core's id pattern)."""

from __future__ import annotations

from wattlane.core.errors import InvalidArgument
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
