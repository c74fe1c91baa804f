"""Retention, legal holds and erasure: real files, a real SQLite file, an injected clock."""

from __future__ import annotations

from pathlib import Path

import pytest

import labd.privacy.purge as purge_module
from labd.clock import ManualClock
from labd.config import Config, parse
from labd.journal import Journal, personal_ref
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind
from labd.model import JobKind, JobState
from labd.privacy.retention import ErasureRefused, HoldNotFound, Retention, RetentionError
from labd.schemas import open_journal
from labd.store import StoreLocation
from tests.factories import cups_job_id, job_in_state
from tests.rawdb import DRIVER_ERRORS, RawDB, is_postgres

DAY = 86400.0
NAME = "Hansen-wedding"  # a customer's folder name: must not survive erasure
FILE = "Kari_Nordmann_007.jpg"
ORDER = "ORD-7731"


class FakeCups:
    """Stands in for CUPS' purge (a real CUPS purge is in tests/integration)."""

    def __init__(self, known: set[int]) -> None:
        self.known = set(known)
        self.purged: list[int] = []

    def purge(self, cups_job_id: int) -> bool:
        self.purged.append(cups_job_id)
        if cups_job_id in self.known:
            self.known.discard(cups_job_id)
            return True
        return False


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    data = {
        "labd": {"state_dir": "state", "spool_dir": "spool", "quarantine_dir": "quarantine",
                 "hotfolder_root": "hot"},
        "products": {"p": {"format": "jpeg", "size": "6x4 in", "retention_days": 30},
                     "q": {"format": "jpeg", "size": "7x5 in"}},
        "printers": {"m": {"queue": "m"}},
        "hotfolders": {"prints": {"product": "q", "printer": "m"},
                       "long": {"product": "p", "printer": "m"},
                       "short": {"product": "p", "printer": "m", "retention_days": 2}},
    }  # fmt: skip
    return parse(data, str(tmp_path / "labd.toml"))


@pytest.fixture
def journal(store_location: StoreLocation, clock: ManualClock):
    """The journal on each backend (see tests/conftest.py)."""
    j = open_journal(store_location, clock)
    yield j
    j.close()


def make_job(
    journal: Journal,
    config: Config,
    *,
    hotfolder: str = "prints",
    order: str | None = ORDER,
    name: str = NAME,
    file: str = FILE,
) -> int:
    """A printed, DONE job with real inputs (1000 bytes) and its output (500) in its spool."""
    return job_in_state(
        journal, JobState.DONE, config.spool_dir, hotfolder=hotfolder, entry=name,
        files=[(f"{name}/{file}", 1000)], order=order, queue="m", write_inputs=True,
        output_size=500,
    ).id  # fmt: skip


def test_retention_days_resolve_hotfolder_product_default(config: Config) -> None:
    assert config.retention_days("short") == 2
    assert config.retention_days("long") == 30
    assert config.retention_days("prints") == 14
    assert config.retention_days("gone-from-config") == 14


def test_bad_retention_days_name_the_key(tmp_path: Path) -> None:
    data = {
        "labd": {"state_dir": "s", "spool_dir": "p", "quarantine_dir": "q", "hotfolder_root": "h"},
        "products": {"p": {"format": "jpeg", "size": "6x4 in"}},
        "printers": {"m": {"queue": "m"}},
        "hotfolders": {"h": {"product": "p", "printer": "m", "retention_days": -1}},
    }
    with pytest.raises(Exception, match=r"hotfolders\.h\.retention_days"):
        parse(data, str(tmp_path / "labd.toml"))
    data["hotfolders"]["h"]["retention_days"] = 3  # type: ignore[index]
    with pytest.raises(Exception, match=r"retention\.dayz: unknown setting"):
        parse({**data, "retention": {"dayz": 3}}, str(tmp_path / "labd.toml"))
    assert parse({**data, "retention": {"days": 60}}, "f").retention.days == 60


def test_run_due_purges_after_the_period_only(journal, config, clock) -> None:
    job = make_job(journal, config)
    cups = FakeCups({cups_job_id(job, 1)})
    retention = Retention(journal, config, clock, cups)
    assert retention.run_due().purged == []
    clock.advance(14 * DAY - 1)
    assert retention.run_due().purged == []
    assert Path(journal.job(job).spool).exists()
    clock.advance(1)
    summary = retention.run_due()
    assert (summary.purged, summary.files, summary.bytes) == ([job], 2, 1500)
    assert not Path(journal.job(job).spool).exists()
    assert cups.purged == [cups_job_id(job, 1)]
    assert journal.job(job).state is JobState.PURGED
    [purged] = [e for e in journal.events(job_id=job) if e.kind == "retention.purged"]
    assert purged.data["spool_files"] == 2
    assert purged.data["spool_bytes"] == 1500
    assert purged.data["cups_jobs"] == 1
    assert NAME not in str(dict(purged.data))
    # Names are gone from the journal too; the chain still verifies.
    assert journal.job(job).entry == ""
    assert [f.name for f in journal.files(job)] == [""]
    assert journal.verify().first_bad is None
    # Safe to repeat.
    assert retention.run_due().purged == []


def test_per_hotfolder_period(journal, config, clock) -> None:
    short, long_ = (
        make_job(journal, config, hotfolder="short"),
        make_job(journal, config, hotfolder="long"),
    )
    retention = Retention(journal, config, clock)
    clock.advance(2 * DAY)
    assert retention.run_due().purged == [short]
    clock.advance(28 * DAY)
    assert retention.run_due().purged == [long_]


def test_quarantined_and_canceled_jobs_are_purged_with_quarantine_copies(
    journal, config, clock
) -> None:
    job = job_in_state(
        journal, JobState.QUARANTINED, config.spool_dir, kind=JobKind.FILE, entry=FILE,
        files=[(FILE, 3)],
    )  # fmt: skip
    folder = config.quarantine_dir / "prints"
    folder.mkdir(parents=True)
    (folder / f"{job.id}-{FILE}").write_bytes(b"bad")
    (folder / f"{job.id}-{FILE}.reason.txt").write_text("why")
    (folder / f"{job.id}1-other.jpg").write_bytes(b"not this job's")
    clock.advance(14 * DAY)
    assert Retention(journal, config, clock).run_due().purged == [job.id]
    assert sorted(p.name for p in folder.iterdir()) == [f"{job.id}1-other.jpg"]
    [purged] = [e for e in journal.events(job_id=job.id) if e.kind == "retention.purged"]
    assert (purged.data["quarantine_files"], purged.data["quarantine_bytes"]) == (2, 6)
    assert all(FILE not in (e.detail or "") for e in journal.events(job_id=job.id))


def test_legal_hold_stops_deletion_until_released(journal, config, clock) -> None:
    job = make_job(journal, config)
    other = make_job(journal, config, order="ORD-2")
    retention = Retention(journal, config, clock)
    hold = retention.hold(order_ref=ORDER, by="sue", reason="complaint 2026-17")
    clock.advance(20 * DAY)
    summary = retention.run_due()
    assert (summary.purged, summary.held) == ([other], [job])
    assert Path(journal.job(job).spool).exists()
    [placed] = [e for e in journal.events() if e.kind == "retention.hold_placed"]
    assert ORDER not in str(dict(placed.data))
    assert placed.data["jobs"] == [job]
    with pytest.raises(ErasureRefused, match="legal hold"):
        retention.erase(order_ref=ORDER, by="sue", request="DSR-1")
    with pytest.raises(HoldNotFound):
        retention.release(order_ref="ORD-9", by="sue", reason="x")
    released = retention.release(hold_id=hold.id, by="sue", reason="settled")
    assert released[0].released_by == "sue"
    assert retention.run_due().purged == [job]


def test_hold_on_a_job_and_refusals(journal, config, clock) -> None:
    job = make_job(journal, config)
    retention = Retention(journal, config, clock)
    with pytest.raises(RetentionError, match="one job or on one order"):
        retention.hold(by="sue", reason="x")
    retention.hold(job_id=job, by="sue", reason="complaint")
    clock.advance(15 * DAY)
    assert retention.run_due().held == [job]
    retention.release(job_id=job, by="sue", reason="done")
    assert retention.run_due().purged == [job]


@pytest.mark.parametrize("crash_after", ["intent", "files"])
def test_crash_halfway_then_rerun_finishes(
    journal, config, clock, monkeypatch, crash_after
) -> None:
    job = make_job(journal, config)
    retention = Retention(journal, config, clock)
    clock.advance(15 * DAY)

    class Crash(BaseException):
        pass

    if crash_after == "intent":
        monkeypatch.setattr(purge_module, "_remove", lambda path: (_ for _ in ()).throw(Crash()))
    else:
        monkeypatch.setattr(
            journal, "erase_personal", lambda tx, ids: (_ for _ in ()).throw(Crash())
        )
    with pytest.raises(Crash):
        retention.run_due()
    assert journal.job(job).state is JobState.DONE
    assert [e.kind for e in journal.events(job_id=job)][-1] == "retention.purge_started"
    monkeypatch.undo()
    summary = Retention(journal, config, clock).run_due()
    assert (summary.purged, summary.resumed) == ([job], [job])
    assert not Path(journal.job(job).spool).exists()
    kinds = [e.kind for e in journal.events(job_id=job)]
    assert kinds.count("retention.purge_started") == 1
    assert kinds.count("retention.purged") == 1
    assert journal.verify().first_bad is None


def test_erase_order_leaves_no_trace_in_the_database_file(journal, config, clock) -> None:
    job = make_job(journal, config)
    keep = make_job(journal, config, order="ORD-KEEP", name="Other", file="other.jpg")
    ledger = MediaLedger(journal)
    item = ledger.register(MediaKind.USB, "SERIAL-KN-99", by="anna", orders=[ORDER], jobs=[job])
    retention = Retention(journal, config, clock)
    plan = retention.plan(order_ref=ORDER)
    assert (plan.jobs, plan.purge, plan.files, plan.media_items) == ((job,), (job,), 2, 1)
    salt = journal.salt(job)
    assert salt is not None
    [ticket] = [e for e in journal.events(job_id=job) if e.kind == "job.ticket"]
    assert ticket.data["order_hash"] == personal_ref(salt, ORDER)

    retention.erase(order_ref=ORDER, by="sue", request="DSR-2026-4")

    assert journal.job(job).state is JobState.PURGED
    assert journal.salt(job) is None
    assert ledger.item(item.id).identifier is None
    assert journal.verify().first_bad is None
    [tomb] = [e for e in journal.events() if e.kind == "erasure.requested"]
    assert (tomb.data["jobs"], tomb.data["by"], tomb.data["request"]) == (
        [job],
        "sue",
        "DSR-2026-4",
    )
    assert journal.job(keep).order_ref == "ORD-KEEP"
    with RawDB(journal) as db:
        everything = db.everything()
    for secret in (NAME, FILE, ORDER, "SERIAL-KN-99"):
        assert secret not in everything, secret
    assert "ORD-KEEP" in everything  # the check can see what is there
    if is_postgres(journal):
        return  # PostgreSQL has no secure delete: the README says what that means
    journal.close()
    raw = b"".join(
        Path(f"{journal.path}{s}").read_bytes()
        for s in ("", "-wal")
        if Path(f"{journal.path}{s}").exists()
    )
    for secret in (NAME, FILE, ORDER, "SERIAL-KN-99"):
        assert secret.encode() not in raw, secret
    assert b"ORD-KEEP" in raw  # the check can see what is there


def test_erase_dry_run_and_refusals(journal, config, clock) -> None:
    job = make_job(journal, config)
    retention = Retention(journal, config, clock)
    with pytest.raises(ErasureRefused, match="no job or media item"):
        retention.plan(order_ref="ORD-NONE")
    with pytest.raises(ErasureRefused, match="--order"):
        retention.plan()
    running = job_in_state(journal, JobState.DISCOVERED, config.spool_dir, entry="x.jpg")
    with pytest.raises(ErasureRefused, match="still being printed"):
        retention.plan(job_id=running.id)
    plan = retention.plan(job_id=job)
    assert plan.purge == (job,)
    assert journal.job(job).state is JobState.DONE  # a plan deletes nothing
    retention.erase(job_id=job, by="sue", request="DSR-3")
    retention.erase(job_id=job, by="sue", request="DSR-3")  # again: harmless
    assert journal.verify().first_bad is None


def test_append_only_triggers_still_hold(journal, config) -> None:
    make_job(journal, config)
    with RawDB(journal) as db, pytest.raises(DRIVER_ERRORS, match="append-only"):
        db.rows("DELETE FROM events")
