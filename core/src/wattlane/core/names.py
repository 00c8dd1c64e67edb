"""Resource names (`tenants/{id}`, `users/{id}`) parsed and formatted in one place."""

from __future__ import annotations

import re

from wattlane.core.errors import InvalidArgument

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def format_name(collection: str, resource_id: str) -> str:
    return f"{collection}/{resource_id}"


def parse_name(name: str, collection: str, field: str = "name") -> str:
    """The id in `{collection}/{id}`; INVALID_ARGUMENT naming `field` when malformed."""
    prefix = collection + "/"
    if not name:
        raise InvalidArgument.field(field, f"is required (expected {collection}/{{id}})")
    if not name.startswith(prefix) or not _ID.fullmatch(name[len(prefix) :]):
        raise InvalidArgument.field(field, f"must look like {collection}/{{id}}, got {name[:80]!r}")
    return name[len(prefix) :]


def parse_optional_name(name: str, collection: str, field: str) -> str | None:
    """Like parse_name, but an empty value is None."""
    return parse_name(name, collection, field) if name else None
