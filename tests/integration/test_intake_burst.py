"""Intake under load, with real inotify and the real clock: nothing missed, nothing twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labd.clock import SystemClock
from labd.config import DEFAULT_IGNORE
from labd.intake import EventSink, Intake, Watcher
from labd.journal import Journal
from labd.model import HotFolder, Job, JobState
from labd.schemas import open_journal
from tests.waiting import wait_until


@contextmanager
def intake_running(
    tmp_path: Path, *, rescan: float, events: bool = True
) -> Iterator[tuple[HotFolder, Journal, list[Job]]]:
    hot = tmp_path / "hot"
    hot.mkdir(mode=0o770)
    hot.chmod(0o770)
    hf = HotFolder(name="burst", path=hot, product="p", printer="q", stability_seconds=0.2,
                   ignore=DEFAULT_IGNORE)  # fmt: skip
    journal = open_journal(tmp_path / "state" / "journal.sqlite")
    claimed: list[Job] = []
    intake = Intake({"burst": hf}, journal, spool_dir=tmp_path / "spool",
                    quarantine_dir=tmp_path / "q", rescan_seconds=rescan, clock=SystemClock(),
                    on_claimed=claimed.append)  # fmt: skip
    sink, stop = EventSink(), threading.Event()
    watcher = Watcher(sink)
    watcher.start()
    intake.check_folders()
    if events:
        watcher.sync(intake.inotify_folders())
        loop = threading.Thread(target=intake.run, args=(sink, watcher, stop), daemon=True)
    else:
        # Every event lost (an overflowed inotify queue): only the rescans see anything.
        def blind() -> None:
            while not stop.is_set():
                stop.wait(min(intake.tick(), 0.25))

        loop = threading.Thread(target=blind, daemon=True)
    loop.start()
    try:
        yield hf, journal, claimed
    finally:
        stop.set()
        sink.wake.set()
        loop.join(10)
        watcher.stop()
        journal.close()
    assert not loop.is_alive()


def test_ten_thousand_files_at_once_each_become_exactly_one_job(tmp_path: Path) -> None:
    count = 10_000
    staging = tmp_path / "staging"
    staging.mkdir()
    for n in range(count):
        (staging / f"IMG_{n:05d}.jpg").write_bytes(b"x" * 64)
    with intake_running(tmp_path, rescan=5.0) as (hf, journal, claimed):
        for path in staging.iterdir():  # dropped at once: mv from the same filesystem
            path.rename(hf.path / path.name)
        wait_until(lambda: len(claimed) >= count, timeout=180, what=f"{count} claims")
        jobs = journal.jobs(limit=None)
    entries = Counter(j.entry for j in jobs)
    assert len(jobs) == count
    assert len(entries) == count  # nothing twice
    assert all(j.state is JobState.CLAIMED for j in jobs)
    assert list(hf.path.iterdir()) == []  # nothing missed
    spooled = sorted(p.name for p in (tmp_path / "spool").glob("*/in/*"))
    assert spooled == sorted(f"IMG_{n:05d}.jpg" for n in range(count))


def test_with_every_event_lost_the_rescan_still_finds_each_job_once(tmp_path: Path) -> None:
    with intake_running(tmp_path, rescan=0.3, events=False) as (hf, journal, claimed):
        (hf.path / "a.jpg").write_bytes(b"a")
        order = hf.path / "order"
        order.mkdir()
        (order / "1.jpg").write_bytes(b"1")
        wait_until(lambda: len(claimed) >= 2, timeout=20, what="two claims by rescan alone")
        (hf.path / "b.jpg").write_bytes(b"b")
        wait_until(lambda: len(claimed) >= 3, timeout=20, what="a third claim")
        assert sorted(j.entry for j in journal.jobs()) == ["a.jpg", "b.jpg", "order"]
