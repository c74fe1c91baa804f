"""``[alerts]``: what it takes, the errors that name file and key, quiet hours, the outbox
metric.  A bad ``[alerts]`` is refused whole: at start nothing runs, at a reload the
configuration in force stays."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from labd.alerts.compose import quiet_until
from labd.alerts.model import AlertKind, Condition
from labd.alerts.service import AlertService
from labd.alerts.settings import AlertSettings
from labd.clock import ManualClock
from labd.config import load
from labd.daemon import reload
from labd.errors import ConfigError
from labd.journal import Journal
from labd.metrics.collect import CACHE_SECONDS, JournalCollector
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG, write_config

MAIL = """
[alerts.mail]
host = "mail.lab.example"
from = "labd@lab.example"
to = ["lab@lab.example"]
"""


def with_alerts(tmp_path: Path, text: str) -> Path:
    return write_config(tmp_path, GOOD_CONFIG + text)


def test_mail_and_webhook_with_their_defaults(tmp_path: Path) -> None:
    config = load(with_alerts(tmp_path, """
[alerts]
quiet_hours = "22:00-06:00"
urgent = ["job_uncertain"]
[alerts.mail]
host = "mail.lab.example"
security = "tls"
credentials = "smtp.credentials"
from = "labd@lab.example"
to = ["lab@lab.example"]
recipients.journal_broken = ["owner@lab.example"]
[alerts.webhook]
url = "https://alerts.lab.example/labd"
secret = "/etc/labd/webhook.secret"
kinds = ["printer_stopped", "digest"]
"""))  # fmt: skip
    alerts = config.alerts
    assert alerts.mail is not None
    assert alerts.webhook is not None
    assert (alerts.mail.port, alerts.mail.credentials) == (465, tmp_path / "smtp.credentials")
    assert alerts.mail.recipients_of(AlertKind.JOURNAL_BROKEN) == ("owner@lab.example",)
    assert alerts.mail.recipients_of(AlertKind.JOB_HELD) == ("lab@lab.example",)
    assert alerts.webhook.kinds == {AlertKind.PRINTER_STOPPED, AlertKind.DIGEST}
    assert alerts.quiet_hours == (time(22), time(6))
    assert alerts.urgent == {AlertKind.JOB_UNCERTAIN}
    assert (alerts.digest_at, alerts.include_personal, alerts.held_minutes) == (time(7), False, 15)


def test_no_alerts_section_sends_nothing(tmp_path: Path) -> None:
    assert load(write_config(tmp_path)).alerts == AlertSettings()
    assert AlertSettings().channels == ()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        pytest.param(MAIL + 'security = "ssl"\n', "alerts.mail.security",
                     "'ssl' is not one of: starttls, tls, none", id="security"),
        pytest.param(MAIL.replace('"lab@lab.example"', '"lab at example"'), "alerts.mail.to",
                     "'lab at example' is not an e-mail address", id="address"),
        pytest.param(MAIL.replace('to = ["lab@lab.example"]', ""), "alerts.mail.to",
                     "no recipients for daemon_restarted", id="no-recipients"),
        pytest.param(MAIL + 'security = "none"\ncredentials = "c"\n', "alerts.mail.credentials",
                     "a password is never sent unencrypted", id="password-in-clear"),
        pytest.param(MAIL + 'kinds = ["printer_stoped"]\n', "alerts.mail.kinds",
                     "no alert kind 'printer_stoped'", id="kind"),
        pytest.param(MAIL + "password = 'x'\n", "alerts.mail.password",
                     "unknown setting", id="password-in-config"),
        pytest.param('[alerts.webhook]\nurl = "http://alerts.example.com/"\nsecret = "s"\n',
                     "alerts.webhook.url", "would send alerts unencrypted", id="http"),
        pytest.param('[alerts.webhook]\nurl = "https://alerts.example.com/"\n',
                     "alerts.webhook.secret", "missing", id="no-secret"),
        pytest.param('[alerts]\nquiet_hours = "22-6"\n', "alerts.quiet_hours",
                     "'22' is not a time of day", id="quiet-hours"),
        pytest.param('[alerts]\ndigest_at = "7am"\n', "alerts.digest_at",
                     "'7am' is not a time of day", id="digest-at"),
        pytest.param("[alerts]\nheld_minutes = 0\n", "alerts.held_minutes",
                     "0 is out of range", id="held-minutes"),
    ],
)  # fmt: skip
def test_a_bad_alerts_section_names_file_and_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = with_alerts(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.file, caught.value.key) == (str(path), key)
    assert problem in caught.value.problem


def test_a_reload_with_a_bad_alerts_section_keeps_the_configuration_in_force(
    tmp_path: Path,
) -> None:
    path = with_alerts(tmp_path, MAIL)
    running = load(path)
    path.write_text(path.read_text().replace("to = [", "kinds = ['nope']\nto = ["))
    assert reload.reread_or_keep(running, reload.as_read) is None
    assert running.alerts.mail is not None
    assert running.alerts.mail.host == "mail.lab.example"  # the old one, whole
    assert running.alerts.mail.kinds == set(AlertKind) - {AlertKind.TEST}


@pytest.mark.parametrize(
    ("now", "until"),
    [
        pytest.param(datetime(2026, 3, 4, 23, tzinfo=UTC), datetime(2026, 3, 5, 5, tzinfo=UTC),
                     id="evening: until the morning (Oslo, UTC+1)"),
        pytest.param(datetime(2026, 3, 5, 3, tzinfo=UTC), datetime(2026, 3, 5, 5, tzinfo=UTC),
                     id="night"),
        pytest.param(datetime(2026, 3, 5, 12, tzinfo=UTC), datetime(2026, 3, 5, 12, tzinfo=UTC),
                     id="day: now"),
    ],
)  # fmt: skip
def test_quiet_hours_defer_to_their_end_in_the_labs_time(now: datetime, until: datetime) -> None:
    settings = AlertSettings(quiet_hours=(time(22), time(6)))
    assert quiet_until(settings, now, ZoneInfo("Europe/Oslo")) == until


def test_quiet_hours_hold_back_all_but_urgent_kinds(tmp_path: Path, journal: Journal) -> None:
    config = load(with_alerts(tmp_path, '[alerts]\nquiet_hours = "00:00-23:59"\n' + MAIL))
    clock = ManualClock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    service = AlertService(journal, clock, config=lambda: config)
    quiet = Condition("job_uncertain:1", AlertKind.JOB_UNCERTAIN, "s", "w", "t")
    urgent = Condition("intake_held", AlertKind.INTAKE_HELD, "s", "w", "t")
    service.track(config, [quiet, urgent])
    due = service.outbox.due(clock.now())
    assert [m.kind for m in due] == [AlertKind.INTAKE_HELD]
    assert len(service.outbox.messages()) == 2


def test_the_outbox_length_is_a_metric(tmp_path: Path, clock: ManualClock) -> None:
    """On the SQLite journal the metrics read (their journal size is the file's)."""
    config = load(with_alerts(tmp_path, MAIL))
    with open_journal(config.journal_path, clock) as journal:
        service = AlertService(journal, clock, config=lambda: config)
        collector = JournalCollector(journal, config=lambda: config, clock=clock, after=0)

        def waiting() -> list[float]:
            clock.advance(CACHE_SECONDS)
            [family] = [f for f in collector.collect() if f.name == "labd_alert_outbox"]
            return [s.value for s in family.samples]

        assert waiting() == [0.0]
        service.track(config, [Condition("intake_held", AlertKind.INTAKE_HELD, "s", "w", "t")])
        assert waiting() == [1.0]  # one channel: mail
