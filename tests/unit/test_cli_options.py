"""Options as people type them: global options on either side of the command, states in
any case, and filters that name a hot folder or printer nobody configured."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock
from labd.config import load
from labd.model import JobState
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG, job_in_state, write_config
from tests.imagegen import make_photo

# A second hot folder on a second printer, to filter by.
TWO_PRINTERS = (
    GOOD_CONFIG
    + """
[printers.big]
queue = "big"

[hotfolders.posters]
product = "p10x15"
printer = "big"
"""
)


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A configuration with two hot folders on two printers, and a journal with a job in
    each state a filter is tried on (one from a hot folder no longer configured)."""
    config = write_config(tmp_path, TWO_PRINTERS)
    for name in ("prints", "posters"):
        (tmp_path / "hot" / name).mkdir(parents=True, mode=0o770)
    with open_journal(load(config).journal_path, ManualClock()) as journal:
        spool = tmp_path / "spool"
        job_in_state(journal, JobState.DONE, spool, hotfolder="prints", entry="a")
        job_in_state(journal, JobState.QUARANTINED, spool, hotfolder="prints", entry="b")
        job_in_state(journal, JobState.HELD, spool, hotfolder="posters", entry="c")
        job_in_state(journal, JobState.DONE, spool, hotfolder="retired", entry="d")
    return config


def jobs_listed(config: Path, *argv: str) -> list[int]:
    out = io.StringIO()
    assert main([*argv, "--config", str(config), "--format", "json"], out=out) == 0
    return [json.loads(line)["id"] for line in out.getvalue().splitlines()]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--config", "{c}", "check-config"], id="before"),
        pytest.param(["check-config", "--config", "{c}"], id="after"),
        pytest.param(["check-config", "-c", "{c}", "--log-level", "debug"], id="short-lowercase"),
        pytest.param(["--config", "nope.toml", "check-config", "--config", "{c}"], id="last-wins"),
    ],
)
def test_global_options_on_either_side_of_the_command(lab: Path, argv: list[str]) -> None:
    out = io.StringIO()
    assert main([a.format(c=lab) for a in argv], out=out) == 0
    assert f"{lab}: OK (2 hot folders, 1 products, 2 printers)" in out.getvalue()


def test_global_options_after_nested_commands(lab: Path) -> None:
    # `labd media list` and `labd waste container list`: commands of commands.
    assert main(["media", "list", "--config", str(lab)], out=io.StringIO()) == 0
    out = io.StringIO()
    assert main(["waste", "container", "list", "--config", str(lab)], out=out) == 0
    assert "(none)" in out.getvalue()


def test_convert_takes_config_after_the_command(lab: Path, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg", size=(600, 400))
    out_dir = tmp_path / "out"
    argv = ["convert", "--product", "p10x15", "--jobs", "1", "--out", str(out_dir)]
    assert main([*argv, str(photo), "--config", str(lab)], out=io.StringIO()) == 0
    assert [p.suffix for p in out_dir.iterdir()] == [".jpg"]


def test_a_missing_configuration_named_after_the_command_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.toml"
    assert main(["check-config", "--config", str(missing)], out=io.StringIO()) == 3
    assert f"labd: {missing}: -: the file does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("state", ["QUARANTINED", "quarantined", "Quarantined"])
def test_states_are_taken_in_any_case(lab: Path, state: str) -> None:
    assert jobs_listed(lab, "jobs", "--state", state) == [2]
    out = io.StringIO()
    assert main(["journal", "--state", state, "--config", str(lab)], out=out) == 0
    assert "-> QUARANTINED" in out.getvalue()


def test_an_unknown_state_names_the_states(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["jobs", "--state", "quarantine", "--config", str(lab)], out=io.StringIO())
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --state: no state 'quarantine'; states: DISCOVERED, CLAIMED" in err
    assert "QUARANTINED" in err


def test_filters_by_hot_folder_and_printer(lab: Path) -> None:
    assert jobs_listed(lab, "jobs", "--hotfolder", "prints") == [2, 1]
    assert jobs_listed(lab, "jobs", "--printer", "big") == [3]
    assert jobs_listed(lab, "jobs", "--printer", "minilab", "--state", "done") == [1]
    assert jobs_listed(lab, "jobs", "--printer", "big", "--hotfolder", "prints") == []
    # A hot folder taken out of the configuration still has its jobs in the journal.
    assert jobs_listed(lab, "jobs", "--hotfolder", "retired") == [4]
    out = io.StringIO()
    assert (
        main(["journal", "--printer", "big", "--config", str(lab), "--format", "json"], out=out)
        == 0
    )
    assert {json.loads(line)["job_id"] for line in out.getvalue().splitlines()} == {3}


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        pytest.param(
            ["jobs", "--hotfolder", "print"],
            "labd: No hot folder 'print' in the configuration or the journal; the known ones: "
            "posters, prints, retired.\n",
            id="jobs-hotfolder",
        ),
        pytest.param(
            ["journal", "--hotfolder", "Prints"],
            "labd: No hot folder 'Prints' in the configuration or the journal; the known ones: "
            "posters, prints, retired.\n",
            id="journal-hotfolder",
        ),
        pytest.param(
            ["jobs", "--printer", "minilb"],
            "labd: No printer 'minilb' in the configuration; the known ones: big, minilab.\n",
            id="jobs-printer",
        ),
        pytest.param(
            ["journal", "--printer", "x"],
            "labd: No printer 'x' in the configuration; the known ones: big, minilab.\n",
            id="journal-printer",
        ),
    ],
)
def test_an_unknown_name_in_a_filter_is_an_error_naming_the_known_ones(
    lab: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    journal = load(lab).journal_path
    before = journal.read_bytes()
    capsys.readouterr()
    out = io.StringIO()
    assert main([*argv, "--config", str(lab)], out=out) == 2
    assert capsys.readouterr().err == said
    assert out.getvalue() == ""  # no "(none)" that reads like "no such jobs"
    assert journal.read_bytes() == before
