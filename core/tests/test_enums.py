"""enums: a request's enum number as its name; numbers the API does not define name the field."""

from __future__ import annotations

import pytest

from wattlane.api.identity.v1 import tenants_pb2
from wattlane.core.enums import enum_name
from wattlane.core.errors import InvalidArgument

Kind = tenants_pb2.Tenant.Kind


def test_known_numbers_and_zero_are_named() -> None:
    assert enum_name(Kind, Kind.Value("PARTNER"), "tenant.kind") == "PARTNER"
    assert enum_name(Kind, 0, "tenant.kind") == "KIND_UNSPECIFIED"


@pytest.mark.parametrize("number", [999, -5, 2**31 - 1])
def test_unknown_numbers_are_invalid_arguments_naming_the_field(number: int) -> None:
    with pytest.raises(InvalidArgument) as raised:
        enum_name(Kind, number, "tenant.kind")
    [violation] = raised.value.violations
    assert violation.field == "tenant.kind"
    assert f"({number})" in violation.description and "PARTNER" in violation.description
