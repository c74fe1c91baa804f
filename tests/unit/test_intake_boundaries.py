"""Intake's failure boundaries: any name, an unexpected error in one entry, a folder that
opens up between the last scan and the claim, claims a crash left half done.

Real files in temporary folders, a real SQLite journal, an injected clock.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

import labd.intake.claim
from labd.config import DEFAULT_IGNORE
from labd.errors import INTERNAL_RULE
from labd.intake.stability import is_ignored
from labd.journal import Discovery
from labd.model import HotFolder, Job, JobKind, JobState
from labd.names import safe_name
from labd.spool import INBOX
from tests.factories import STABLE, Rig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with make_rig(tmp_path) as r:
        yield r


# Any file name Linux allows: bytes without "/" and NUL, 1 to 255 of them, not "." or "..".
names = st.binary(min_size=1, max_size=255).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, content=st.binary(min_size=1, max_size=64))
def test_any_name_is_claimed_once_or_left_alone_and_nothing_is_lost(
    name: bytes, content: bytes
) -> None:
    with tempfile.TemporaryDirectory() as tmp, make_rig(Path(tmp)) as rig:
        path = os.path.join(os.fsencode(rig.hot), name)  # noqa: PTH118  # a bytes name
        with open(path, "wb") as f:  # noqa: PTH123  # a bytes name
            f.write(content)
        text = os.fsdecode(name)
        rig.settle()
        jobs = rig.journal.jobs()
        if is_ignored(text, DEFAULT_IGNORE):
            assert jobs == []
            assert Path(os.fsdecode(path)).read_bytes() == content
            return
        [job] = jobs
        assert job.entry == safe_name(text)
        assert job.entry.encode("utf-8")  # the journal holds it as text
        assert not os.path.lexists(path)
        if job.state is JobState.CLAIMED:
            assert (Path(job.spool) / INBOX / job.entry).read_bytes() == content
        else:
            # A lone ticket.toml or READY holds nothing to print: quarantined, not lost.
            assert job.state is JobState.QUARANTINED
            assert job.rule == "intake.empty"
            kept = [p for p in rig.quarantined(job) if not p.name.endswith(".reason.txt")]
            assert [p.read_bytes() for p in kept] == [content]
        rig.settle()
        assert len(rig.journal.jobs()) == 1  # nothing twice


def test_names_inside_an_order_that_are_not_utf8_are_journaled_safe(rig: Rig) -> None:
    order = rig.hot / "Order 7"
    order.mkdir()
    for raw in (b"caf\xe9.jpg", b"\xff.jpg", b"ok.jpg"):
        with open(os.path.join(os.fsencode(order), raw), "wb") as f:  # noqa: PTH118, PTH123
            f.write(raw)
    rig.settle()
    [job] = rig.claimed
    names = [f.name for f in rig.journal.files(job.id)]
    assert sorted(names) == sorted(["Order 7/caf\\xe9.jpg", "Order 7/\\xff.jpg", "Order 7/ok.jpg"])
    for file in rig.journal.files(job.id):
        kept = Path(job.spool) / INBOX / file.name
        assert kept.read_bytes() in (b"caf\xe9.jpg", b"\xff.jpg", b"ok.jpg")


def test_an_unexpected_error_in_one_entry_quarantines_it_and_the_others_are_claimed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = labd.intake.claim.inspect

    def inspect(path: Path, hf: HotFolder) -> object:
        if path.name == "boom.jpg":
            raise RuntimeError("a bug that only this file finds")
        return real(path, hf)

    monkeypatch.setattr(labd.intake, "inspect", inspect)
    for name in ("a.jpg", "boom.jpg", "c.jpg"):
        (rig.hot / name).write_bytes(name.encode())
    with capture_logs() as logs:
        rig.settle()
    assert sorted(j.entry for j in rig.claimed) == ["a.jpg", "c.jpg"]
    boom = rig.job("boom.jpg")
    assert (boom.state, boom.rule) == (JobState.QUARANTINED, INTERNAL_RULE)
    assert "RuntimeError: a bug that only this file finds" in str(boom.reason)
    kept = rig.root / "quarantine" / "prints" / f"{boom.id}-boom.jpg"
    assert kept.read_bytes() == b"boom.jpg"  # nothing lost
    assert "internal.error" in kept.with_name(kept.name + ".reason.txt").read_text()
    failed = [e for e in logs if e["event"] == "intake.job_failed"]
    assert [e["job_id"] for e in failed] == [boom.id]
    assert not rig.journal.jobs([JobState.DISCOVERED])


def test_an_entry_that_fails_before_it_is_journaled_is_set_aside_until_it_changes(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rig.journal.discover_many

    def discover_many(found: list[Discovery], spool_root: Path) -> list[Job]:
        if any(d.entry == "odd.jpg" for d in found):
            raise ValueError("cannot journal this one")
        return real(found, spool_root)

    monkeypatch.setattr(rig.journal, "discover_many", discover_many)
    for name in ("odd.jpg", "fine.jpg"):
        (rig.hot / name).write_bytes(name.encode())
    with capture_logs() as logs:
        rig.settle()
    assert [j.entry for j in rig.claimed] == ["fine.jpg"]
    assert (rig.hot / "odd.jpg").read_bytes() == b"odd.jpg"  # untouched, not lost
    assert ("prints", "odd.jpg") in rig.intake.set_aside
    [aside] = [e for e in logs if e["event"] == "intake.entry_set_aside"]
    assert "ValueError" in aside["error"]
    # Unchanged, it is not tried again (no error at every look).
    with capture_logs() as logs:
        rig.clock.advance(120)
        rig.settle()
    assert not [e for e in logs if e["event"] == "intake.claim_failed"]
    # Copied again (it changes), and the cause gone: taken.
    monkeypatch.setattr(rig.journal, "discover_many", real)
    (rig.hot / "odd.jpg").write_bytes(b"odd.jpg, again")
    rig.intake.tick([("prints", "odd.jpg")])  # the write's inotify event
    rig.settle()
    assert sorted(j.entry for j in rig.claimed) == ["fine.jpg", "odd.jpg"]
    assert rig.intake.set_aside == {}


def test_nothing_is_taken_from_a_folder_open_to_others_at_claim_time(rig: Rig) -> None:
    (rig.hot / "a.jpg").write_bytes(b"a")
    rig.intake.tick()  # the scan sees a safe folder and starts the quiet period
    rig.hot.chmod(0o777)  # opened to everyone before the claim
    rig.clock.advance(STABLE + 0.1)
    with capture_logs() as logs:
        rig.intake.tick()
    assert rig.journal.jobs() == []
    assert (rig.hot / "a.jpg").read_bytes() == b"a"
    assert any(e["event"] == "intake.hotfolder_refused" for e in logs)
    # Fixed: the next rescan (rescan_seconds) finds the folder safe and takes the photo.
    rig.hot.chmod(0o770)
    rig.clock.advance(60)
    rig.settle()
    assert [j.entry for j in rig.claimed] == ["a.jpg"]


def test_a_half_claim_of_a_removed_hot_folder_is_finished_not_left_discovered(
    rig: Rig, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    [job] = rig.journal.discover_many([Discovery("gone", JobKind.FILE, "x.jpg", "anna", 1)], spool)
    (Path(job.spool) / INBOX).mkdir(parents=True)
    (Path(job.spool) / INBOX / "x.jpg").write_bytes(b"x")
    rig.intake.recover()
    assert rig.journal.job(job.id).state is JobState.CLAIMED
    assert [f.name for f in rig.journal.files(job.id)] == ["x.jpg"]
    assert rig.journal.jobs([JobState.DISCOVERED]) == []


def test_a_half_claim_that_fails_again_is_quarantined_at_recovery(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [job] = rig.journal.discover_many(
        [Discovery("prints", JobKind.FILE, "y.jpg", "anna", 1)], tmp_path / "spool"
    )
    (Path(job.spool) / INBOX).mkdir(parents=True)
    (Path(job.spool) / INBOX / "y.jpg").write_bytes(b"y")

    def broken(path: Path, hf: HotFolder) -> object:
        raise OSError(36, "File name too long")

    monkeypatch.setattr(labd.intake, "inspect", broken)
    rig.intake.recover()  # does not raise: the job is contained
    after = rig.journal.job(job.id)
    assert (after.state, after.rule) == (JobState.QUARANTINED, INTERNAL_RULE)
    kept = rig.root / "quarantine" / "prints" / f"{job.id}-y.jpg"
    assert kept.read_bytes() == b"y"
