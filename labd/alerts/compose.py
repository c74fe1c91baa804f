"""Messages as people read them: one per alert and channel, several sent as one.

A message's text is made when its alert is raised or resolved, so it says what was true
then; :func:`drafts` routes it to the channels that take its kind, and defers it to the
end of quiet hours unless its kind is urgent.  When several messages wait for one channel
and the same recipients, :func:`mail_of` and :func:`webhook_of` put them into one mail or
one JSON document: a drop of 500 bad files, or a restart that leaves 30 jobs UNCERTAIN,
is one message, not hundreds.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final

from labd import __version__
from labd.alerts.model import AlertKind, Condition, Status
from labd.alerts.outbox import Draft, Message
from labd.alerts.settings import AlertSettings, MailChannel
from labd.clock import day_start, isoformat, local, readable

__all__ = ["MAX_GROUP", "body_of", "drafts", "mail_of", "quiet_until", "webhook_of"]

# At most this many messages go in one mail or one webhook document.
MAX_GROUP: Final = 50
_SUBJECT_PREFIX: Final = "labd"


def host() -> str:
    """The print server's name, so a lab with several can tell who speaks."""
    return socket.gethostname()


def body_of(
    condition: Condition, settings: AlertSettings, zone: tzinfo | None, now: datetime
) -> str:
    """The text of a raised alert: what happened, what to do; personal only if configured."""
    lines = [
        condition.what,
        "",
        f"What to do: {condition.todo}",
    ]
    if settings.include_personal and condition.personal:
        lines += ["", "Details (personal data, sent because include_personal = true):",
                  condition.personal]  # fmt: skip
    lines += ["", f"Raised {readable(isoformat(now), zone)} by labd on {host()}."]
    return "\n".join(lines)


def resolved_body(subject: str, raised_at: str, zone: tzinfo | None, now: datetime) -> str:
    """The text of a resolved alert."""
    return (
        f"Resolved: {subject}.\n\nRaised {readable(raised_at, zone)}, cleared "
        f"{readable(isoformat(now), zone)}; nothing more to do for it. labd on {host()}."
    )


def subject_of(status: Status, subject: str) -> str:
    """``labd: printer minilab stopped …`` or ``labd: RESOLVED: …``."""
    word = "RESOLVED: " if status is Status.RESOLVED else ""
    return f"{_SUBJECT_PREFIX}: {word}{subject}"


def drafts(
    settings: AlertSettings,
    kind: AlertKind,
    status: Status,
    subject: str,
    body: str,
    *,
    now: datetime,
    zone: tzinfo | None,
) -> list[Draft]:
    """One message per channel that takes ``kind``; deferred in quiet hours unless urgent."""
    urgent = kind in settings.urgent or kind in (AlertKind.DIGEST, AlertKind.TEST)
    not_before = now if urgent else quiet_until(settings, now, zone)
    found = []
    for channel in settings.channels:
        if kind not in channel.kinds and kind is not AlertKind.TEST:
            continue
        to = channel.recipients_of(kind) if isinstance(channel, MailChannel) else ()
        found.append(Draft(kind, status, channel.name, to, subject, body, not_before))
    return found


def quiet_until(settings: AlertSettings, now: datetime, zone: tzinfo | None) -> datetime:
    """``now``, or the end of the quiet hours ``now`` falls in (aware UTC)."""
    if settings.quiet_hours is None:
        return now
    start, end = settings.quiet_hours
    moment = local(now, zone)
    clock = moment.time().replace(tzinfo=None)
    today = moment.date()
    if start < end:  # within one day: 12:00-14:00
        inside = start <= clock < end
        end_day = today
    else:  # over midnight: 22:00-06:00
        inside = clock >= start or clock < end
        end_day = today + timedelta(days=1) if clock >= start else today
    return _at(end_day, end, zone) if inside else now


def _at(day: date, moment: time, zone: tzinfo | None) -> datetime:
    """``day`` at ``moment`` in ``zone``, aware UTC (a wall time a DST change skips moves)."""
    midnight = day_start(day, zone)
    return (
        local(midnight, zone)
        .replace(hour=moment.hour, minute=moment.minute)
        .astimezone(midnight.tzinfo)
    )


def mail_of(messages: Sequence[Message]) -> tuple[str, str]:
    """The subject and text of one mail carrying ``messages`` (one or a group)."""
    if len(messages) == 1:
        return messages[0].subject, messages[0].body
    raised = sum(1 for m in messages if m.status is Status.RAISED)
    resolved = sum(1 for m in messages if m.status is Status.RESOLVED)
    counts = ", ".join(
        f"{n} {word}" for n, word in ((raised, "raised"), (resolved, "resolved")) if n
    )
    first = messages[0].subject.removeprefix(f"{_SUBJECT_PREFIX}: ")
    subject = f"{_SUBJECT_PREFIX}: {len(messages)} alerts ({counts or 'other'}): {first}, …"
    parts = [f"{len(messages)} alerts from labd on {host()}:", ""]
    parts += [f"{i}. {m.subject}" for i, m in enumerate(messages, 1)]
    for i, m in enumerate(messages, 1):
        parts += ["", "-" * 72, f"{i}. {m.subject}", "", m.body]
    return subject, "\n".join(parts)


def webhook_of(messages: Sequence[Message], now: datetime) -> bytes:
    """The JSON document a webhook gets: every message, with its alert, kind and status."""
    document = {
        "source": "labd",
        "version": __version__,
        "host": host(),
        "sent_at": isoformat(now),
        "alerts": [
            {
                "message": m.id,
                "alert": m.alert_id,
                "kind": m.kind.value,
                "status": m.status.value,
                "subject": m.subject,
                "text": m.body,
                "created_at": m.created_at,
            }
            for m in messages
        ],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
