"""Intake: stability with an injected clock, ignore rules, claim by rename, unsafe entries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.config import DEFAULT_IGNORE
from labd.intake.stability import StabilityTracker, is_ignored
from labd.model import JobKind, JobState
from labd.names import natural_key
from labd.store import StoreLocation
from tests.factories import STABLE, job_in_state, make_rig


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def lab(tmp_path: Path, clock: ManualClock, store_location: StoreLocation):
    """Intake on a journal in each store (see tests/conftest.py)."""
    with make_rig(tmp_path, clock, journal_at=store_location) as rig:
        yield rig.intake, rig.hot, rig.claimed, rig.journal


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        pytest.param("._IMG_0001.jpg", ".*", id="mac-resource-fork"),
        pytest.param(".DS_Store", ".*", id="ds-store"),
        pytest.param("Thumbs.db", "Thumbs.db", id="thumbs"),
        pytest.param("desktop.ini", "desktop.ini", id="desktop-ini"),
        pytest.param("~$order.docx", "~$*", id="office-lock"),
        pytest.param("IMG_0001.jpg.part", "*.part", id="part"),
        pytest.param("IMG_0001.jpg.crdownload", "*.crdownload", id="chrome-download"),
        pytest.param("copy.tmp", "*.tmp", id="tmp"),
        pytest.param("@eaDir", "@eaDir", id="synology"),
        pytest.param("IMG_0001.jpg", None, id="photo-taken"),
        pytest.param("thumbs.db.jpg", None, id="glob-not-substring"),
    ],
)
def test_ignore_rules(name: str, rule: str | None) -> None:
    assert is_ignored(name, DEFAULT_IGNORE) == rule


def test_natural_order() -> None:
    names = ["img10.jpg", "img2.jpg", "IMG1.jpg", "a/img3.jpg"]
    assert sorted(names, key=natural_key) == ["a/img3.jpg", "IMG1.jpg", "img2.jpg", "img10.jpg"]


def test_file_is_taken_only_after_the_quiet_period(tmp_path: Path, clock: ManualClock) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x" * 10)
    tracker = StabilityTracker(tmp_path, STABLE, DEFAULT_IGNORE, clock)
    assert not tracker.observe("photo.jpg")  # first sight
    clock.advance(STABLE - 0.1)
    assert not tracker.observe("photo.jpg")
    with (tmp_path / "photo.jpg").open("ab") as f:  # the copy goes on: quiet period restarts
        f.write(b"more")
    clock.advance(0.2)
    assert not tracker.observe("photo.jpg")
    clock.advance(STABLE - 0.1)
    assert not tracker.observe("photo.jpg")
    clock.advance(0.2)
    assert tracker.observe("photo.jpg")


def test_an_event_restarts_the_quiet_period(tmp_path: Path, clock: ManualClock) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    tracker = StabilityTracker(tmp_path, STABLE, DEFAULT_IGNORE, clock)
    tracker.observe("photo.jpg")
    clock.advance(STABLE - 1)
    tracker.touch("photo.jpg")  # e.g. a writer that rewrote the same bytes
    clock.advance(2)
    assert not tracker.observe("photo.jpg")
    clock.advance(STABLE)
    assert tracker.observe("photo.jpg")


def test_single_file_becomes_one_claimed_job(lab, clock: ManualClock) -> None:
    intake, hot, claimed, journal = lab
    (hot / "IMG_0001.jpg").write_bytes(b"jpeg bytes")
    intake.tick()
    assert claimed == []
    clock.advance(STABLE + 0.1)
    intake.tick()
    assert len(claimed) == 1
    job = claimed[0]
    assert (job.kind, job.state, job.entry) == (JobKind.FILE, JobState.CLAIMED, "IMG_0001.jpg")
    assert not (hot / "IMG_0001.jpg").exists()
    assert (Path(job.spool) / "in" / "IMG_0001.jpg").read_bytes() == b"jpeg bytes"
    assert [(f.name, f.size) for f in journal.files(job.id)] == [("IMG_0001.jpg", 10)]
    clock.advance(STABLE + 0.1)
    intake.tick()
    assert len(claimed) == 1  # nothing twice


def test_order_folder_waits_for_the_whole_folder(lab, clock: ManualClock) -> None:
    intake, hot, claimed, journal = lab
    order = hot / "Hansen"
    order.mkdir()
    (order / "img1.jpg").write_bytes(b"1")
    intake.tick()
    clock.advance(STABLE - 1)
    (order / "img10.jpg").write_bytes(b"10")  # still copying
    intake.tick()
    clock.advance(2)
    (order / "sub").mkdir()
    (order / "sub" / "img2.jpg").write_bytes(b"2")
    (order / ".DS_Store").write_bytes(b"junk")
    intake.tick()
    assert claimed == []
    clock.advance(STABLE + 0.1)
    intake.tick()
    assert len(claimed) == 1
    names = [f.name for f in journal.files(claimed[0].id)]
    assert names == ["Hansen/img1.jpg", "Hansen/img10.jpg", "Hansen/sub/img2.jpg"]
    assert claimed[0].kind is JobKind.ORDER


def test_ready_marker_takes_an_order_at_once(lab, clock: ManualClock) -> None:
    intake, hot, claimed, journal = lab
    order = hot / "Berg"
    order.mkdir()
    (order / "a.jpg").write_bytes(b"a")
    intake.tick()
    (order / "READY").write_bytes(b"")
    clock.advance(0.3)
    intake.tick()
    clock.advance(0.3)
    intake.tick()
    assert len(claimed) == 1
    assert [f.name for f in journal.files(claimed[0].id)] == ["Berg/a.jpg"]


def test_ready_marker_copied_early_does_not_take_a_changing_order(lab, clock: ManualClock) -> None:
    intake, hot, claimed, _ = lab
    order = hot / "Copying"
    order.mkdir()
    (order / "READY").write_bytes(b"")  # a copy tool that copies the marker first
    intake.tick()
    for n in range(3):  # ... and the images after it, each look sees a change
        (order / f"img{n}.jpg").write_bytes(b"x" * (n + 1))
        clock.advance(0.3)
        intake.tick()
        assert claimed == []
    clock.advance(0.3)
    intake.tick()  # two looks in a row saw the same folder: now it is taken
    assert len(claimed) == 1


def test_ignored_files_are_never_touched(lab, clock: ManualClock) -> None:
    intake, hot, claimed, _ = lab
    for name in ("IMG.jpg.part", ".DS_Store", "Thumbs.db"):
        (hot / name).write_bytes(b"x")
    intake.tick()
    clock.advance(STABLE * 3)
    intake.tick()
    assert claimed == []
    assert sorted(p.name for p in hot.iterdir()) == [".DS_Store", "IMG.jpg.part", "Thumbs.db"]


def test_symlink_is_quarantined_never_followed(lab, clock: ManualClock, tmp_path: Path) -> None:
    intake, hot, claimed, journal = lab
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"another customer's photo")
    (hot / "link.jpg").symlink_to(secret)
    intake.tick()
    clock.advance(STABLE + 0.1)
    intake.tick()
    assert claimed == []  # nothing goes on to conversion
    job = journal.jobs()[0]
    assert job.state is JobState.QUARANTINED
    assert job.rule == "intake.symlink"
    moved = tmp_path / "quarantine" / "prints" / f"{job.id}-link.jpg"
    assert moved.is_symlink()  # moved as a link: nothing lost, nothing read
    assert secret.read_bytes() == b"another customer's photo"
    reason = moved.with_name(moved.name + ".reason.txt").read_text()
    assert "symbolic link" in reason
    assert any(e.kind == "security.refused" for e in journal.events(job_id=job.id))


def test_hardlinked_file_in_order_is_quarantined(lab, clock: ManualClock, tmp_path: Path) -> None:
    intake, hot, claimed, journal = lab
    other = tmp_path / "other.jpg"
    other.write_bytes(b"x")
    order = hot / "Order"
    order.mkdir()
    os.link(other, order / "x.jpg")
    intake.tick()
    clock.advance(STABLE + 0.1)
    intake.tick()
    job = journal.jobs()[0]
    assert (job.state, job.rule) == (JobState.QUARANTINED, "intake.hardlink")
    assert claimed == []
    assert (tmp_path / "quarantine" / "prints" / f"{job.id}-Order" / "x.jpg").exists()


def test_empty_order_is_quarantined_with_a_reason(lab, clock: ManualClock) -> None:
    intake, hot, claimed, journal = lab
    (hot / "Empty").mkdir()
    (hot / "Empty" / "Thumbs.db").write_bytes(b"x")
    intake.tick()
    clock.advance(STABLE + 0.1)
    intake.tick()
    job = journal.jobs()[0]
    assert (job.state, job.rule) == (JobState.QUARANTINED, "intake.empty")
    assert claimed == []


def test_recovery_finishes_a_claim_cut_by_a_crash(lab, clock: ManualClock, tmp_path: Path) -> None:
    intake, hot, claimed, journal = lab
    (hot / "a.jpg").write_bytes(b"a")
    (hot / "b.jpg").write_bytes(b"b")
    # A crash after the intent was committed, before the rename:
    job_a = job_in_state(
        journal, JobState.DISCOVERED, tmp_path / "spool", kind=JobKind.FILE,
        entry="a.jpg", technician="t", source_inode=(hot / "a.jpg").stat().st_ino,
    )  # fmt: skip
    # ... and one after the rename, before CLAIMED was committed:
    job_b = job_in_state(
        journal, JobState.DISCOVERED, tmp_path / "spool", kind=JobKind.FILE,
        entry="b.jpg", technician="t", source_inode=(hot / "b.jpg").stat().st_ino,
    )  # fmt: skip
    (Path(job_b.spool) / "in").mkdir(parents=True)
    (hot / "b.jpg").rename(Path(job_b.spool) / "in" / "b.jpg")
    # ... and one whose file the technician deleted meanwhile:
    job_c = job_in_state(
        journal, JobState.DISCOVERED, tmp_path / "spool", kind=JobKind.FILE,
        entry="c.jpg", technician="t", source_inode=1,
    )  # fmt: skip
    intake.recover()
    assert journal.job(job_a.id).state is JobState.CLAIMED
    assert journal.job(job_b.id).state is JobState.CLAIMED
    assert journal.job(job_c.id).state is JobState.WITHDRAWN
    assert sorted(j.id for j in claimed) == sorted([job_a.id, job_b.id])
    assert list(hot.iterdir()) == []
    clock.advance(STABLE + 1)
    intake.tick()
    assert len(journal.jobs()) == 3  # the recovered files never became second jobs


def test_recovery_moves_a_refused_jobs_files_that_a_crash_left_in_the_spool(
    lab, tmp_path: Path
) -> None:
    intake, _hot, claimed, journal = lab
    job = job_in_state(
        journal, JobState.DISCOVERED, tmp_path / "spool", kind=JobKind.FILE,
        entry="x.jpg", technician="t", source_inode=1,
    )  # fmt: skip
    inbox = Path(job.spool) / "in"
    inbox.mkdir(parents=True)
    (inbox / "x.jpg").write_bytes(b"refused bytes")
    journal.claimed(job.id, [("x.jpg", 13)])
    journal.quarantined(job.id, rule="intake.too_large", reason="x.jpg is larger than ...")
    # ... and labd died before the files reached the quarantine.
    intake.recover()
    moved = tmp_path / "quarantine" / "prints" / f"{job.id}-x.jpg"
    assert moved.read_bytes() == b"refused bytes"
    assert "intake.too_large" in moved.with_name(moved.name + ".reason.txt").read_text()
    assert claimed == []  # a refused job never goes on
