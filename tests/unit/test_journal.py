"""The journal: schema, life cycle, append-only hash chain, durability settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.errors import (
    IllegalTransition,
    JobNotFound,
    JournalError,
    JournalSchemaError,
    JournalUnavailable,
    JournalUnusable,
)
from labd.journal import SCHEMA_VERSION, ComponentSchema, Journal
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from tests.factories import job_in_state
from tests.rawdb import DRIVER_ERRORS, REFUSALS, RawDB


@pytest.mark.parametrize("store_location", ["sqlite"], indirect=True)
def test_open_sets_wal_full_and_private_modes(tmp_path: Path, journal: Journal) -> None:
    conn = sqlite3.connect(journal.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # the journal's own connection carries synchronous=FULL (2)
    assert journal.store.setting("synchronous") == 2  # type: ignore[attr-defined]  # SQLite's
    assert journal.store.durable()
    assert journal.schema_version() == SCHEMA_VERSION
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert journal.path.stat().st_mode & 0o777 == 0o600


def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path: Path, clock) -> None:
    path = tmp_path / "j.sqlite"
    first = Journal.open(path, clock)
    job = job_in_state(first, JobState.DISCOVERED, tmp_path / "spool")
    first.close()
    second = Journal.open(path, clock)
    assert second.job(job.id).entry == "Hansen wedding"
    assert second.schema_version() == SCHEMA_VERSION
    second.close()


def test_newer_schema_is_refused(tmp_path: Path, clock) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path, clock).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalSchemaError, match="newer than this labd understands"):
        Journal.open(path, clock)


def test_open_without_create_on_missing_file(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="does not exist"):
        Journal.open(tmp_path / "none.sqlite", create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_full_life_cycle(tmp_path: Path, journal: Journal, clock: ManualClock) -> None:
    job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool")
    assert job.state is JobState.DISCOVERED
    assert job.spool == str(tmp_path / "spool" / str(job.id))
    journal.claimed(job.id, [("order/a.jpg", 10), ("order/b.jpg", 20)])
    clock.advance(1)
    journal.converted(job.id, [("out/0001.jpg", 1), ("out/0002.jpg", 2)], "minilab")
    journal.printing.submit_intent(job.id, 1)
    assert journal.job(job.id).state is JobState.SUBMITTING
    journal.printing.submitted(job.id, 1, 101)
    assert journal.job(job.id).state is JobState.SUBMITTING  # one output still to go
    journal.printing.submit_intent(job.id, 2)
    journal.printing.submitted(job.id, 2, 102)
    assert journal.job(job.id).state is JobState.SUBMITTED
    journal.printing.cups_state(job.id, 1, "completed")
    journal.printing.cups_state(job.id, 1, "completed")  # unchanged: no second event
    journal.printing.cups_state(job.id, 2, "completed")
    journal.printed(job.id)
    journal.done(job.id)
    done = journal.job(job.id)
    assert done.state is JobState.DONE
    assert done.updated_at > done.created_at
    assert [(f.name, f.size) for f in journal.files(job.id)] == [
        ("order/a.jpg", 10),
        ("order/b.jpg", 20),
    ]
    outputs = journal.outputs(job.id)
    assert [(o.path, o.source_seq, o.cups_queue, o.cups_job_id, o.cups_state) for o in outputs] == [
        ("out/0001.jpg", 1, "minilab", 101, "completed"),
        ("out/0002.jpg", 2, "minilab", 102, "completed"),
    ]
    assert [o.cups_title for o in outputs] == [f"labd-{job.id}-1", f"labd-{job.id}-2"]
    kinds = [e.kind for e in journal.events(job_id=job.id)]
    assert kinds.count("print.cups_state") == 2
    transitions = [
        (e.data["from"], e.data["to"])
        for e in journal.events(job_id=job.id)
        if e.kind == "job.state_changed"
    ]
    assert transitions == [
        ("DISCOVERED", "CLAIMED"),
        ("CLAIMED", "CONVERTED"),
        ("CONVERTED", "SUBMITTING"),
        ("SUBMITTING", "SUBMITTED"),
        ("SUBMITTED", "PRINTED"),
        ("PRINTED", "DONE"),
    ]
    assert journal.counts() == {JobState.DONE: 1}


def test_illegal_transition_is_refused_and_changes_nothing(
    tmp_path: Path, journal: Journal
) -> None:
    job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool")
    before = len(journal.events())
    with pytest.raises(IllegalTransition, match="cannot go from DISCOVERED to DONE"):
        journal.done(job.id)
    assert journal.job(job.id).state is JobState.DISCOVERED
    assert len(journal.events()) == before


def test_unknown_job(journal: Journal) -> None:
    with pytest.raises(JobNotFound, match="No job 999"):
        journal.job(999)
    with pytest.raises(JobNotFound):
        journal.withdrawn(999)


def test_personal_data_stays_out_of_the_chained_events(tmp_path: Path, journal: Journal) -> None:
    job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool", entry="Hansen wedding")
    journal.claimed(job.id, [("Hansen wedding/IMG_0001.jpg", 10)])
    journal.quarantined(job.id, rule="input.truncated", reason="IMG_0001.jpg: truncated image data")
    with RawDB(journal) as raw:
        chained = " ".join(str(d) for d in raw.column("SELECT data FROM events"))
    assert "Hansen" not in chained
    assert "IMG_0001" not in chained
    quarantined = journal.job(job.id)
    assert quarantined.reason == "IMG_0001.jpg: truncated image data"
    assert quarantined.rule == "input.truncated"
    last = journal.events(job_id=job.id)[-1]
    assert last.detail == "IMG_0001.jpg: truncated image data"
    assert last.data["rule"] == "input.truncated"


def test_event_log_is_append_only(tmp_path: Path, journal: Journal) -> None:
    job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool")
    with RawDB(journal) as raw:
        with pytest.raises(DRIVER_ERRORS, match="append-only"):
            raw.rows("UPDATE events SET kind = 'x'")
        with pytest.raises(DRIVER_ERRORS, match="append-only"):
            raw.rows("DELETE FROM events")


def test_verify_accepts_an_intact_chain(tmp_path: Path, journal: Journal) -> None:
    job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool")
    journal.claimed(job.id, [("a.jpg", 1)])
    check = journal.verify()
    assert check.first_bad is None
    assert check.events == len(journal.events())
    assert check.head == journal.events()[-1].hash


def test_verify_names_the_first_tampered_event(tmp_path: Path, journal: Journal) -> None:
    for n in range(3):
        job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool", entry=f"e{n}")
        journal.claimed(job.id, [("a.jpg", 1)])
    victim = journal.events()[3]
    with RawDB(journal) as raw:
        raw.drop_append_only_triggers()  # what a tamperer would do
        raw.rows("UPDATE events SET data = replace(data, '1', '2') WHERE seq = ?", (victim.seq,))
    check = journal.verify()
    assert check.first_bad == victim.seq
    assert check.problem == "its content does not match its hash"


COMPONENT = ComponentSchema(
    "tally",
    (
        ("CREATE TABLE tally (name TEXT PRIMARY KEY, n INTEGER NOT NULL)",),
        ("ALTER TABLE tally ADD COLUMN note TEXT",),
    ),
)


def test_component_schema_migrates_once_and_refuses_newer(tmp_path: Path, clock) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal.open(path, clock)
    journal.ensure_schema(ComponentSchema("tally", COMPONENT.migrations[:1]))
    journal.ensure_schema(COMPONENT)  # adds the column
    journal.ensure_schema(COMPONENT)  # current: nothing to do
    with journal.transaction() as tx:
        tx.execute("INSERT INTO tally (name, n, note) VALUES ('a', 1, 'x')")
        tx.event("tally.counted", {"n": 1}, detail="personal note")
    assert journal.query("SELECT name, n, note FROM tally") == [("a", 1, "x")]
    assert journal.events()[-1].detail == "personal note"
    with pytest.raises(JournalSchemaError, match="tally"):
        journal.ensure_schema(ComponentSchema("tally", COMPONENT.migrations[:1]))
    journal.close()


def test_component_transaction_is_all_or_nothing(tmp_path: Path, journal: Journal) -> None:
    journal.ensure_schema(COMPONENT)
    before = len(journal.events())

    def count_twice() -> None:
        with journal.transaction() as tx:
            tx.execute("INSERT INTO tally (name, n) VALUES ('a', 1)")
            tx.event("tally.counted", {"n": 1})
            tx.execute("INSERT INTO tally (name, n) VALUES ('a', 2)")  # duplicate key

    # The driver's error reaches labd as labd's own: neither transient nor fatal, a bug.
    with pytest.raises(JournalError, match=REFUSALS["unique"]) as raised:
        count_twice()
    assert not isinstance(raised.value, JournalUnavailable | JournalUnusable)
    assert journal.query("SELECT count(*) FROM tally") == [(0,)]
    assert len(journal.events()) == before
    assert journal.verify().first_bad is None


def test_batch_commits_once_and_a_failed_step_inside_leaves_nothing(
    tmp_path: Path, journal: Journal
) -> None:
    job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool")
    journal.claimed(job.id, [("a.jpg", 1)])
    journal.converted(job.id, [("out/0001.jpg", 1)], "q")
    journal.printing.submit_intent(job.id, 1)
    journal.printing.submitted(job.id, 1, 7)
    other = RawDB(journal)
    with journal.relaxed(), journal.batch():
        journal.printing.cups_state(job.id, 1, "completed")
        with pytest.raises(IllegalTransition):
            journal.done(job.id)  # not PRINTED yet: refused, and rolled back alone
        journal.printed(job.id)
        # Another connection sees none of it before the batch ends.
        assert other.column("SELECT state FROM jobs") == ["SUBMITTED"]
    assert other.column("SELECT state FROM jobs") == ["PRINTED"]
    other.close()
    assert journal.outputs(job.id)[0].cups_state == "completed"
    assert journal.verify().first_bad is None
    assert journal.store.durable()  # relaxed() put durable commits back


# Text that quoting, placeholders or an encoding could bend: PostgreSQL binds the writes
# nobody waits for on the client (Tx.write), so what it sends must be exactly this.
AWKWARD = "it's a \\ back'slash'; ? %s %(x)s 100% -- /* ø æ å ß é 字 📷 */ \t\r\n end"


def test_awkward_text_is_kept_exactly_through_writes_and_reads(
    tmp_path: Path, journal: Journal
) -> None:
    job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool")
    journal.claimed(job.id, [("a.jpg", 1)])
    journal.converted(job.id, [(AWKWARD, 1)], "q")  # an output path
    journal.held(job.id, rule="test.awkward", reason=AWKWARD)  # personal text beside the chain
    with journal.transaction() as tx:
        tx.write("UPDATE job_personal SET entry = ? WHERE job_id = ?", (AWKWARD, job.id))
        tx.event("test.awkward", {"text": AWKWARD, "n": None, "big": 2**62}, job_id=job.id)
    assert journal.outputs(job.id)[0].path == AWKWARD
    assert journal.job(job.id).entry == AWKWARD
    assert journal.job(job.id).reason == AWKWARD
    last = journal.events()[-1]
    assert last.kind == "test.awkward"
    assert dict(last.data) == {"text": AWKWARD, "n": None, "big": 2**62}
    assert journal.verify().first_bad is None


# --- steps built on what the caller read (PrintSteps' ``known``) ------------------------


def _intents_and_states(journal: Journal, job_id: int) -> list[tuple[str, object]]:
    return [
        (e.kind, e.data.get("to", e.data.get("seq")))
        for e in journal.events(job_id=job_id)
        if e.kind in {"print.submit_intent", "print.submitted", "job.state_changed"}
    ]


def test_known_steps_record_what_reading_steps_record(tmp_path: Path, journal: Journal) -> None:
    """Submit intents and results given what the submit loop knows are the same records,
    events and states as when the journal reads first, and the chain holds."""
    kept = {}
    for known in (False, True):
        job = job_in_state(journal, JobState.CONVERTED, tmp_path / f"spool-{known}")
        steps = journal.printing
        steps.submit_intent(job.id, 1, known=(JobState.CONVERTED, "minilab") if known else None)
        steps.submitted(job.id, 1, 101, known=(JobState.SUBMITTING, 1) if known else None)
        assert journal.job(job.id).state is JobState.SUBMITTING  # one output still to go
        steps.submit_intent(job.id, 2, known=(JobState.SUBMITTING, "minilab") if known else None)
        steps.submitted(job.id, 2, 102, known=(JobState.SUBMITTING, 0) if known else None)
        assert journal.job(job.id).state is JobState.SUBMITTED
        assert [o.cups_job_id for o in journal.outputs(job.id)] == [101, 102]
        kept[known] = _intents_and_states(journal, job.id)
    assert kept[True] == kept[False]
    assert journal.verify().first_bad is None


def test_a_stale_known_state_is_read_again_and_refused(tmp_path: Path, journal: Journal) -> None:
    """Cancelled between the submit loop's read and its intent: the check fails, the
    journal reads the job, and the intent is refused as it always was; nothing written."""
    job = job_in_state(journal, JobState.CONVERTED, tmp_path / "spool")
    journal.canceled(job.id, by="anna", cups_job_ids=[])
    before = len(journal.events())
    with pytest.raises(IllegalTransition, match="CANCELED"):
        journal.printing.submit_intent(job.id, 1, known=(JobState.CONVERTED, "minilab"))
    assert journal.job(job.id).state is JobState.CANCELED
    assert [o.submit_intent_at for o in journal.outputs(job.id)] == [None, None]
    assert len(journal.events()) == before
    assert journal.verify().first_bad is None


def test_a_stale_count_of_unsent_outputs_does_not_finish_the_submission(
    tmp_path: Path, journal: Journal
) -> None:
    job = job_in_state(journal, JobState.CONVERTED, tmp_path / "spool")
    journal.printing.submit_intent(job.id, 1, known=(JobState.CONVERTED, "minilab"))
    # Wrong: output 2 has not gone to CUPS.  The check refuses it; the journal counts.
    journal.printing.submitted(job.id, 1, 101, known=(JobState.SUBMITTING, 0))
    assert journal.job(job.id).state is JobState.SUBMITTING
    assert [o.cups_job_id for o in journal.outputs(job.id)] == [101, None]
    assert journal.verify().first_bad is None


def test_events_another_writer_appends_meanwhile_keep_one_chain(
    tmp_path: Path, journal: Journal, store_location: StoreLocation, clock: ManualClock
) -> None:
    """Another process (a second node, the console) appends between two of this one's
    transactions: the event chain's head this process last saw is stale, the check finds
    it so, and the step is done again reading the head; one chain, nothing doubled."""
    job = job_in_state(journal, JobState.CONVERTED, tmp_path / "spool")
    journal.printing.submit_intent(job.id, 1, known=(JobState.CONVERTED, "minilab"))
    other = open_journal(store_location, clock)
    try:
        with other.transaction() as tx:
            tx.event("test.other_node", {"n": 1})
    finally:
        other.close()
    journal.printing.submitted(job.id, 1, 101, known=(JobState.SUBMITTING, 1))
    journal.printing.submit_intent(job.id, 2, known=(JobState.SUBMITTING, "minilab"))
    journal.printing.submitted(job.id, 2, 102, known=(JobState.SUBMITTING, 0))
    assert journal.job(job.id).state is JobState.SUBMITTED
    kinds = [e.kind for e in journal.events(job_id=job.id)]
    assert kinds.count("print.submitted") == 2
    assert kinds.count("print.submit_intent") == 2
    seqs = [e.seq for e in journal.events()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert "test.other_node" in [e.kind for e in journal.events()]
    assert journal.verify().first_bad is None
