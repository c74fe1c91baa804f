"""The daily digest: yesterday's report, what needs attention, and the journal's head.

Once a day, at ``[alerts] digest_at`` in the lab's time zone (or as soon as labd runs after
it), the supervisor gets yesterday's totals from the same report ``labd report --day
yesterday`` prints, the jobs and alerts that wait for a person, and the journal's head:
its sequence number and hash, as ``labd journal verify`` gives them at that moment.  Kept
outside the server (a mailbox), that head lets ``labd journal verify --head SEQ:HASH``
prove later that nothing up to it was rewritten.  The day is recorded in the journal with
the head (``alert.digest``), so a restart never sends a day's digest twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from labd.alerts.compose import host
from labd.alerts.outbox import OpenAlert
from labd.alerts.settings import AlertSettings
from labd.clock import Clock, isoformat, local, readable, zone_name
from labd.config import Config
from labd.journal import ChainCheck, Journal
from labd.journal.summary import summarize
from labd.privacy.retention import Retention
from labd.report import Period, Report, build

__all__ = ["Digest", "due_day", "make_digest"]

# Jobs that need attention listed in the digest; the rest are counted.
ATTENTION_SHOWN: Final = 30


@dataclass(frozen=True)
class Digest:
    """One day's digest, and the head it carries."""

    day: date  # the lab's date it is sent on; the report is of the day before
    subject: str
    body: str
    head_seq: int
    head: str


def due_day(
    settings: AlertSettings, config: Config, now: datetime, made: Callable[[str], bool]
) -> date | None:
    """The lab's date whose digest is due now and not made yet; None if none is."""
    if settings.digest_at is None:
        return None
    moment = local(now, config.timezone)
    if moment.time().replace(tzinfo=None) < settings.digest_at:
        return None
    return None if made(moment.date().isoformat()) else moment.date()


def make_digest(
    journal: Journal,
    config: Config,
    clock: Clock,
    *,
    day: date,
    check: ChainCheck,
    alerts: Sequence[OpenAlert],
) -> Digest:
    """The digest of ``day`` (the report is of the day before), with ``check``'s head."""
    now = clock.now()
    zone = config.timezone
    period = Period.day(day - timedelta(days=1), zone)
    report = build(journal, config, Retention(journal, config, clock), period, now)
    head = f"{check.events}:{check.head}"
    lines = [
        f"labd on {host()}, {period.first + timedelta(days=1):%A %Y-%m-%d}, "
        f"made {readable(isoformat(now), zone)} ({zone_name(zone)}).",
        "",
        "Journal head (keep this mail: `labd journal verify --head SEQ:HASH` then proves that "
        "nothing up to it was rewritten):",
        f"  {head}",
    ]
    if check.first_bad is None:
        lines.append(f"  the chain verifies: {check.events} events")
    else:
        lines.append(f"  THE CHAIN IS BROKEN at event {check.first_bad}: {check.problem}")
    lines += ["", *_report_lines(report), "", *_attention(journal, config, alerts)]
    subject = f"labd: daily digest {day.isoformat()}, head {head[:24]}…"
    if check.first_bad is not None:
        subject = f"labd: daily digest {day.isoformat()}: JOURNAL BROKEN"
    return Digest(day, subject, "\n".join(lines), check.events, check.head)


def _report_lines(report: Report) -> list[str]:
    """Yesterday's totals as ``labd report`` counts them; the tables are one command away."""
    day = report.period.first
    lines = [f"Yesterday, {day:%A %Y-%m-%d} (labd report --day {day.isoformat()} for the tables):"]
    for key, value in report.totals.items():
        lines.append(f"  {key.removesuffix('_s').removesuffix('_pct').replace('_', ' ')}: "
                     f"{_figure(key, value)}")  # fmt: skip
    return lines


def _figure(key: str, value: object) -> str:
    if value is None:
        return "n/a"
    if key.endswith("_s") and isinstance(value, int | float):
        minutes, seconds = divmod(round(float(value)), 60)
        return f"{minutes} min {seconds:02d} s" if minutes else f"{float(value):.1f} s"
    if key.endswith("_pct"):
        return f"{value} %"
    return str(value)


def _attention(journal: Journal, config: Config, alerts: Sequence[OpenAlert]) -> list[str]:
    """The jobs that wait for a person (as ``labd status`` lists them) and the open alerts."""
    summary = summarize(journal)
    lines = [f"Jobs now: {summary.per_state()}"]
    waiting = summary.attention
    if waiting:
        lines.append(f"Needs attention ({len(waiting)}; `labd status` for the whole list):")
        for job in waiting[:ATTENTION_SHOWN]:
            reason = f": {job.reason}" if config.alerts.include_personal and job.reason else ""
            lines.append(f"  job {job.id} {job.state.value} {job.rule}{reason}")
        if len(waiting) > ATTENTION_SHOWN:
            lines.append(f"  and {len(waiting) - ATTENTION_SHOWN} more")
    else:
        lines.append("Needs attention: nothing.")
    if alerts:
        lines.append(f"Open alerts ({len(alerts)}):")
        lines += [
            f"  since {readable(a.raised_at, config.timezone)}: {a.subject}"
            for a in alerts
            if not a.notice
        ]
    return lines
