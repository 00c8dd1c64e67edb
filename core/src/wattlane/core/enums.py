"""Proto enum numbers from requests as the names the domain stores.

A client may send any number (proto3 enums are open): a number this API version does not define
is INVALID_ARGUMENT naming the field, never a ValueError from `EnumTypeWrapper.Name`."""

from __future__ import annotations

from typing import Any

from wattlane.core.errors import InvalidArgument


def enum_name(enum: Any, number: int, field: str) -> str:
    """The name of `number` in `enum` (a generated `EnumTypeWrapper`, top-level or nested), the
    zero value's (`…_UNSPECIFIED`) included; INVALID_ARGUMENT naming `field` for a number the
    enum does not define. Callers that store "" for unset write `enum_name(...) if n else ""`."""
    try:
        return str(enum.Name(number))
    except ValueError:
        known = ", ".join(name for name, value in enum.items() if value)
        raise InvalidArgument.field(field, f"is not a known value ({number}); known: {known}") from None
