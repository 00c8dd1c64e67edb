"""The CLI's root span: named after the command (never its arguments), off without an endpoint."""

from __future__ import annotations

import pytest

from wattlane.cli.main import command_name, parser
from wattlane.cli.session import OTLP_ENDPOINT, traced


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["stations", "reset", "CS-1", "--hard"], "wattlane stations reset"),
        (["stations", "log", "CS-1", "--action", "Heartbeat"], "wattlane stations log"),
        (["applications", "approve", "applications/42"], "wattlane applications approve"),
        (["login", "someone@example.com"], "wattlane login"),
        (["whoami"], "wattlane whoami"),
    ],
)
def test_the_span_is_named_after_the_command(argv: list[str], name: str) -> None:
    root = parser()
    root.parse_args(argv)  # a command the CLI takes
    assert command_name(root, argv) == name


def test_no_endpoint_no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(OTLP_ENDPOINT, raising=False)
    with traced("wattlane whoami") as trace_id:
        assert trace_id == ""
