"""The conditions alerts come from, on a real journal with the daemon's state injected:
each raised once and resolved once; a restart is a notice, never "resolved"."""

from __future__ import annotations

from pathlib import Path

from labd.alerts.conditions import Conditions, DaemonState
from labd.alerts.model import AlertKind, Status
from labd.alerts.outbox import Outbox
from labd.alerts.service import AlertService
from labd.clock import ManualClock
from labd.config import load
from labd.journal import Journal
from labd.model import JobState
from tests.factories import GOOD_CONFIG, job_in_state, write_config

MAIL = """
[alerts.mail]
host = "mail.lab.example"
from = "labd@lab.example"
to = ["lab@lab.example"]
"""


def test_held_jobs_wait_held_minutes_and_name_their_hint(
    tmp_path: Path, journal: Journal, clock: ManualClock
) -> None:
    config = load(write_config(tmp_path, GOOD_CONFIG + MAIL))
    job = job_in_state(journal, JobState.CONVERTED, tmp_path / "spool")
    journal.held(job.id, rule="print.aborted", reason="aborted by the printer")
    conditions = Conditions(journal, clock)
    assert conditions.now(config) == []
    clock.advance(15 * 60)
    [held] = conditions.now(config)
    assert (held.key, held.kind) == (f"job_held:{job.id}", AlertKind.JOB_HELD)
    assert f"`labd retry {job.id}` or `labd cancel {job.id}`" in held.todo
    assert "aborted by the printer" in held.personal
    assert "aborted by the printer" not in held.what + held.subject


def test_daemon_state_raises_and_resolves_once(
    tmp_path: Path, journal: Journal, clock: ManualClock
) -> None:
    config = load(write_config(tmp_path, GOOD_CONFIG + MAIL))
    ages = {"work": 1.0}
    held: list[str | None] = ["spool /srv/labd/spool: 12 MB free, below min_free_mb"]
    service = AlertService(
        journal, clock, config=lambda: config,
        daemon=DaemonState(beat_ages=lambda: ages, intake_held=lambda: held[0]),
    )  # fmt: skip
    outbox = Outbox(journal)
    service.track(config, service.conditions.now(config))
    ages["work"] = config.stall_seconds
    service.track(config, service.conditions.now(config))
    service.track(config, service.conditions.now(config))
    assert [a.key for a in outbox.open_alerts()] == ["intake_held", "loop_stalled:work"]
    held[0], ages["work"] = None, 0.5
    service.track(config, service.conditions.now(config))
    assert outbox.open_alerts() == []
    statuses = [(m.kind, m.status) for m in outbox.messages()]
    assert statuses == [
        (AlertKind.INTAKE_HELD, Status.RAISED),
        (AlertKind.LOOP_STALLED, Status.RAISED),
        (AlertKind.INTAKE_HELD, Status.RESOLVED),
        (AlertKind.LOOP_STALLED, Status.RESOLVED),
    ]


def test_a_start_after_an_unclean_stop_is_a_notice_without_resolved(
    tmp_path: Path, journal: Journal, clock: ManualClock
) -> None:
    config = load(write_config(tmp_path, GOOD_CONFIG + MAIL))
    service = AlertService(journal, clock, config=lambda: config)
    journal.record("daemon.started", {"hotfolders": []})
    journal.record("daemon.stopped", {"clean": True})
    journal.record("daemon.started", {"hotfolders": []})
    assert service.conditions.now(config) == []  # a clean stop before it
    seq = journal.record("daemon.started", {"hotfolders": []})  # no stop: killed
    [notice] = service.conditions.now(config)
    assert (notice.key, notice.notice) == (f"daemon_restarted:{seq}", True)
    service.track(config, [notice])
    journal.record("daemon.stopped", {"clean": True})
    journal.record("daemon.started", {"hotfolders": []})
    service.track(config, service.conditions.now(config))
    assert [m.status for m in Outbox(journal).messages()] == [Status.RAISED]
    assert Outbox(journal).open_alerts() == []
