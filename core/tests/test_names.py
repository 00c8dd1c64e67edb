"""names: `{collection}/{id}` resource names parsed in one place."""

from __future__ import annotations

import pytest

from wattlane.core.errors import InvalidArgument
from wattlane.core.names import format_name, parse_name, parse_optional_name


def test_round_trip() -> None:
    assert parse_name(format_name("tenants", "01HX-a_b"), "tenants") == "01HX-a_b"
    assert parse_name("users/" + "x" * 64, "users") == "x" * 64


@pytest.mark.parametrize(
    "name",
    [
        "users/abc",  # another collection
        "tenants/",
        "tenants",
        "tenants/a/b",
        "tenants/-abc",  # must start with a letter or digit
        "tenants/" + "x" * 65,
        "tenants/a b",
        "tenants/abc\n",  # a trailing newline is not part of an id
        "tenants/ab\u00e9",
        "/tenants/abc",
    ],
)
def test_malformed_names_are_invalid_on_the_named_field(name: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_name(name, "tenants", "parent")
    assert [v.field for v in caught.value.violations] == ["parent"]
    assert "must look like tenants/{id}" in caught.value.violations[0].description


def test_empty_name_is_required() -> None:
    with pytest.raises(InvalidArgument, match=r"name: is required \(expected tenants/\{id\}\)"):
        parse_name("", "tenants")


def test_long_names_are_truncated_in_the_message() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_name("x" * 5000, "tenants")
    assert len(caught.value.message) < 200


def test_optional_name() -> None:
    assert parse_optional_name("", "tenants", "parent") is None
    assert parse_optional_name("tenants/t1", "tenants", "parent") == "t1"
    with pytest.raises(InvalidArgument):
        parse_optional_name("users/u1", "tenants", "parent")
