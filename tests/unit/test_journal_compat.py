"""A journal written by a released labd opens with this code and reads back the same.

tests/data/journal-release-1.sqlite was written by the release before labd/store/ (commit
701c13d) with tests/data/make_release_journal.py, which also wrote what that release read
back from it (journal-release-1.json): the chain's head, jobs in every state, their files
and outputs, customer media, a waste container and its entry, a legal hold.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from labd.cli import main
from labd.errors import JournalSchemaError
from labd.journal import SCHEMA_VERSION, Journal
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
    with Journal.open(release_journal) as journal:
        assert journal.schema_version() == SCHEMA_VERSION
        got = read_back(journal)
    assert got["head"] == expected["head"]
    assert got["events"] == expected["events"]
    for part in ("jobs", "files", "outputs", "media", "containers", "entries"):
        assert got[part] == expected[part], part


def test_labd_journal_verify_passes_with_the_released_head(
    release_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = json.loads((DATA / "journal-release-1.json").read_text())
    config = write_config(release_journal.parent.parent, GOOD_CONFIG)
    out = io.StringIO()
    head = f"{expected['events']}:{expected['head']}"
    code = main(["--config", str(config), "journal", "verify", "--head", head], out=out)
    assert code == 0, capsys.readouterr().err
    assert expected["head"] in out.getvalue()


def test_a_journal_newer_than_the_code_is_refused_and_left_alone(release_journal: Path) -> None:
    with Journal.open(release_journal) as journal, journal.transaction() as tx:
        tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = release_journal.read_bytes()
    with pytest.raises(JournalSchemaError, match="newer than this labd understands"):
        Journal.open(release_journal)
    assert release_journal.read_bytes() == before
