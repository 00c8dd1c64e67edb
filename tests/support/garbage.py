"""Garbage requests for any gRPC method, built from its descriptor alone (the robustness walk).

Every value is one a client can really send on the wire and a service must answer with a clear
status (INVALID_ARGUMENT, NOT_FOUND, ...), never INTERNAL or UNKNOWN: enum numbers no version of
the API defines, Timestamps and Durations outside what a datetime holds, 100k-character strings,
malformed resource names, negative and huge page sizes, bad page tokens and field masks, NaN.
Deterministic: one `random.Random` seeded per method."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

LONG = "x" * 100_000
MALFORMED_NAMES = (
    "",
    "tenants/../x",
    "a/b/c/d",
    "tenants/",
    "tenants//x",
    "tenants/-",
    "tenants/%2e%2e",
    "tenants/\x00",
    "/",
    "tenants/" + "9" * 64,
    "tenants/x/locations/../../y",
    "tenants/-/users/-",
    "tenants/123/roles/456/x",
    LONG,
)
STRINGS = ("", " ", "\x00\x01\x7f", "💥" * 20, "-1", "9" * 40, "null", "' OR 1=1 --", LONG)
FILTERS = (
    "((((", "x = ", 'time >= "yesterday"', "kind = SPACESHIP", 'name = "\\"', "create_time > 1e400",
    "a = 1 AND " * 2000 + "a = 1", "NOT NOT NOT", LONG,
)  # fmt: skip
PAGE_TOKENS = ("garbage", "!!!", "eyJ4IjoxfQ", "AAAA", "-1", LONG)
FIELD_MASKS = (["no_such_field"], ["", "a..b"], ["*"], ["name.no.such.path"], [LONG])
# Seconds of 0001-01-01 and 9999-12-31T23:59:59 (what a datetime holds), and well beyond them.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
TIMESTAMPS = (
    (_MAX_SECONDS + 1, 0),
    (_MIN_SECONDS - 1, 0),
    (2**62, 0),
    (-(2**62), 0),
    (0, -1),
    (0, 2_000_000_000),
)
DURATIONS = ((10**12, 0), (-(10**12), 0), (2**62, 0), (1, -5), (0, 2_000_000_000))
UNKNOWN_ENUMS = (999, -5, 2**31 - 1)
INT32 = (-1, -(2**31), 2**31 - 1, 10**9)
INT64 = (-1, -(2**63), 2**63 - 1, 10**15)
UINT32 = (2**32 - 1, 0)
UINT64 = (2**64 - 1, 0)
FLOATS = (math.nan, math.inf, -math.inf, 1e308, -1e308)
BYTES = (b"", b"\xff" * 64, b"\x00" * 100_000)

# The kinds of garbage a whole request can be filled with, field by field where they apply.
KINDS = (
    "unknown_enum",
    "timestamp_late",
    "timestamp_early",
    "timestamp_nanos",
    "long_string",
    "malformed_name",
    "negative_number",
    "huge_number",
    "not_a_number",
    "bad_page",
    "bad_field_mask",
)
_MAX_DEPTH = 4


def _is_name(field: Field) -> bool:
    return (
        field.name in ("name", "parent")
        or field.name.endswith(("_name", "_names", "_parent"))
        or _reference(field) is not None
    )


# Resources whose message (or method) noun is not their collection's.
_NOUN_COLLECTIONS = {"OrganizationSettings": "assetSettings", "TariffVersions": "tariffs"}
# Reference fields whose name is not their collection's.
_ALIASES = {
    "organization": "tenants",
    "customer": "tenants",
    "partner": "tenants",
    "tenant": "tenants",
    "home_of": "tenants",
    "actor": "users",
    "holder": "users",
    "account": "accounts",
    "application": "applications",
}
_COLLECTIONS = {
    "tenants", "users", "roles", "roleBindings", "accounts", "applications", "locations",
    "chargingPoints", "connectors", "cards", "whitelistEntries", "tariffs", "chargeRecords",
    "transactions", "commands", "stations", "serviceAccounts",
}  # fmt: skip


def _reference(field: Field) -> str | None:
    """The collection a string field refers to (`user` -> `users`), if it looks like a reference."""
    if field.type != FieldDescriptor.TYPE_STRING:
        return None
    word = field.name.removesuffix("s") if field.is_repeated else field.name
    if word in _ALIASES:
        return _ALIASES[word]
    head, *rest = word.split("_")
    collection = head + "".join(w.title() for w in rest) + "s"
    return collection if collection in _COLLECTIONS else None


# What a field a service refused may take instead (the walk repairs its plausible requests).
REPAIR_STRINGS = (
    "NL", "EUR", "Europe/Amsterdam", "en", "robust@wattlane.test", "https://example.com/robust",
    "ROBUST-1", "04A1B2C3D4E5F6", "2026-01-15", "business", "logistics", "1.6", "ocpp1.6",
    "#112233", "Robust", "1", "stations/ROBUST-1", "TYPE_2", "Available", "Reset",
)  # fmt: skip

# Plausible values by field name, so garbage in one field meets a request valid elsewhere.
PLAUSIBLE_STRINGS = {
    "email": "robust@wattlane.test",
    "country": "NL",
    "currency": "EUR",
    "time_zone": "Europe/Amsterdam",
    "language": "en",
    "locale": "en",
    "color": "#112233",
    "password": "Robust-password-1",
    "page_token": "",
    "etag": "",
    "filter": "",
    "order_by": "",
}


@dataclass
class Garbage:
    """Fills requests of one method; `rng` seeded by the caller. `names` are real resources of
    the stack by collection (`tenants`, `chargingPoints`...), for plausible references."""

    rng: random.Random
    names: Mapping[str, str] = dataclass_field(default_factory=dict)  # collection -> a real resource
    plausible_names: bool = True

    def plausible(self, cls: Callable[[], Message]) -> Message:
        """A request of values that pass validation where the walk can guess them (real
        resource names for references, a country for `country`...)."""
        base = cls()
        self._plausible(base, 0)
        return base

    def repairs(self, base: Message, path: str) -> Iterator[Message]:
        """Copies of `base` with the field at `path` (a BadRequest field path such as
        `charging_point.connectors[0].type`) set to each other plausible value, or cleared."""
        segments = [re.sub(r"\[\d+\]$", "", part) for part in path.split(".")]
        descriptor: Any = base.DESCRIPTOR
        fields: list[Field] = []
        for segment in segments:
            if descriptor is None or segment not in descriptor.fields_by_name:
                return
            found = descriptor.fields_by_name[segment]
            fields.append(found)
            descriptor = found.message_type
        leaf = fields[-1]
        if (
            leaf.type == FieldDescriptor.TYPE_MESSAGE
            and leaf.message_type.full_name == "google.protobuf.FieldMask"
        ):
            yield from self._mask_repairs(base, leaf)
            return
        if leaf.type == FieldDescriptor.TYPE_MESSAGE:
            options: list[object] = [None]
        elif leaf.type == FieldDescriptor.TYPE_ENUM:
            options = [v.number for v in leaf.enum_type.values]
        elif leaf.type == FieldDescriptor.TYPE_STRING:
            options = (
                [*sorted(set(self.names.values())), *REPAIR_STRINGS, None]
                if self.plausible_names
                else [
                    *REPAIR_STRINGS,
                    None,
                ]
            )
        elif leaf.type == FieldDescriptor.TYPE_BOOL:
            options = [True, False]
        elif leaf.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            options = [0.0, 10.0, 52.37]
        else:
            options = [0, 10, 100, 1000, 20]
        for value in options:
            copy = type(base)()
            copy.CopyFrom(base)
            target = copy
            for field in fields[:-1]:
                if field.is_repeated:
                    items = getattr(target, field.name)
                    target = items[0] if len(items) else items.add()
                else:
                    target = getattr(target, field.name)
            if value is None:
                target.ClearField(leaf.name)
            elif leaf.is_repeated:
                items = getattr(target, leaf.name)
                del items[:]
                items.append(value)
            else:
                setattr(target, leaf.name, value)
            yield copy

    def _mask_repairs(self, base: Message, leaf: Field) -> Iterator[Message]:
        """Copies of an Update request whose mask names one field of the resource at a time."""
        for path in _mask_paths(base.DESCRIPTOR):
            copy = type(base)()
            copy.CopyFrom(base)
            mask = getattr(copy, leaf.name)
            del mask.paths[:]
            mask.paths.append(path)
            yield copy

    def requests(
        self, descriptor: Any, cls: Callable[[], Message], per_field: int, base: Message
    ) -> Iterator[tuple[str, Message]]:
        """(label, request): the empty request, `base` (plausible), `base` filled with each kind
        of garbage, a few requests of random garbage, then `base` with one leaf field of garbage
        (up to `per_field`, shallow fields first)."""
        yield "empty", cls()
        yield "plausible", base
        for kind in KINDS:
            message = cls()
            message.CopyFrom(base)
            if self._fill(message, kind, 0):
                yield kind, message
        for n in range(3):
            message = cls()
            self._fill(message, "random", 0)
            yield f"random#{n}", message
        paths = list(_leaf_paths(descriptor, (), 0))
        self.rng.shuffle(paths)
        paths.sort(key=len)  # stable: shuffled within each depth
        for path in paths[:per_field]:
            message = cls()
            message.CopyFrom(base)
            _narrow_mask(message, path)
            value = self._set_path(message, path)
            yield f"{'.'.join(f.name for f in path)}={value}", message

    def _plausible(self, message: Message, depth: int) -> None:
        """Fill `message` with values that pass validation where the walk can guess them."""
        for field in _fields_of(message.DESCRIPTOR):
            oneof = field.containing_oneof
            if (
                oneof is not None
                and not oneof.name.startswith("_")
                and message.WhichOneof(oneof.name) is not None
            ):
                continue
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                full = field.message_type.full_name
                if field.message_type.GetOptions().map_entry or depth >= _MAX_DEPTH:
                    continue
                child = (
                    getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name)
                )
                if full == "google.protobuf.Timestamp":
                    child.seconds = 1_800_000_000  # type: ignore[attr-defined]
                elif full == "google.protobuf.Duration":
                    child.seconds = 60  # type: ignore[attr-defined]
                elif full == "google.protobuf.FieldMask":
                    child.paths.extend(_mask_paths(message.DESCRIPTOR))  # type: ignore[attr-defined]
                elif full.startswith("google.protobuf."):
                    continue
                else:
                    self._plausible(child, depth + 1)
                continue
            value = self._plausible_scalar(field)
            if value is _SKIP:
                continue
            if field.is_repeated:
                getattr(message, field.name).append(value)
            else:
                setattr(message, field.name, value)

    def _real_name(self, field: Field) -> str | None:
        """A real resource name for a reference field, guessed from its name or its message's."""
        if field.name == "name":
            noun = field.containing_type.name
            if noun.endswith("Request"):  # GetChargingPointRequest -> ChargingPoint
                noun = re.sub(r"^[A-Z][a-z]+(?=[A-Z])", "", noun.removesuffix("Request"))
            collection = _NOUN_COLLECTIONS.get(noun, noun[:1].lower() + noun[1:] + "s")
        elif field.name == "parent":
            collection = "tenants"
        else:
            collection = _reference(field) or ""
        return self.names.get(collection)

    def _plausible_scalar(self, field: Field) -> object:
        t = field.type
        if t == FieldDescriptor.TYPE_ENUM:
            numbers = [v.number for v in field.enum_type.values if v.number]
            return numbers[0] if numbers else _SKIP
        if t == FieldDescriptor.TYPE_STRING:
            if _is_name(field) or _reference(field) is not None:
                real = self._real_name(field)
                return real if self.plausible_names and real else _SKIP
            for key, value in PLAUSIBLE_STRINGS.items():
                if key in field.name:
                    return value
            if field.name.endswith("url"):
                return "https://example.com/robust"
            return f"Robust {field.name}"
        if t in _INTS or t in _UNSIGNED:
            return 10 if field.name == "page_size" else 1
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return 1.0
        return _SKIP

    # --- whole-request fills -------------------------------------------------------------------

    def _fill(self, message: Message, kind: str, depth: int) -> bool:
        """Fill every field of `message` the kind applies to; True when any was set."""
        touched = False
        seen_oneofs: set[str] = set()
        for field in _fields_of(message.DESCRIPTOR):
            oneof = field.containing_oneof
            if oneof is not None and not oneof.name.startswith("_"):
                if oneof.name in seen_oneofs and self.rng.random() < 0.5:
                    continue
                seen_oneofs.add(oneof.name)
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if field.message_type.GetOptions().map_entry:
                    continue
                if depth >= _MAX_DEPTH:
                    continue
                if field.is_repeated:
                    child = getattr(message, field.name).add()
                else:
                    child = getattr(message, field.name)
                if self._fill_message(child, kind, depth + 1):
                    touched = True
                elif field.is_repeated:
                    getattr(message, field.name).pop()
                else:
                    message.ClearField(field.name)
                continue
            value = self._scalar(field, kind)
            if value is _SKIP:
                continue
            if field.is_repeated:
                getattr(message, field.name).append(value)
            else:
                setattr(message, field.name, value)
            touched = True
        return touched

    def _fill_message(self, message: Message, kind: str, depth: int) -> bool:
        full = message.DESCRIPTOR.full_name
        if full == "google.protobuf.Timestamp":
            pair = self._timestamp(kind)
            if pair is None:
                return False
            message.seconds, message.nanos = pair  # type: ignore[attr-defined]
            return True
        if full == "google.protobuf.Duration":
            if kind not in ("random", "negative_number", "huge_number", "timestamp_nanos"):
                return False
            message.seconds, message.nanos = self._pick(DURATIONS)  # type: ignore[attr-defined]
            return True
        if full == "google.protobuf.FieldMask":
            if kind not in ("random", "bad_field_mask", "long_string"):
                return False
            message.paths.extend([LONG] if kind == "long_string" else self._pick(FIELD_MASKS))  # type: ignore[attr-defined]
            return True
        if full in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
            return False  # free-form JSON: every shape is valid
        return self._fill(message, kind, depth)

    def _timestamp(self, kind: str) -> tuple[int, int] | None:
        if kind == "timestamp_late":
            return TIMESTAMPS[0]
        if kind == "timestamp_early":
            return TIMESTAMPS[1]
        if kind == "timestamp_nanos":
            return TIMESTAMPS[4]
        if kind in ("random", "huge_number", "negative_number"):
            pair: tuple[int, int] = self._pick(TIMESTAMPS)
            return pair
        return None

    def _scalar(self, field: Field, kind: str) -> object:
        t = field.type
        if kind == "random":
            return self._random_scalar(field)
        if t == FieldDescriptor.TYPE_ENUM:
            return self._pick(UNKNOWN_ENUMS) if kind in ("unknown_enum", "huge_number") else _SKIP
        if t == FieldDescriptor.TYPE_STRING:
            if kind == "long_string":
                return LONG
            if kind == "malformed_name" and _is_name(field):
                return self._pick(MALFORMED_NAMES)
            if kind == "bad_page" and field.name == "page_token":
                return self._pick(PAGE_TOKENS)
            if kind == "bad_page" and field.name in ("filter", "order_by"):
                return self._pick(FILTERS)
            return _SKIP
        if t in _INTS:
            if kind == "negative_number":
                return -1 if t not in _UNSIGNED else _SKIP
            if kind == "huge_number":
                return _INTS[t][-1] if t not in _UNSIGNED else _UNSIGNED[t][0]
            if kind == "bad_page" and field.name == "page_size":
                return self._pick((-1, -(2**31), 2**31 - 1))
            return _SKIP
        if t in _UNSIGNED:
            return _UNSIGNED[t][0] if kind == "huge_number" else _SKIP
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            if kind == "not_a_number":
                return self._pick((math.nan, math.inf, -math.inf))
            if kind == "huge_number":
                return 1e308 if t == FieldDescriptor.TYPE_DOUBLE else 3e38
            if kind == "negative_number":
                return -1.0
            return _SKIP
        if t == FieldDescriptor.TYPE_BYTES:
            return BYTES[2] if kind == "long_string" else _SKIP
        return _SKIP

    def _random_scalar(self, field: Field) -> object:
        t = field.type
        if t == FieldDescriptor.TYPE_ENUM:
            return self._pick(UNKNOWN_ENUMS)
        if t == FieldDescriptor.TYPE_STRING:
            if field.name == "page_token":
                return self._pick(PAGE_TOKENS)
            if field.name in ("filter", "order_by"):
                return self._pick(FILTERS)
            return self._pick(MALFORMED_NAMES if _is_name(field) else STRINGS)
        if t in _INTS:
            if field.name == "page_size":
                return self._pick((-1, 2**31 - 1, 10**6))
            return self._pick(_INTS[t])
        if t in _UNSIGNED:
            return self._pick(_UNSIGNED[t])
        if t == FieldDescriptor.TYPE_DOUBLE:
            return self._pick(FLOATS)
        if t == FieldDescriptor.TYPE_FLOAT:
            return self._pick((math.nan, math.inf, -math.inf, 3e38))
        if t == FieldDescriptor.TYPE_BOOL:
            return True
        if t == FieldDescriptor.TYPE_BYTES:
            return self._pick(BYTES)
        return _SKIP

    # --- one field at a time -------------------------------------------------------------------

    def _set_path(self, message: Message, path: tuple[Field, ...]) -> str:
        """Set the leaf at `path` to random garbage; a short description of the value."""
        target = message
        for field in path[:-1]:
            if field.is_repeated:
                target = getattr(target, field.name).add()
            else:
                target = getattr(target, field.name)
        leaf = path[-1]
        if leaf.type == FieldDescriptor.TYPE_MESSAGE:
            child = getattr(target, leaf.name).add() if leaf.is_repeated else getattr(target, leaf.name)
            self._fill_message(child, "random", _MAX_DEPTH)
            return _short(str(child).replace("\n", " "))
        value = self._random_scalar(leaf)
        if leaf.is_repeated:
            getattr(target, leaf.name).append(value)
        else:
            setattr(target, leaf.name, value)
        return _short(repr(value))

    def _pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[self.rng.randrange(len(options))]


_SKIP = object()
_FIELD_MASK = "google.protobuf.FieldMask"
Field = Any  # a FieldDescriptor (upb's and the pure-Python one type differently)
_INTS = {
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
}
_UNSIGNED = {
    FieldDescriptor.TYPE_UINT32: UINT32,
    FieldDescriptor.TYPE_FIXED32: UINT32,
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
}
_LEAF_MESSAGES = (
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
)


def _leaf_paths(descriptor: Any, prefix: tuple[Field, ...], depth: int) -> Iterator[tuple[Field, ...]]:
    for field in _fields_of(descriptor):
        path = (*prefix, field)
        if field.type != FieldDescriptor.TYPE_MESSAGE or field.message_type.full_name in _LEAF_MESSAGES:
            yield path
        elif not field.message_type.GetOptions().map_entry and depth < _MAX_DEPTH:
            if field.message_type.full_name.startswith("google.protobuf."):
                continue
            yield from _leaf_paths(field.message_type, path, depth + 1)


def _fields_of(descriptor: Any) -> list[Field]:
    """A message descriptor's fields (descriptors typed loosely: upb and pure-Python differ)."""
    return list(descriptor.fields)


def _mask_paths(request: Any) -> list[str]:
    """The update mask of a plausible Update request: every field of the resource it carries."""
    for field in _fields_of(request):
        if field.type == FieldDescriptor.TYPE_MESSAGE and not field.message_type.full_name.startswith(
            "google.protobuf."
        ):
            return [f.name for f in field.message_type.fields]
    return []


def _narrow_mask(message: Message, path: tuple[Field, ...]) -> None:
    """Point an update mask at the one field that carries garbage (so it is read)."""
    for field in _fields_of(message.DESCRIPTOR):
        if (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and field.message_type.full_name == "google.protobuf.FieldMask"
            and not field.is_repeated
            and len(path) >= 2
        ):
            mask = getattr(message, field.name)
            del mask.paths[:]
            mask.paths.append(path[1].name)


def _short(text: str) -> str:
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} chars)"
