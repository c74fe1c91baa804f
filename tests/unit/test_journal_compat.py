"""A journal written by a released labd opens with this code and reads back the same.

tests/data/journal-release-1.sqlite was written by the release before labd/store/ (commit
701c13d) with tests/data/make_release_journal.py, which also wrote what that release read
back from it (journal-release-1.json): the chain's head, jobs in every state, their files
and outputs, customer media, a waste container and its entry, a legal hold.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from labd.cli import main
from labd.errors import JournalSchemaError
from labd.journal import SCHEMA_VERSION, Journal
from labd.schemas import open_journal
from tests.data.make_release_journal import read_back
from tests.factories import GOOD_CONFIG, write_config

DATA = Path(__file__).resolve().parents[1] / "data"
RELEASE = DATA / "journal-release-1.sqlite"


@pytest.fixture
def release_journal(tmp_path: Path) -> Path:
    """A copy of the released journal where a configuration's state_dir points."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    target = state / "journal.sqlite"
    shutil.copy(RELEASE, target)
    target.chmod(0o600)
    return target


def test_a_released_journal_opens_migrates_and_reads_back_the_same(
    release_journal: Path,
) -> None:
    expected = json.loads((DATA / "journal-release-1.json").read_text())
    with open_journal(release_journal) as journal:
        assert journal.schema_version() == SCHEMA_VERSION
        got = read_back(journal)
    assert got["head"] == expected["head"]
    assert got["events"] == expected["events"]
    # Fields added to jobs since the release (the node) read as None on its jobs.
    jobs = got["jobs"]
    assert isinstance(jobs, list)
    for job in jobs:
        for field in set(job) - set(expected["jobs"][0]):
            assert job.pop(field) is None, field
    for part in ("jobs", "files", "outputs", "media", "containers", "entries"):
        assert got[part] == expected[part], part


def test_labd_journal_verify_passes_with_the_released_head(
    release_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = json.loads((DATA / "journal-release-1.json").read_text())
    open_journal(release_journal).close()  # migrated, as the daemon does when it starts
    config = write_config(release_journal.parent.parent, GOOD_CONFIG)
    out = io.StringIO()
    head = f"{expected['events']}:{expected['head']}"
    code = main(["--config", str(config), "journal", "verify", "--head", head], out=out)
    assert code == 0, capsys.readouterr().err
    assert expected["head"] in out.getvalue()


def test_a_journal_newer_than_the_code_is_refused_and_left_alone(release_journal: Path) -> None:
    with open_journal(release_journal) as journal, journal.transaction() as tx:
        tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = release_journal.read_bytes()
    with pytest.raises(JournalSchemaError, match="newer than this labd understands"):
        open_journal(release_journal)
    assert release_journal.read_bytes() == before


def test_commands_read_without_migrating(
    release_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    open_journal(release_journal).close()  # migrated, as the daemon does when it starts
    config = write_config(release_journal.parent.parent, GOOD_CONFIG)
    before = release_journal.read_bytes()
    out = io.StringIO()
    assert main(["--config", str(config), "jobs", "--format", "json"], out=out) == 0
    assert len(out.getvalue().splitlines()) == 6  # every job of the release, read as it is
    assert release_journal.read_bytes() == before


def test_a_command_refuses_a_journal_older_than_the_code_and_leaves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A journal with the jobs' tables only, as an older labd left it: no media tables.
    state = tmp_path / "state"
    Journal.open(state / "journal.sqlite").close()
    before = (state / "journal.sqlite").read_bytes()
    config = write_config(tmp_path, GOOD_CONFIG)
    assert main(["--config", str(config), "media", "list"], out=io.StringIO()) == 4
    err = capsys.readouterr().err
    # The first component the command finds missing (nodes, media ...) is named.
    assert re.search(r"\((nodes|media)\): has schema version 0, older than this labd's \(1\)", err)
    assert "start the labd service once" in err
    assert (state / "journal.sqlite").read_bytes() == before  # not migrated by a command
