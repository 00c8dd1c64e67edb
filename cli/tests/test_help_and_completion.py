"""Every command's help shows an example; the completion scripts complete commands, flags and
choices from the command tree itself; a session keeps every service address of its stack."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from wattlane.cli.commands.completion import script
from wattlane.cli.examples import EXAMPLES, leaves
from wattlane.cli.main import parser
from wattlane.cli.session import Session
from wattlane.cli.stack import Ports
from wattlane.cli.up import cli_lines


def test_every_command_has_an_example_in_its_help() -> None:
    commands = leaves(parser())
    assert sorted(set(commands) - set(EXAMPLES)) == []
    assert sorted(set(EXAMPLES) - set(commands) - {""}) == []  # none left over from a rename
    help_text = commands["access explain"].format_help()
    assert "example:\n  wattlane access explain ACME-AMS-01 " in help_text
    assert "exit codes:" in parser().format_help()


def _complete(tmp_path: Path, shell_script: str, line: str) -> list[str]:
    """What bash offers for `line` (the cursor at its end)."""
    words = line.split(" ")
    (tmp_path / "c.sh").write_text(shell_script)
    program = (
        f"source {tmp_path / 'c.sh'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        '_wattlane; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_offers_commands_flags_and_choices(tmp_path: Path) -> None:
    bash = script(parser(), "bash")
    assert "points" in _complete(tmp_path, bash, "wattlane po")
    assert _complete(tmp_path, bash, "wattlane points ro") == ["rotate-key"]
    assert "--onboarding" in _complete(tmp_path, bash, "wattlane points create --location locations/x --")
    assert _complete(tmp_path, bash, "wattlane points create --onboarding ") == ["connected", "pre-approved"]
    assert _complete(tmp_path, bash, "wattlane locations list --output j") == ["json"]


def test_zsh_completion_loads_the_bash_one_through_bashcompinit() -> None:
    zsh = script(parser(), "zsh")
    assert "bashcompinit" in zsh and "complete -F _wattlane wattlane" in zsh
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-n", "-c", zsh], check=True)


def test_login_keeps_every_address_of_the_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLANE_HOME", str(tmp_path))
    for service in ("IDENTITY", "ASSETS", "BILLING", "CSMS"):
        monkeypatch.delenv(f"WATTLANE_{service}_ADDRESS", raising=False)
    session = Session.for_stack(20000)
    assert session.addresses() == {
        "identity": "127.0.0.1:20002",
        "assets": "127.0.0.1:20007",
        "billing": "127.0.0.1:20011",
        "csms": "127.0.0.1:20006",
    }
    session.token = "t"
    session.save()
    assert json.loads((tmp_path / "session.json").read_text())["csms"] == "127.0.0.1:20006"
    assert Session.load().csms == "127.0.0.1:20006"  # later commands: the same stack
    monkeypatch.setenv("WATTLANE_CSMS_ADDRESS", "127.0.0.1:1")
    assert Session.load().csms == "127.0.0.1:1" and Session.load().assets == "127.0.0.1:20007"
    # A session file from before it kept every address still loads (the standard ports).
    (tmp_path / "session.json").write_text(
        json.dumps({"identity": "127.0.0.1:50051", "token": "t", "email": ""})
    )
    assert Session.load().assets == "127.0.0.1:50052"


def test_up_prints_how_to_point_the_cli_at_its_ports() -> None:
    lines = "\n".join(cli_lines(Ports.from_base(20000)))
    assert "wattlane login EMAIL --base-port 20000" in lines
    for variable, port in (("IDENTITY", 20002), ("ASSETS", 20007), ("BILLING", 20011), ("CSMS", 20006)):
        assert f"export WATTLANE_{variable}_ADDRESS=127.0.0.1:{port}" in lines
    assert "--base-port" not in "\n".join(cli_lines(Ports()))
    up_help = leaves(parser())["up"].format_help()
    assert "N..N+12" in " ".join(up_help.split())
