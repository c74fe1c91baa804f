"""The retention, erasure, journal-filter and report commands, end to end on real files."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest

from labd.cli import main
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from tests.factories import LEDGER_CONFIG as CONFIG
from tests.factories import job_in_state, journal_table


@pytest.fixture
def lab(tmp_path: Path, store_location: StoreLocation):
    """The commands on a journal in each store (see tests/conftest.py)."""
    config = tmp_path / "labd.toml"
    config.write_text(CONFIG + journal_table(store_location))
    journal = open_journal(store_location)
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    journal.notes.ticket(job, order_ref="A-77", copies={}, media=0)
    journal.close()

    def run(*argv: str, code: int = 0) -> str:
        out = StringIO()
        assert main(["--config", str(config), *argv], out=out) == code
        return out.getvalue()

    run.job = job  # type: ignore[attr-defined]
    return run


def test_hold_release_erase(lab) -> None:
    assert "hold 1 placed" in lab(
        "hold", "--order", "A-77", "--reason", "complaint 5", "--by", "sue"
    )
    assert "A-77" in lab("retention", "holds")
    lab("erase", "--order", "A-77", "--by", "sue", "--request", "DSR-9", code=31)
    lab("release", "--order", "A-77", "--reason", "settled", "--by", "sue")
    assert "would erase: jobs 1" in lab("erase", "--order", "A-77", "--dry-run")
    lab("erase", "--order", "A-77", "--by", "sue", code=31)  # no request reference
    # No CUPS here: the files and names go, CUPS' copies are left for the daemon.
    out = lab("erase", "--order", "A-77", "--by", "sue", "--request", "DSR-9", code=33)
    assert "erased: jobs 1" in out
    assert "not finished for jobs 1" in out
    assert lab("journal", "verify").startswith("OK:")
    tomb = lab("journal", "--kind", "erasure.", "--format", "json").splitlines()
    assert json.loads(tomb[0])["data"]["request"] == "DSR-9"


def test_journal_filters_and_verify_head(lab) -> None:
    head = lab("journal", "verify").split("head ")[1].strip()
    assert "nothing up to it was rewritten" in lab("journal", "verify", "--head", head)
    lab("journal", "verify", "--head", "0" * 64, code=10)
    rows = lab("journal", "--order", "A-77", "--format", "json").splitlines()
    assert rows
    assert all(json.loads(r)["job_id"] == lab.job for r in rows)
    assert lab("journal", "--order", "nope", "--format", "json") == ""
    done = lab("journal", "--state", "done", "--format", "csv").splitlines()
    assert len(done) == 2
    assert lab("journal", "--since", "2999-01-01", "--format", "json") == ""
    assert lab("journal", "--until", "1999-01-01", "--format", "json") == ""
    assert "job.discovered" in lab("journal", "--technician", "anna", "--kind", "job.discovered")
    assert lab("journal", "--hotfolder", "h", "--format", "json") == ""  # configured, no jobs
    assert lab("journal", "--hotfolder", "other", "--format", "json", code=2) == ""  # unknown


def test_report_and_records(lab) -> None:
    data = json.loads(lab("report", "--format", "json"))
    assert data["totals"]["jobs_received"] >= 0
    assert "deletions due" in lab("report", "--week", "2026-01-01")
    # This configuration names no [controller]: the record says so (exit 3).
    records = json.loads(lab("records", "--format", "json", code=3))
    assert records["retention"]["default_days"] == 14
    assert "measures (Art. 32)" in lab("records", code=3)
