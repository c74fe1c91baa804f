"""The command line's areas: each registers the commands the lazy loader expects, and a
named command loads its own area only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labd.cli import AREAS, area
from labd.cli.common import CommandParser


@pytest.mark.parametrize("name", sorted(AREAS))
def test_each_area_registers_the_commands_the_loader_names(name: str) -> None:
    parser = CommandParser(prog="labd")
    sub = parser.add_subparsers(dest="command")
    area(name).register(sub)
    assert set(sub.choices) == set(AREAS[name])


def test_no_command_is_named_by_two_areas() -> None:
    commands = [c for names in AREAS.values() for c in names]
    assert len(commands) == len(set(commands))


def test_a_named_command_loads_its_area_alone() -> None:
    probe = (
        "import sys\n"
        "from labd.cli import build_parser\n"
        "args = build_parser(['--config', 'alerts', 'convert', 'x']).parse_args(\n"
        "    ['--config', 'alerts', 'convert', '--product', 'p', '--out', 'o', 'x'])\n"
        "print(args.command, sorted(m for m in sys.modules if m.startswith(\n"
        "    ('labd.alerts.service', 'labd.web.app', 'labd.daemon', 'labd.cli.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    command, _, loaded = done.stdout.strip().partition(" ")
    assert command == "convert"
    assert loaded == "['labd.cli.common', 'labd.cli.convert']"


def test_an_unknown_command_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from labd.cli import main  # noqa: PLC0415  # the entry point under test

    with pytest.raises(SystemExit):
        main(["no-such-command"])
    err = capsys.readouterr().err
    for commands in AREAS.values():
        for command in commands:
            assert command in err
