"""settings.load / describe: environment variables to a typed, frozen dataclass."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from wattlane.core.settings import SettingsError, describe, env_name, load


@dataclass(frozen=True)
class Sample:
    database_url: str = field(default="sqlite:///data/x.db", metadata={"help": "SQLAlchemy URL"})
    port: int = 50051
    ratio: float = 0.5
    debug: bool = False
    otlp_endpoint: str | None = None
    max_items: int | None = 10
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class WithRequired:
    secret: str
    port: int = 1


def test_defaults_without_variables() -> None:
    assert load(Sample, "svc", environ={}) == Sample()


def test_every_type_is_parsed_from_its_variable() -> None:
    env = {
        "WATTLANE_SVC_DATABASE_URL": "postgresql://db/x",
        "WATTLANE_SVC_PORT": "6000",
        "WATTLANE_SVC_RATIO": "2.25",
        "WATTLANE_SVC_DEBUG": "yes",
        "WATTLANE_SVC_OTLP_ENDPOINT": "collector:4317",
        "WATTLANE_SVC_MAX_ITEMS": "-3",
        "WATTLANE_SVC_HOSTS": " a.example , b.example,,",
        "WATTLANE_OTHER_PORT": "1",  # another service's variable is not ours
    }
    settings = load(Sample, "svc", environ=env)
    assert settings == Sample(
        database_url="postgresql://db/x",
        port=6000,
        ratio=2.25,
        debug=True,
        otlp_endpoint="collector:4317",
        max_items=-3,
        hosts=("a.example", "b.example"),
    )
    assert isinstance(settings.port, int)
    assert isinstance(settings.ratio, float)
    with pytest.raises(FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("1", True), ("true", True), ("TRUE", True), (" on ", True), ("Yes", True)],
        *[("0", False), ("false", False), ("No", False), ("off", False)],
    ],
)
def test_bool_spellings(raw: str, expected: bool) -> None:
    assert load(Sample, "svc", environ={"WATTLANE_SVC_DEBUG": raw}).debug is expected


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("WATTLANE_SVC_DEBUG", "maybe", "WATTLANE_SVC_DEBUG must be true or false, got 'maybe'"),
        ("WATTLANE_SVC_DEBUG", "", "WATTLANE_SVC_DEBUG must be true or false"),
        ("WATTLANE_SVC_PORT", "80a", "WATTLANE_SVC_PORT must be an integer, got '80a'"),
        ("WATTLANE_SVC_PORT", "1.5", "WATTLANE_SVC_PORT must be an integer"),
        ("WATTLANE_SVC_RATIO", "half", "WATTLANE_SVC_RATIO must be a number, got 'half'"),
        ("WATTLANE_SVC_MAX_ITEMS", "ten", "WATTLANE_SVC_MAX_ITEMS must be an integer, got 'ten'"),
    ],
)
def test_malformed_values_name_the_variable(variable: str, raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load(Sample, "svc", environ={variable: raw})


def test_optional_fields_are_none_when_set_empty() -> None:
    settings = load(Sample, "svc", environ={"WATTLANE_SVC_MAX_ITEMS": "", "WATTLANE_SVC_OTLP_ENDPOINT": ""})
    assert settings.max_items is None
    assert settings.otlp_endpoint is None


def test_overrides_win_over_environment_and_are_not_parsed() -> None:
    env = {"WATTLANE_SVC_PORT": "6000", "WATTLANE_SVC_DEBUG": "not-a-bool"}
    settings = load(Sample, "svc", environ=env, port=7000, debug=True)
    assert settings.port == 7000
    assert settings.debug is True


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLANE_SVC_PORT", "6100")
    assert load(Sample, "svc").port == 6100


def test_required_field_from_environment() -> None:
    assert load(WithRequired, "svc", environ={"WATTLANE_SVC_SECRET": "s3"}).secret == "s3"


def test_missing_required_field_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="WATTLANE_SVC_SECRET is required"):
        load(WithRequired, "svc", environ={})


def test_env_name() -> None:
    assert env_name("identity", "database_url") == "WATTLANE_IDENTITY_DATABASE_URL"
    assert env_name("", "log_level") == "WATTLANE_LOG_LEVEL"


def test_describe_lists_variables_defaults_and_help() -> None:
    rows = describe(Sample, "svc")
    assert rows[0] == ("WATTLANE_SVC_DATABASE_URL", "sqlite:///data/x.db", "SQLAlchemy URL")
    assert ("WATTLANE_SVC_PORT", "50051", "") in rows
    assert len(rows) == 7
    assert describe(WithRequired, "svc")[0] == ("WATTLANE_SVC_SECRET", "(required)", "")
