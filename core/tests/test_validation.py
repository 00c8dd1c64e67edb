"""validation: field validators that normalize or raise INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.protobuf.struct_pb2 import Struct

from wattlane.api.identity.v1 import roles_pb2
from wattlane.core import validation
from wattlane.core.errors import InvalidArgument


def rejects(fn: Callable[[str, str], str], value: str) -> str:
    """The description of the one violation `fn` raises for `value` on field `f`."""
    with pytest.raises(InvalidArgument) as caught:
        fn(value, "f")
    assert [v.field for v in caught.value.violations] == ["f"]
    return caught.value.violations[0].description


def test_text_trims_and_limits() -> None:
    assert validation.text("  Main street  ", "f") == "Main street"
    assert validation.text("x" * 200, "f") == "x" * 200
    assert validation.text("", "f", required=False) == ""
    assert rejects(validation.text, "   ") == "is required"
    assert rejects(validation.text, "x" * 201) == "must be at most 200 characters"
    assert rejects(validation.text, "a\x00b") == "must not contain control characters"
    assert rejects(validation.text, "line\nbreak") == "must not contain control characters"
    with pytest.raises(InvalidArgument, match="at most 5 characters"):
        validation.text("abcdef", "f", max_length=5)


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("  a.b+tag@sub.example.org ", "a.b+tag@sub.example.org"),
        ("x@a-b.io", "x@a-b.io"),
    ],
)
def test_email_accepts_and_lowercases(value: str, normalized: str) -> None:
    assert validation.email(value, "f") == normalized


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "a@b",  # needs a dot in the domain
        "a b@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@example..com",
        "@example.com",
        ("x" * 65) + "@example.com",
        "a@" + ("x" * 250) + ".com",
    ],
)
def test_email_rejects(value: str) -> None:
    assert rejects(validation.email, value).startswith("is not a valid e-mail address")


def test_email_is_required() -> None:
    assert rejects(validation.email, "  ") == "is required"


@pytest.mark.parametrize("value", ["en", "nl-BE", "fil", "pt-BR"])
def test_locale_accepts(value: str) -> None:
    assert validation.locale(value, "f") == value


@pytest.mark.parametrize("value", ["", "EN", "en_US", "en-us", "english", "en-BE-x", "en\n", " en"])
def test_locale_rejects(value: str) -> None:
    assert "must be a language tag" in rejects(validation.locale, value)


@pytest.mark.parametrize("value", ["Europe/Amsterdam", "UTC", "America/Argentina/Buenos_Aires"])
def test_time_zone_accepts(value: str) -> None:
    assert validation.time_zone(value, "f") == value


@pytest.mark.parametrize(
    "value",
    ["", "Mars/Olympus", "Europe", "Europe/", "../../etc/passwd", "/etc/localtime", "UTC\x00", "a" * 300],
)
def test_time_zone_rejects(value: str) -> None:
    assert rejects(validation.time_zone, value).startswith("is not an IANA time zone")


def test_color() -> None:
    assert validation.color("#1A2b3C", "f") == "#1a2b3c"
    for bad in ["1a2b3c", "#1a2b3", "#1a2b3c4", "#gggggg", "#1a2b3c\n", "red"]:
        assert rejects(validation.color, bad) == "must be a colour like #1a2b3c"


def test_https_url() -> None:
    assert validation.https_url("https://cdn.example.com/logo.png", "f") == "https://cdn.example.com/logo.png"
    for bad in [
        "http://example.com/x",
        "https://",
        "https:///path",
        "ftp://example.com",
        "example.com",
        "https://example.com/" + "x" * 490,
        "https://[not-an-ipv6",  # urlparse raises ValueError on this one
    ]:
        assert rejects(validation.https_url, bad).startswith("must be an https:// URL")


def test_hostname() -> None:
    assert validation.hostname(" Mail.Example.COM ", "f") == "mail.example.com"
    for bad in ["localhost", "-a.example", "a_b.example", "a..example", "exa mple.com", ("x" * 64) + ".com"]:
        assert rejects(validation.hostname, bad).startswith("is not a valid domain name")


def test_a_nul_character_anywhere_in_a_request_is_named() -> None:
    assert validation.nul_character_field(Struct()) is None
    request = roles_pb2.UpdateRoleRequest(role=roles_pb2.Role(name="roles/1", permissions=["a", "b\x00"]))
    assert validation.nul_character_field(request) == "role.permissions[1]"
    nested = Struct()
    nested.update({"outer": {"inner": ["ok", "bad\x00"]}})
    assert (
        validation.nul_character_field(nested)
        == "fields['outer'].struct_value.fields['inner'].list_value.values[1].string_value"
    )
    clean = roles_pb2.UpdateRoleRequest(role=roles_pb2.Role(name="roles/1", display_name="Ünïcode ok"))
    assert validation.nul_character_field(clean) is None
