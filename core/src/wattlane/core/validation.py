"""Field validators every service uses; each raises INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any
from urllib.parse import urlparse

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

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


MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, less its angle brackets


def email(value: str, field: str) -> str:
    """A normalized (lower-case) e-mail address."""
    value = value.strip().lower()
    if not value:
        raise InvalidArgument.field(field, "is required")
    if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(value):
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


def nul_character_field(message: Message, prefix: str = "") -> str | None:
    """The path of the first text field of a request holding a NUL character (None if none).

    No stored text holds one (`text` refuses control characters) and PostgreSQL refuses it even
    as a query parameter, so the server interceptor refuses such a request up front, naming the
    field, instead of a lookup failing with INTERNAL. Message types without text are skipped
    (meter samples by the thousand cost nothing)."""
    if not _has_text(message.DESCRIPTOR):
        return None
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.type == FieldDescriptor.TYPE_STRING:
            texts = enumerate(value) if field.is_repeated else [(None, value)]
            for i, text in texts:
                if "\x00" in text:
                    return path if i is None else f"{path}[{i}]"
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if _is_map(field):
                for key, item in value.items():
                    where = f"{path}[{key!r}]"
                    if isinstance(key, str) and "\x00" in key:
                        return path
                    if isinstance(item, str) and "\x00" in item:
                        return where
                    if isinstance(item, Message) and (found := nul_character_field(item, f"{where}.")):
                        return found
            elif field.is_repeated:
                for i, item in enumerate(value):
                    if found := nul_character_field(item, f"{path}[{i}]."):
                        return found
            elif found := nul_character_field(value, f"{path}."):
                return found
    return None


def _is_map(field: Any) -> bool:
    return bool(field.message_type.GetOptions().map_entry)


_TEXT_TYPES: dict[str, bool] = {}


def _has_text(descriptor: Any) -> bool:
    """Whether a message type holds a string field anywhere inside it (cached per type)."""
    name = descriptor.full_name
    if name not in _TEXT_TYPES:
        _TEXT_TYPES[name] = False  # a recursive type (Struct) meets itself: assume no, then look
        _TEXT_TYPES[name] = any(
            field.type == FieldDescriptor.TYPE_STRING
            or (field.type == FieldDescriptor.TYPE_MESSAGE and _has_text(field.message_type))
            for field in descriptor.fields
        )
    return _TEXT_TYPES[name]
