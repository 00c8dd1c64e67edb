"""Field rules shared by assets' resources; each raises INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import re

from wattlane.core import ocpp
from wattlane.core.errors import InvalidArgument

ACCESS_MODES = ("OPEN", "WHITELIST", "ROAMING", "ROAMING_WHITELIST")
_RATE_PLAN = re.compile(r"tariffs/[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_POWER_W = 10_000_000  # 10 MW: no charging point or grid connection we manage is larger


def ocpp_identity(value: str, field: str) -> str:
    """A valid OCPP station identity (see wattlane.core.ocpp)."""
    if not value:
        raise InvalidArgument.field(field, "is required")
    if len(value) > ocpp.MAX_IDENTITY_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {ocpp.MAX_IDENTITY_LENGTH} characters (OCPP-J)")
    if not ocpp.validate_identity(value):
        raise InvalidArgument.field(field, "may only hold letters, digits and * - _ = + | @ . (OCPP-J)")
    return value


def id_token(value: str, field: str) -> str:
    """A card UID / idTag in its canonical upper-case form."""
    normalized = ocpp.normalize_id_token(value)
    if normalized is None:
        raise InvalidArgument.field(
            field, f"must be 1-{ocpp.MAX_ID_TOKEN_LENGTH} of letters, digits and * - _ = : + | @ ."
        )
    return normalized


def power(value: int, field: str) -> int:
    """A power in W: not negative, at most MAX_POWER_W."""
    if value < 0:
        raise InvalidArgument.field(field, "must not be negative")
    if value > MAX_POWER_W:
        raise InvalidArgument.field(field, f"must be at most {MAX_POWER_W} W")
    return value


def rate_plan(value: str, field: str) -> str:
    """A rate plan reference: billing's `tariffs/{id}` (whether it exists is asked of billing,
    see `tariffs.check_reference`), or empty for none."""
    if value and not _RATE_PLAN.fullmatch(value):
        raise InvalidArgument.field(field, f"must look like tariffs/{{id}}, got {value[:80]!r}")
    return value


def access_mode(value: str, field: str) -> str:
    """One of the access mode names."""
    if value not in ACCESS_MODES:
        raise InvalidArgument.field(field, f"must be one of {', '.join(ACCESS_MODES)}")
    return value


def currency(value: str, field: str) -> str:
    """An ISO 4217 currency code."""
    if not _CURRENCY.fullmatch(value):
        raise InvalidArgument.field(field, "must be an ISO 4217 code like EUR")
    return value


def coordinate(value: float, field: str, limit: float) -> float:
    """A latitude or longitude within +-`limit` degrees."""
    if not -limit <= value <= limit:
        raise InvalidArgument.field(field, f"must be between -{limit:g} and {limit:g}")
    return value
