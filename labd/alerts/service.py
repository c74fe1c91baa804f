"""One pass of the alerts loop, and the test send of ``labd alerts test``.

A pass (every ``[alerts] check_seconds``) evaluates the conditions, raises the alerts of
new ones and resolves those gone (:class:`~labd.alerts.outbox.Outbox`, in one
transaction), makes the daily digest when it is due, and sends what waits: grouped per
channel and recipients, each send journaled, a failed one tried again with back-off.
Without a configured channel a pass does nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from labd.alerts.compose import (
    MAX_GROUP,
    body_of,
    drafts,
    mail_of,
    resolved_body,
    subject_of,
    webhook_of,
)
from labd.alerts.conditions import Conditions, DaemonState
from labd.alerts.digest import due_day, make_digest
from labd.alerts.model import AlertKind, Condition, DeliveryFailed, Status
from labd.alerts.outbox import Message, Outbox
from labd.alerts.send import post_webhook, send_mail
from labd.alerts.settings import MailChannel, WebhookChannel
from labd.clock import Clock
from labd.config import Config
from labd.journal import ChainCheck, Journal
from labd.schemas import open_journal
from labd.store import StoreLocation

__all__ = ["AlertService", "journal_tests", "send", "test_channels", "verify_apart"]

log = structlog.get_logger(__name__)

# Without a digest the chain is still verified this often (and at start).
VERIFY_SECONDS = 86400.0


def verify_apart(journal_path: StoreLocation, clock: Clock) -> ChainCheck:
    """Walk the chain on a connection of its own: the daemon's writes never wait for it."""
    journal = open_journal(journal_path, clock, create=False, migrate=False)
    try:
        return journal.verify()
    finally:
        journal.close()


class AlertService:
    """Conditions to alerts, alerts to the outbox, the outbox to mail and webhook."""

    def __init__(
        self,
        journal: Journal,
        clock: Clock,
        *,
        config: Callable[[], Config],
        daemon: DaemonState | None = None,
        verify: Callable[[], ChainCheck] | None = None,
    ) -> None:
        """``config`` gives the configuration in force; ``verify`` walks the chain (by
        default on ``journal``'s own connection)."""
        self.journal = journal
        self.clock = clock
        self.config = config
        self.outbox = Outbox(journal)
        self._verify = verify or journal.verify
        self._check: ChainCheck | None = None
        self._next_verify = clock.monotonic()
        state = daemon or DaemonState()
        self.conditions = Conditions(
            journal,
            clock,
            DaemonState(state.beat_ages, state.intake_held, chain=lambda: self._check),
        )

    def run_pass(self, beat: Callable[[], None] = lambda: None) -> None:
        """Evaluate, raise and resolve, make the digest if due, send what waits."""
        config = self.config()
        if not config.alerts.channels:
            return
        if self.clock.monotonic() >= self._next_verify:
            self.verify()
        self.track(config, self.conditions.now(config))
        beat()
        self.digest(config)
        self.deliver(config, beat)

    def verify(self) -> ChainCheck:
        """Walk the journal's chain now; the result feeds the ``journal_broken`` condition."""
        self._check = self._verify()
        self._next_verify = self.clock.monotonic() + VERIFY_SECONDS
        if self._check.first_bad is not None:
            log.error(
                "alert.chain_broken", event=self._check.first_bad, problem=self._check.problem
            )
        return self._check

    # -- conditions to alerts -----------------------------------------------------------------

    def track(self, config: Config, conditions: Sequence[Condition]) -> None:
        """Raise the alerts of new conditions, resolve those whose condition is gone."""
        settings, zone, now = config.alerts, config.timezone, self.clock.now()
        known = {a.key: a for a in self.outbox.open_alerts()}
        current = {c.key: c for c in conditions}
        new = [c for key, c in current.items() if key not in known]
        gone = [a for key, a in known.items() if key not in current]
        if not new and not gone:
            return
        with self.journal.transaction() as tx:
            for c in new:
                alert_id = self.outbox.raise_alert(tx, c)
                subject = subject_of(Status.RAISED, c.subject)
                body = body_of(c, settings, zone, now)
                made = drafts(settings, c.kind, Status.RAISED, subject, body, now=now, zone=zone)
                self.outbox.put(tx, alert_id, made)
            for a in gone:
                self.outbox.resolve_alert(tx, a)
                if a.notice:
                    continue  # a moment, not a state: nothing to resolve
                subject = subject_of(Status.RESOLVED, a.subject)
                body = resolved_body(a.subject, a.raised_at, zone, now)
                made = drafts(settings, a.kind, Status.RESOLVED, subject, body, now=now, zone=zone)
                self.outbox.put(tx, a.id, made)
        for c in new:
            log.info("alert.raised", key=c.key, kind=c.kind.value)
        for a in gone:
            log.info("alert.resolved", key=a.key, kind=a.kind.value, alert=a.id)

    def digest(self, config: Config) -> bool:
        """Make today's digest if it is due and not made yet (once a day, across restarts)."""
        settings, now = config.alerts, self.clock.now()
        day = due_day(settings, config, now, self.outbox.digest_made)
        if day is None:
            return False
        check = self.verify()
        made = make_digest(
            self.journal, config, self.clock, day=day, check=check,
            alerts=self.outbox.open_alerts(),
        )  # fmt: skip
        with self.journal.transaction() as tx:
            if not self.outbox.record_digest(tx, day.isoformat(), made.head_seq, made.head):
                return False
            self.outbox.put(
                tx, None,
                drafts(settings, AlertKind.DIGEST, Status.DIGEST, made.subject, made.body,
                       now=now, zone=config.timezone),
            )  # fmt: skip
        log.info("alert.digest_made", day=day.isoformat(), head_seq=made.head_seq)
        return True

    # -- the outbox to the channels ---------------------------------------------------------

    def deliver(self, config: Config, beat: Callable[[], None] = lambda: None) -> None:
        """Send every due message, grouped; a channel that fails waits for its next try."""
        now = self.clock.now()
        groups: dict[tuple[str, tuple[str, ...], bool], list[Message]] = {}
        for m in self.outbox.due(now):
            alone = m.kind in (AlertKind.DIGEST, AlertKind.TEST)  # never mixed with alerts
            groups.setdefault((m.channel, m.recipients, alone), []).append(m)
        down: set[str] = set()
        for (name, to, alone), messages in groups.items():
            channel = config.alerts.channel(name)
            if channel is None or name in down:
                continue  # a channel a reload removed: its messages wait, `labd alerts list`
            size = 1 if alone else MAX_GROUP
            for start in range(0, len(messages), size):
                beat()
                chunk = messages[start : start + size]
                try:
                    send(channel, to, chunk, now)
                except DeliveryFailed as e:
                    self.outbox.failed(name, chunk, e.problem, now)
                    log.warning(
                        "alert.failed", channel=name, messages=len(chunk), problem=e.problem
                    )
                    down.add(name)
                    break
                self.outbox.sent(name, chunk)
                log.info("alert.sent", channel=name, messages=len(chunk))


def test_channels(config: Config, now: datetime) -> dict[str, str | None]:
    """Send one test message on each configured channel now: channel -> problem, or None.

    Not through the outbox: a failed test is for the administrator to see now, not for
    the daemon to retry later.  :func:`journal_tests` records the sends.
    """
    results: dict[str, str | None] = {}
    subject = subject_of(Status.TEST, "test alert")
    body = "A test of labd's alerts (`labd alerts test`): this channel works. Nothing to do."
    made = drafts(config.alerts, AlertKind.TEST, Status.TEST, subject, body, now=now,
                  zone=config.timezone)  # fmt: skip
    for d in made:
        channel = config.alerts.channel(d.channel)
        if channel is None:  # drafts are made for the configured channels only
            continue
        message = Message(0, None, d.kind, d.status, d.channel, d.recipients, d.subject,
                          d.body, "", "", 0, "", None)  # fmt: skip
        try:
            send(channel, d.recipients, [message], now)
        except DeliveryFailed as e:
            results[d.channel] = e.problem
            continue
        results[d.channel] = None
    return results


def journal_tests(journal: Journal, results: dict[str, str | None]) -> None:
    """Journal each test send as the daemon's sends are: ``alert.sent`` / ``alert.failed``."""
    for channel, problem in results.items():
        data = {"channel": channel, "messages": [], "alerts": [], "kinds": ["test"], "attempt": 1}
        journal.record("alert.sent" if problem is None else "alert.failed", data)


def send(
    channel: MailChannel | WebhookChannel, to: Sequence[str], messages: Sequence[Message],
    now: datetime,
) -> None:  # fmt: skip
    """Send ``messages`` as one mail or one webhook document; DeliveryFailed if it fails."""
    if isinstance(channel, MailChannel):
        subject, text = mail_of(messages)
        send_mail(channel, to, subject, text, now=now)
    else:
        post_webhook(channel, webhook_of(messages, now), now=now)
