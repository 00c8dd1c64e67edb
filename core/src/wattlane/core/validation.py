"""Field validators every service uses; each raises INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import re
import zoneinfo
from urllib.parse import urlparse

from wattlane.core.errors import InvalidArgument

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_LOCALE = re.compile(r"^[a-z]{2,3}(?:-[A-Z]{2})?$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def text(value: str, field: str, *, max_length: int = 200, required: bool = True) -> str:
    """Trimmed text of at most `max_length` characters, without control characters."""
    value = value.strip()
    if required and not value:
        raise InvalidArgument.field(field, "is required")
    if len(value) > max_length:
        raise InvalidArgument.field(field, f"must be at most {max_length} characters")
    if any(ord(c) < 32 for c in value):
        raise InvalidArgument.field(field, "must not contain control characters")
    return value


def email(value: str, field: str) -> str:
    """A normalized (lower-case) e-mail address."""
    value = value.strip().lower()
    if not value:
        raise InvalidArgument.field(field, "is required")
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidArgument.field(field, f"is not a valid e-mail address: {value[:80]!r}")
    return value


def locale(value: str, field: str) -> str:
    """A BCP 47 language tag of the simple form `nl` or `nl-BE`."""
    if not _LOCALE.fullmatch(value):
        raise InvalidArgument.field(field, f"must be a language tag like 'en' or 'nl-BE', got {value[:20]!r}")
    return value


def time_zone(value: str, field: str) -> str:
    """An IANA time zone name (Europe/Amsterdam)."""
    try:
        zoneinfo.ZoneInfo(value)
    # A name may reach the file system (a directory such as "Europe", a name too long for it):
    # with the tzdata package those surface as OSError rather than ZoneInfoNotFoundError.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidArgument.field(field, f"is not an IANA time zone: {value[:64]!r}") from None
    return value


def country(value: str, field: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper case (NL, ES)."""
    value = value.strip().upper()
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise InvalidArgument.field(
            field, f"must be an ISO 3166-1 alpha-2 country code like 'NL', got {value[:8]!r}"
        )
    return value


def color(value: str, field: str) -> str:
    if not _COLOR.fullmatch(value):
        raise InvalidArgument.field(field, "must be a colour like #1a2b3c")
    return value.lower()


def https_url(value: str, field: str) -> str:
    problem = InvalidArgument.field(field, "must be an https:// URL of at most 500 characters")
    try:
        parsed = urlparse(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise problem from None
    if parsed.scheme != "https" or not parsed.netloc or len(value) > 500:
        raise problem
    return value


def hostname(value: str, field: str) -> str:
    value = value.strip().lower()
    if not _HOSTNAME.fullmatch(value):
        raise InvalidArgument.field(field, f"is not a valid domain name: {value[:80]!r}")
    return value
