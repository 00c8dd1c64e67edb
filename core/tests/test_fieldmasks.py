"""fieldmasks.mask_paths: AIP-134 update masks validated against the updatable fields."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.core.errors import InvalidArgument
from wattlane.core.fieldmasks import mask_paths

ALLOWED = {"display_name", "brand", "locale"}


def test_listed_paths() -> None:
    assert mask_paths(FieldMask(paths=["display_name", "locale"]), ALLOWED) == {"display_name", "locale"}


def test_star_means_every_allowed_field() -> None:
    assert mask_paths(FieldMask(paths=["*"]), ALLOWED) == ALLOWED


def test_sub_paths_of_an_allowed_field() -> None:
    assert mask_paths(FieldMask(paths=["brand.name", "brand.logo_url"]), ALLOWED) == {
        "brand.name",
        "brand.logo_url",
    }


def test_empty_mask_uses_the_default() -> None:
    assert mask_paths(FieldMask(), ALLOWED, default=["locale"]) == {"locale"}


def test_empty_mask_without_default_names_nothing() -> None:
    with pytest.raises(InvalidArgument) as caught:
        mask_paths(FieldMask(), ALLOWED)
    assert [(v.field, v.description) for v in caught.value.violations] == [
        ("update_mask", "names no field to update")
    ]


def test_every_unknown_path_is_a_violation_listing_the_updatable_fields() -> None:
    with pytest.raises(InvalidArgument) as caught:
        mask_paths(FieldMask(paths=["display_name", "path", "parent.id", "brandx"]), ALLOWED)
    violations = caught.value.violations
    assert [v.field for v in violations] == ["update_mask"] * 3
    assert "'path'" in violations[0].description
    assert "'parent.id'" in violations[1].description
    assert "'brandx'" in violations[2].description
    assert violations[0].description.endswith("updatable: brand, display_name, locale")


def test_star_with_other_paths_is_not_a_wildcard() -> None:
    with pytest.raises(InvalidArgument, match="'\\*' cannot be updated"):
        mask_paths(FieldMask(paths=["*", "locale"]), ALLOWED)
