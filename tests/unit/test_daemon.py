"""The daemon's own logic in-process: the disk hold, its status line, rereading the
configuration, and its loop boundaries; log events asserted as data (structlog's capture).

The real processes, signals and sockets are the system tests'; here the same decisions are
driven directly, with a real journal and real folders.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from labd.clock import ManualClock
from labd.config import Config, load
from labd.daemon import Daemon
from labd.daemon.reload import reread_or_keep
from labd.errors import JournalUnavailable, JournalUnusable
from labd.intake import Intake
from labd.journal import Journal
from labd.model import JobState
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG, job_in_state, write_config


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = write_config(tmp_path, GOOD_CONFIG)
    (tmp_path / "hot" / "prints").mkdir(parents=True, mode=0o770)
    (tmp_path / "spool").mkdir(mode=0o700)
    (tmp_path / "state").mkdir(mode=0o700)
    return load(path)


@pytest.fixture
def journal(config: Config, clock: ManualClock) -> Iterator[Journal]:
    j = open_journal(config.journal_path, clock)
    yield j
    j.close()


@pytest.fixture
def intake(config: Config, journal: Journal, clock: ManualClock) -> Intake:
    return Intake(
        config.hotfolders,
        journal,
        spool_dir=config.spool_dir,
        quarantine_dir=config.quarantine_dir,
        rescan_seconds=60,
        clock=clock,
        on_claimed=lambda job: None,
    )


def held_reason(intake: Intake) -> str | None:
    """Why intake is held now (read afresh: the daemon changes it)."""
    return intake.held


def events(logs: Sequence[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    """The captured log events named ``name``."""
    return [e for e in logs if e["event"] == name]


def test_a_spool_below_min_free_holds_intake_and_room_releases_it(
    config: Config, intake: Intake, clock: ManualClock
) -> None:
    daemon = Daemon(replace(config, min_free_bytes=2**62), clock=clock)  # more than any disk
    with capture_logs() as logs:
        daemon._check_disk(intake)
    assert intake.held is not None
    assert "below min_free_mb" in intake.held
    [held] = events(logs, "daemon.intake_held")
    assert held["problem"] == intake.held
    with capture_logs() as logs:
        daemon._check_disk(intake)  # still short: said once, not at every look
    assert events(logs, "daemon.intake_held") == []

    daemon.config = replace(config, min_free_bytes=0)
    daemon.disk.deferred.add(7)
    with capture_logs() as logs:
        daemon._check_disk(intake)
    assert held_reason(intake) is None
    [resumed] = events(logs, "daemon.intake_resumed")
    assert "below min_free_mb" in str(resumed["was"])
    assert daemon.work.queue.get_nowait() == 7  # the job a disk error interrupted goes on


def test_a_loops_storage_trouble_is_held_once_then_released(
    config: Config, intake: Intake, clock: ManualClock
) -> None:
    daemon = Daemon(config, clock=clock)

    def locked() -> None:
        raise JournalUnavailable("journal.sqlite", "cannot write: database is locked")

    with capture_logs() as logs:
        assert daemon.loops.guarded("follow", locked) is False
    [trouble] = events(logs, "daemon.storage_trouble")
    assert trouble["loop"] == "follow"
    daemon._check_disk(intake)
    assert intake.held == "follow: Journal journal.sqlite: cannot write: database is locked"
    daemon._check_disk(intake)  # the probe finds the disk fine: released
    assert held_reason(intake) is None


def test_an_unusable_journal_is_not_contained(config: Config, clock: ManualClock) -> None:
    daemon = Daemon(config, clock=clock)

    def damaged() -> None:
        raise JournalUnusable("journal.sqlite", "database disk image is malformed")

    with pytest.raises(JournalUnusable):
        daemon.loops.guarded("work", damaged)


def test_a_loops_unexpected_error_is_logged_in_full_once_a_minute(
    config: Config, clock: ManualClock
) -> None:
    daemon = Daemon(config, clock=clock)

    def broken() -> None:
        raise RuntimeError("a bug in the loop")

    with capture_logs() as logs:
        for _ in range(3):
            assert daemon.loops.guarded("follow", broken) is False
            clock.advance(10)
        clock.advance(60)
        daemon.loops.guarded("follow", broken)
    errors = events(logs, "daemon.loop_error")
    assert [e["repeated"] for e in errors] == [False, True]
    assert errors[0]["error"] == "RuntimeError: a bug in the loop"
    assert errors[0]["exc_info"] is not None


def test_status_line_counts_jobs_and_says_why_nothing_is_taken(
    config: Config, journal: Journal, clock: ManualClock, tmp_path: Path
) -> None:
    daemon = Daemon(config, clock=clock)
    job_in_state(journal, JobState.DONE, tmp_path / "spool")
    held = job_in_state(journal, JobState.HELD, tmp_path / "spool").id
    line = daemon.status_line(journal)
    assert line.startswith("1 hot folders, 0 jobs queued, 0 jobs in progress, 1 held")
    assert "print.printer_stopped: queue 'minilab' is stopped" in line
    assert line.endswith("1 done")
    daemon.disk.held = "spool: 3 MB free"
    assert daemon.status_line(journal).startswith("NOT TAKING JOBS: spool: 3 MB free, ")
    assert journal.job(held).state is JobState.HELD


def test_a_bad_configuration_on_reload_is_refused_and_the_old_one_kept(
    config: Config, clock: ManualClock
) -> None:
    daemon = Daemon(config, clock=clock)
    text = config.source.read_text()
    config.source.write_text(text.replace("stability_seconds = 2", 'stability_seconds = "x"'))
    with capture_logs() as logs:
        assert reread_or_keep(daemon.config) is None
    [refused] = events(logs, "daemon.reload_rejected")
    assert (refused["file"], refused["key"]) == (str(config.source), "labd.stability_seconds")
    assert daemon.config is config

    config.source.write_text(text.replace('spool_dir = "spool"', 'spool_dir = "elsewhere"'))
    (config.source.parent / "elsewhere").mkdir()
    with capture_logs() as logs:
        assert reread_or_keep(daemon.config) is None
    [refused] = events(logs, "daemon.reload_rejected")
    assert refused["key"] == "labd.spool_dir"
    assert "changes only with a restart" in str(refused["problem"])

    config.source.write_text(text.replace("stability_seconds = 2", "stability_seconds = 3"))
    new = reread_or_keep(daemon.config)
    assert new is not None
    assert new.hotfolders["prints"].stability_seconds == 3
