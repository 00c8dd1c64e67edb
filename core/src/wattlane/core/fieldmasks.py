"""Update masks (AIP-134): which fields an Update call may change."""

from __future__ import annotations

from collections.abc import Collection

from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.core.errors import FieldViolation, InvalidArgument


def mask_paths(mask: FieldMask, allowed: Collection[str], *, default: Collection[str] = ()) -> set[str]:
    """The validated paths of `mask`. `*` means every allowed field; an empty mask means
    `default` (AIP-134: the fields the caller set). Sub-paths (`brand.name`) are allowed when
    their top-level field is."""
    paths = list(mask.paths)
    if not paths:
        paths = list(default)
    if paths == ["*"]:
        return set(allowed)
    violations = [
        FieldViolation(
            "update_mask", f"field {p!r} cannot be updated; updatable: {', '.join(sorted(allowed))}"
        )
        for p in paths
        if p not in allowed and p.split(".", 1)[0] not in allowed
    ]
    if violations:
        raise InvalidArgument(violations)
    if not paths:
        raise InvalidArgument.field("update_mask", "names no field to update")
    return set(paths)
