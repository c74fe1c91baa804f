"""``labd jobs N`` and ``labd journal --job N``: the order, its copies and all that is linked
to a job; and the technician's decisions that a job's state refuses, in words."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock
from labd.config import load
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from labd.waste.ledger import WasteLedger
from labd.waste.model import WasteMaterial
from tests.factories import GOOD_CONFIG, job_in_state, write_config

ORDER = "2026-1042"
DATA = Path(__file__).resolve().parents[1] / "data"
EXIT_REFUSED = 12


def run(config: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(config), *argv], out=out)
    return code, out.getvalue()


def test_jobs_n_shows_the_order_and_the_copies_the_ticket_asks_for(tmp_path: Path) -> None:
    # The product prints 2 copies unless the ticket says otherwise.
    config = write_config(tmp_path, GOOD_CONFIG.replace("dpi = 300", "dpi = 300\ncopies = 2"))
    with open_journal(load(config).journal_path, ManualClock()) as journal:
        files = [("Berg/a.jpg", 7), ("Berg/b.jpg", 7), ("Berg/c.jpg", 7)]
        job = job_in_state(journal, JobState.CLAIMED, tmp_path / "spool", files=files)
        # What intake records of `order = "2026-1042"` and copies_per_file b.jpg 3, c.jpg 1.
        journal.notes.ticket(job.id, order_ref=ORDER, copies={2: 3, 3: 1}, media=0)

    code, text = run(config, "jobs", str(job.id))
    assert code == 0
    assert f"order       {ORDER}\n" in text
    assert "copies      6 in total\n" in text  # a.jpg 2 (the product's), b.jpg 3, c.jpg 1
    assert "Berg/a.jpg  7 bytes  2 copies\n" in text
    assert "Berg/b.jpg  7 bytes  3 copies (ticket)\n" in text
    assert "Berg/c.jpg  7 bytes  1 copy (ticket)\n" in text

    code, text = run(config, "jobs", str(job.id), "--format", "json")
    shown = json.loads(text)
    assert (shown["order"], shown["copies_total"]) == (ORDER, 6)
    assert [(f["copies"], f["ticket_copies"]) for f in shown["file_details"]] == [
        (2, None),
        (3, 3),
        (1, 1),
    ]
    # The event says what the ticket asked: copies for 2 files, 4 copies of them together.
    code, text = run(config, "journal", "--job", str(job.id), "--kind", "job.ticket")
    assert "files_with_copies=2" in text
    assert "ticket_copies=4" in text
    assert " copies=" not in text


def _lab(tmp_path: Path, store_location: StoreLocation) -> tuple[Path, Journal]:
    """A configuration and its journal, in the store ``store_location`` names."""
    config = write_config(
        tmp_path, GOOD_CONFIG + '\n[waste]\nreasons = ["banding"]\n', journal=store_location
    )
    return config, open_journal(load(config).journal_location, ManualClock())


def test_jobs_n_shows_its_media_waste_and_reprints(
    tmp_path: Path, store_location: StoreLocation
) -> None:
    config, journal = _lab(tmp_path, store_location)
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool", order=ORDER)
    media = MediaLedger(journal)
    stick = media.receive(MediaKind.USB, "SN-77", by="anna", job=job.id, orders=[ORDER])
    # Registered by hand for the order, not for the job: it belongs to the job all the same.
    disc = media.register(MediaKind.DVD, "TAG-17", by="anna", orders=[ORDER])
    other = media.register(MediaKind.SD, "TAG-99", by="anna", orders=["2026-9999"])
    WasteLedger(journal).open("W-1", material=WasteMaterial.P, level=4, location="QC", by="sue")
    journal.close()

    code, text = run(
        config, "waste", "misprint", str(job.id), "--outputs", "2", "--reason", "banding",
        "--container", "W-1", "--reprint", "--by", "sue",
    )  # fmt: skip
    assert code == 0, text
    reprint = job.id + 1

    code, text = run(config, "jobs", str(job.id))
    assert code == 0
    assert f"reprints    job {reprint}\n" in text
    assert (
        f"  item {stick.id}  usb  received  return  tag SN-77  order {ORDER}  jobs {job.id}\n"
        in text
    )
    assert f"  item {disc.id}  dvd  received  destroy  tag TAG-17  order {ORDER}  jobs -\n" in text
    assert f"item {other.id} " not in text
    assert (
        "  entry 1  misprint  container W-1  outputs 2  1 sheets  banding  reprint requested\n"
        in text
    )
    assert "waste.misprint" in text  # its events are among the job's

    code, text = run(config, "jobs", str(reprint))
    assert f"reprint of  job {job.id}\n" in text

    code, text = run(config, "journal", "--job", str(job.id), "--format", "json")
    events = [json.loads(line) for line in text.splitlines()]
    registered = {e["data"]["item"] for e in events if e["kind"] == "media.registered"}
    assert registered == {stick.id, disc.id}  # not the other order's card
    assert {"job.discovered", "job.reprinted", "waste.misprint", "waste.reprinted"} <= {
        e["kind"] for e in events
    }
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)


def test_an_old_ticket_event_reads_in_todays_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The released journal's ticket event wrote "copies": 1 for one file with copies.
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    shutil.copy(DATA / "journal-release-1.sqlite", state / "journal.sqlite")
    open_journal(state / "journal.sqlite").close()  # the daemon migrates it when it starts
    config = write_config(tmp_path, GOOD_CONFIG)
    before = (state / "journal.sqlite").read_bytes()

    code, text = run(config, "journal", "--kind", "job.ticket")
    assert code == 0, capsys.readouterr().err
    assert "files_with_copies=1" in text
    assert " copies=" not in text
    code, text = run(config, "journal", "--kind", "job.ticket", "--format", "json")
    [event] = [json.loads(line) for line in text.splitlines()]
    assert event["data"]["copies"] == 1  # exports keep what the chain holds
    assert (state / "journal.sqlite").read_bytes() == before


@pytest.mark.parametrize(
    ("state", "argv", "said"),
    [
        pytest.param(
            JobState.DONE, ["retry", "{id}"],
            "Job {id} is DONE: it has printed, and only a HELD job can be retried. "
            "To print it again: labd reprint {id}",
            id="retry-done",
        ),
        pytest.param(
            JobState.UNCERTAIN, ["retry", "{id}"],
            "Decide: labd resolve {id} printed (it did), labd resolve {id} reprint",
            id="retry-uncertain",
        ),
        pytest.param(
            JobState.SUBMITTED, ["resolve", "{id}", "printed"],
            "Job {id} is SUBMITTED: labd is working on it, and only an UNCERTAIN job is resolved",
            id="resolve-submitted",
        ),
        pytest.param(
            JobState.HELD, ["resolve", "{id}", "reprint"],
            "Once the cause is fixed: labd retry {id}; or labd cancel {id}",
            id="resolve-held",
        ),
        pytest.param(
            JobState.DONE, ["cancel", "{id}"],
            "Job {id} is DONE: it has printed, and nothing is left to cancel",
            id="cancel-done",
        ),
        pytest.param(
            JobState.QUARANTINED, ["reprint", "{id}"],
            "Job {id} is QUARANTINED: its input was refused, and it has no print-ready files "
            "to print again. The reason is in labd jobs {id}",
            id="reprint-quarantined",
        ),
        pytest.param(
            JobState.CANCELED, ["retry", "{id}"],
            "To print it after all: labd reprint {id}",
            id="retry-cancelled",
        ),
        pytest.param(
            JobState.DONE, ["reprint", "{id}", "--files", "2", "5"],
            "Job {id} is DONE: it has outputs 1, 2 and no output 5; give --files with numbers "
            "from labd jobs {id}",
            id="reprint-no-such-output",
        ),
    ],
)  # fmt: skip
def test_a_decision_the_state_refuses_says_what_to_do_and_changes_nothing(  # noqa: PLR0917  # fixtures and parameters
    tmp_path: Path,
    store_location: StoreLocation,
    capsys: pytest.CaptureFixture[str],
    state: JobState,
    argv: list[str],
    said: str,
) -> None:
    config, journal = _lab(tmp_path, store_location)
    job = job_in_state(journal, state, tmp_path / "spool")
    events = journal.last_seq()
    journal.close()
    capsys.readouterr()  # what setting up the journal logged

    code, text = run(config, *(a.format(id=job.id) for a in argv))

    err = capsys.readouterr().err
    assert code == EXIT_REFUSED
    assert said.format(id=job.id) in err
    assert "cannot go from" not in err
    assert err.count("\n") == 1  # one line, no traceback
    assert text == ""
    with open_journal(load(config).journal_location) as after:
        assert after.job(job.id).state is state
        assert after.last_seq() == events  # nothing journaled
        assert len(after.jobs()) == 1  # no reprint job begun


def test_a_reprint_whose_files_are_gone_is_refused_before_it_begins(
    tmp_path: Path, store_location: StoreLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    config, journal = _lab(tmp_path, store_location)
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool")
    (Path(job.spool) / "out" / "0002.jpg").unlink()
    events = journal.last_seq()
    journal.close()

    code, _ = run(config, "reprint", str(job.id))

    err = capsys.readouterr().err
    assert code == EXIT_REFUSED
    assert "its print-ready files are no longer in the spool (out/0002.jpg)" in err
    with open_journal(load(config).journal_location) as after:
        assert after.last_seq() == events
        assert [j.id for j in after.jobs()] == [job.id]  # no reprint job held half-made
    assert (Path(job.spool) / "out" / "0001.jpg").is_file()
