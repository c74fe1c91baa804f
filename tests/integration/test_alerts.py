"""Alerts end to end against real receivers: aiosmtpd with STARTTLS and a login, and an
HTTPS webhook endpoint that checks the signature; a real private CUPS for the stopped
printer.  The alerts service's passes run by hand on a manual clock, as the daemon's loop
runs them, so held times and back-off need no waiting.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labd.alerts.outbox import BACKOFF_FIRST_SECONDS, Outbox
from labd.alerts.service import AlertService
from labd.cli import main
from labd.clock import ManualClock
from labd.config import Config, parse
from labd.demo.embedded import EmbeddedPrintServer
from labd.journal import EventFilter, Journal
from labd.model import JobState
from labd.schemas import open_journal
from tests.alert_receivers import Receivers, receivers
from tests.factories import PrintRig, job_in_state, make_rig, toml_text
from tests.waiting import wait_until

CUSTOMER = ("Hansen", "A-4711")  # an entry's and an order's words no alert may carry


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[Receivers]:
    yield from receivers(tmp_path)


def lab_settings(tmp_path: Path, alerts: dict[str, object]) -> dict[str, dict[str, object]]:
    return {
        "labd": {
            "state_dir": str(tmp_path / "state"),
            "spool_dir": str(tmp_path / "spool"),
            "quarantine_dir": str(tmp_path / "quarantine"),
            "hotfolder_root": str(tmp_path / "hot"),
            "timezone": "UTC",
        },
        "printers": {"minilab": {"queue": "minilab"}},
        "products": {"p": {"format": "jpeg", "size": "6x4 in"}},
        "hotfolders": {"prints": {"product": "p", "printer": "minilab"}},
        "alerts": alerts,
    }


def lab(tmp_path: Path, sinks: Receivers, **more: object) -> Config:
    return parse(lab_settings(tmp_path, sinks.settings(**more)), str(tmp_path / "labd.toml"))


def events(journal: Journal, kind: str) -> list[dict[str, object]]:
    return [dict(e.data) for e in journal.find_events(EventFilter(kinds=(kind,)))]


def no_customer_data(sinks: Receivers, *words: str) -> None:
    captured = sinks.everything()
    assert captured  # something was sent, or this proves nothing
    for word in (*CUSTOMER, *words):
        assert word.encode() not in captured, word


# -- a printer stopped, then enabled: real CUPS ----------------------------------------------


@pytest.mark.cups
def test_stopped_printer_mails_and_posts_once_then_resolved_once(
    tmp_path: Path, print_server: EmbeddedPrintServer, sinks: Receivers
) -> None:
    queue = "alerts-stopped"
    print_server.add_raw_queue(queue)
    rig = PrintRig(tmp_path, print_server, queue, ManualClock(datetime.now(UTC)))
    config = parse({**rig.settings, "alerts": sinks.settings()}, str(tmp_path / "labd.toml"))
    service = AlertService(rig.journal, rig.clock, config=lambda: config)
    try:
        subprocess.run(["cupsdisable", "-h", print_server.server, queue], check=True)
        job = rig.converted_job()
        rig.pipeline.submit(job)

        def state() -> JobState | None:
            rig.pipeline.follow()
            found = rig.journal.job(job.id).state
            return found if found in (JobState.HELD, JobState.DONE) else None

        assert wait_until(state, timeout=30, what="the job held") is JobState.HELD
        service.run_pass()
        assert sinks.mail.mails == []  # held for a minute only
        assert sinks.hook.posts == []
        rig.clock.advance(16 * 60)
        service.run_pass()
        service.run_pass()  # still stopped: nothing new
        [mail] = sinks.mail.mails
        assert mail["Subject"] == "labd: printer p stopped, 1 job waiting"
        assert f"cupsenable {queue}" in mail.get_content()
        assert f"job {job.id}" in mail.get_content()
        assert sinks.hook.subjects() == [mail["Subject"]]
        assert all(valid for _, valid in sinks.hook.posts)

        subprocess.run(["cupsenable", "-h", print_server.server, queue], check=True)
        assert wait_until(state, timeout=30, what="the job printed") is JobState.DONE
        service.run_pass()
        service.run_pass()
        assert sinks.mail.subjects() == [
            "labd: printer p stopped, 1 job waiting",
            "labd: RESOLVED: printer p stopped, 1 job waiting",
        ]
        assert sinks.hook.subjects() == sinks.mail.subjects()
        assert Outbox(rig.journal).open_alerts() == []
        assert [e["kinds"] for e in events(rig.journal, "alert.sent")] == [["printer_stopped"]] * 4
        no_customer_data(sinks, "photo.jpg")
    finally:
        rig.journal.close()


# -- the mail server down while the alert is raised, then up ------------------------------------


def test_mail_server_down_then_up_the_alert_arrives_once_across_a_restart(
    tmp_path: Path, sinks: Receivers
) -> None:
    config = lab(tmp_path, sinks)
    clock = ManualClock()
    journal = open_journal(config.journal_path, clock)
    job = job_in_state(journal, JobState.UNCERTAIN, config.spool_dir, entry="Hansen wedding",
                       order="A-4711")  # fmt: skip
    sinks.mail.stop()
    AlertService(journal, clock, config=lambda: config).run_pass()
    assert sinks.hook.subjects() == [f"labd: job {job.id} UNCERTAIN: did it print on minilab?"]
    [failed] = events(journal, "alert.failed")
    assert (failed["channel"], failed["attempt"], failed["kinds"]) == ("mail", 1, ["job_uncertain"])
    [waiting] = Outbox(journal).messages()
    assert (waiting.channel, waiting.attempts) == ("mail", 1)
    assert "Connection refused" in str(waiting.last_error)
    journal.close()  # labd restarts while the mail server is down: nothing is lost

    journal = open_journal(config.journal_path, clock)
    service = AlertService(journal, clock, config=lambda: config)
    service.run_pass()
    assert len(events(journal, "alert.failed")) == 1  # its next try is not due yet
    sinks.mail.start()
    clock.advance(BACKOFF_FIRST_SECONDS + 1)
    service.run_pass()
    service.run_pass()
    [mail] = sinks.mail.mails
    assert mail["Subject"] == f"labd: job {job.id} UNCERTAIN: did it print on minilab?"
    assert f"labd resolve {job.id} printed" in mail.get_content()
    assert sinks.mail.handler.recipients == [["lab@lab.example"]]
    assert Outbox(journal).messages() == []
    assert [(e["channel"], e["attempt"]) for e in events(journal, "alert.sent")] == [
        ("webhook", 1),
        ("mail", 2),
    ]
    assert len(sinks.hook.posts) == 1  # the webhook had it the first time, and only then
    no_customer_data(sinks)
    journal.close()


# -- 500 quarantined files in one drop: one alert --------------------------------------------


def test_five_hundred_quarantined_files_in_one_drop_are_one_alert(
    tmp_path: Path, sinks: Receivers
) -> None:
    config = lab(tmp_path, sinks)
    with make_rig(tmp_path) as rig:
        target = tmp_path / "elsewhere.jpg"
        target.write_bytes(b"x")
        for i in range(500):  # links are refused unread: quarantined at intake
            (rig.hot / f"Hansen A-4711 IMG_{i:04d}.jpg").symlink_to(target)
        rig.settle()
        assert rig.journal.counts()[JobState.QUARANTINED] == 500
        service = AlertService(rig.journal, rig.clock, config=lambda: config)
        service.run_pass()
        service.run_pass()
    [mail] = sinks.mail.mails
    assert mail["Subject"] == "labd: hot folder prints: 500 jobs quarantined"
    text = str(mail.get_content())
    assert "and 480 more (intake.symlink 500)" in text
    [document] = sinks.hook.documents()
    assert len(document["alerts"]) == 1  # type: ignore[arg-type]
    no_customer_data(sinks, "IMG_0")


def test_personal_data_goes_out_only_when_configured(tmp_path: Path, sinks: Receivers) -> None:
    """The counterpart of the checks above: with include_personal the names do appear."""
    config = lab(tmp_path, sinks, include_personal=True)
    clock = ManualClock()
    with open_journal(config.journal_path, clock) as journal:
        job_in_state(journal, JobState.UNCERTAIN, config.spool_dir, entry="Hansen wedding",
                     order="A-4711")  # fmt: skip
        AlertService(journal, clock, config=lambda: config).run_pass()
    assert b"Hansen wedding" in sinks.everything()
    assert b"A-4711" in sinks.everything()


# -- many alerts at once: one mail -----------------------------------------------------------


def test_alerts_raised_together_go_as_one_mail_and_one_document(
    tmp_path: Path, sinks: Receivers
) -> None:
    config = lab(tmp_path, sinks)
    clock = ManualClock()
    with open_journal(config.journal_path, clock) as journal:
        jobs = [job_in_state(journal, JobState.UNCERTAIN, config.spool_dir).id for _ in range(30)]
        AlertService(journal, clock, config=lambda: config).run_pass()
        assert len(Outbox(journal).open_alerts()) == 30
    [mail] = sinks.mail.mails
    assert mail["Subject"].startswith("labd: 30 alerts (30 raised): job ")
    assert all(f"labd resolve {j} printed" in str(mail.get_content()) for j in jobs)
    [document] = sinks.hook.documents()
    assert len(document["alerts"]) == 30  # type: ignore[arg-type]


# -- the daily digest ------------------------------------------------------------------------


def test_digest_carries_the_head_labd_journal_verify_gives_and_comes_once_a_day(
    tmp_path: Path, sinks: Receivers
) -> None:
    settings = lab_settings(tmp_path, sinks.settings(digest_at="07:00"))
    path = tmp_path / "labd.toml"
    path.write_text(toml_text(settings))
    config = parse(settings, str(path))
    clock = ManualClock(datetime(2026, 3, 4, 6, 30, tzinfo=UTC))
    with open_journal(config.journal_path, clock) as journal:
        for _ in range(3):
            job_in_state(journal, JobState.DONE, config.spool_dir)
        service = AlertService(journal, clock, config=lambda: config)
        service.run_pass()
        assert sinks.mail.mails == []  # before 07:00
        clock.advance(3600)
        out = io.StringIO()
        assert main(["--config", str(path), "journal", "verify"], out=out) == 0
        match = re.match(r"OK: (\d+) events, head ([0-9a-f]{64})", out.getvalue())
        assert match is not None
        service.run_pass()
        service.run_pass()
        AlertService(journal, clock, config=lambda: config).run_pass()  # a restart
        [digest] = events(journal, "alert.digest")
    [mail] = sinks.mail.mails
    assert mail["To"] == "owner@lab.example"
    assert mail["Subject"].startswith("labd: daily digest 2026-03-04, head ")
    text = str(mail.get_content()).replace("\r\n", "\n")
    assert f"  {match.group(1)}:{match.group(2)}\n" in text
    assert (digest["head_seq"], digest["head"]) == (int(match.group(1)), match.group(2))
    assert "Yesterday, Tuesday 2026-03-03" in text
    assert "jobs printed: 3" not in text  # printed on the 4th, not yesterday
    assert len(sinks.hook.documents()) == 1
    out = io.StringIO()
    head = f"{match.group(1)}:{match.group(2)}"
    assert main(["--config", str(path), "journal", "verify", "--head", head], out=out) == 0
    assert "nothing up to it was rewritten" in out.getvalue()


# -- labd alerts test and list ---------------------------------------------------------------


def test_alerts_test_command_says_per_channel_whether_it_went(
    tmp_path: Path, sinks: Receivers
) -> None:
    settings = lab_settings(tmp_path, sinks.settings())
    path = tmp_path / "labd.toml"
    path.write_text(toml_text(settings))
    out = io.StringIO()
    assert main(["--config", str(path), "alerts", "test"], out=out) == 0
    assert out.getvalue().splitlines() == [
        f"mail: sent to lab@lab.example via 127.0.0.1:{sinks.mail.port} (starttls)",
        f"webhook: sent to {sinks.hook.url}, signed",
    ]
    assert sinks.mail.subjects() == ["labd: test alert"]
    assert sinks.hook.subjects() == ["labd: test alert"]

    (tmp_path / "webhook.secret").write_bytes(b"not the receiver's key")
    settings["alerts"]["webhook"]["secret"] = str(tmp_path / "webhook.secret")  # type: ignore[index]
    path.write_text(toml_text(settings))
    sinks.mail.stop()
    out = io.StringIO()
    assert main(["--config", str(path), "alerts", "test"], out=out) == 41
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"mail: FAILED: 127.0.0.1:{sinks.mail.port}: ")
    assert lines[1] == f"webhook: FAILED: {sinks.hook.url}: HTTP 401 Unauthorized"


def test_alerts_list_shows_open_alerts_and_the_outbox(tmp_path: Path, sinks: Receivers) -> None:
    settings = lab_settings(tmp_path, sinks.settings())
    path = tmp_path / "labd.toml"
    path.write_text(toml_text(settings))
    config = parse(settings, str(path))
    clock = ManualClock()
    sinks.mail.stop()
    with open_journal(config.journal_path, clock) as journal:
        job = job_in_state(journal, JobState.UNCERTAIN, config.spool_dir)
        AlertService(journal, clock, config=lambda: config).run_pass()
    out = io.StringIO()
    assert main(["--config", str(path), "alerts", "list"], out=out) == 0
    text = out.getvalue()
    assert f"job_uncertain  2026-01-01 12:00:00 UTC  job {job.id} UNCERTAIN" in text
    [row] = [line for line in text.splitlines() if "mail (lab@lab.example)" in line]
    assert row.split()[1:4] == ["1", "raised", "mail"]
    assert "2026-01-01 12:00:30 UTC" in row  # the next try, after the first back-off
    assert "Connection refused" in row
