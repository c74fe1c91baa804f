"""The alerts' tables in the journal: the open alerts, the outbox, the digests made.

An alert is opened (``alert.raised``, chained) in the same transaction as its messages are
put into the outbox, one per channel, and closed (``alert.resolved``) with its "resolved"
messages: a crash between a condition and its messages loses neither.  A message leaves
the outbox only in the transaction that journals its send (``alert.sent``); a failed send
stays, with its attempts and the time of its next try (``alert.failed``).  A digest day is
a row too, so a restart never sends one twice.

The chained events carry labd's ids, kinds and channels only: never a message's text,
which may name a customer when ``[alerts] include_personal`` is set.  That text lives in
the outbox until it is sent, and goes with the send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from labd.alerts.model import AlertKind, Condition, Status
from labd.clock import isoformat
from labd.journal import Journal, Tx
from labd.store import Row, Schema

__all__ = [
    "BACKOFF_FIRST_SECONDS",
    "BACKOFF_MAX_SECONDS",
    "SCHEMA",
    "Message",
    "OpenAlert",
    "Outbox",
]

# A failed send is tried again after this long, doubling with each attempt, up to the max.
BACKOFF_FIRST_SECONDS: Final = 30.0
BACKOFF_MAX_SECONDS: Final = 1800.0

SCHEMA: Final = Schema(
    "alerts",
    (
        (
            """CREATE TABLE alerts_open (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                key TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                raised_at TEXT NOT NULL,
                notice INTEGER NOT NULL
            )""",
            """CREATE TABLE alerts_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                alert_id INTEGER,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                channel TEXT NOT NULL,
                recipients TEXT NOT NULL,
                subject TEXT NOT NULL,
                body TEXT NOT NULL,
                created_at TEXT NOT NULL,
                not_before TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                next_try TEXT NOT NULL,
                last_error TEXT
            )""",
            "CREATE INDEX alerts_outbox_next ON alerts_outbox(next_try)",
            """CREATE TABLE alerts_digests (
                day TEXT PRIMARY KEY,
                made_at TEXT NOT NULL,
                head_seq INTEGER NOT NULL,
                head TEXT NOT NULL
            )""",
        ),
    ),
)

_MESSAGE_COLUMNS: Final = (
    "id, alert_id, kind, status, channel, recipients, subject, body, created_at, not_before, "
    "attempts, next_try, last_error"
)


@dataclass(frozen=True)
class OpenAlert:
    """A condition that was raised and has not cleared."""

    id: int
    key: str
    kind: AlertKind
    subject: str
    raised_at: str
    notice: bool


@dataclass(frozen=True)
class Message:
    """One message in the outbox, for one channel."""

    id: int
    alert_id: int | None  # None: a digest or a test
    kind: AlertKind
    status: Status
    channel: str
    recipients: tuple[str, ...]  # mail: the addresses; webhook: none
    subject: str
    body: str
    created_at: str
    not_before: str  # not sent before (the end of quiet hours)
    attempts: int
    next_try: str
    last_error: str | None


@dataclass(frozen=True)
class Draft:
    """A message to put into the outbox."""

    kind: AlertKind
    status: Status
    channel: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    not_before: datetime


def _message(row: Row) -> Message:
    return Message(
        id=row.integer("id"),
        alert_id=row.opt_integer("alert_id"),
        kind=AlertKind(row.text("kind")),
        status=Status(row.text("status")),
        channel=row.text("channel"),
        recipients=tuple(r for r in row.text("recipients").split(",") if r),
        subject=row.text("subject"),
        body=row.text("body"),
        created_at=row.text("created_at"),
        not_before=row.text("not_before"),
        attempts=row.integer("attempts"),
        next_try=row.text("next_try"),
        last_error=row.opt_text("last_error"),
    )


class Outbox:
    """The open alerts and the messages waiting to go, in the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    # -- reading --------------------------------------------------------------------------------

    def open_alerts(self) -> list[OpenAlert]:
        """Alerts raised and not resolved, oldest first."""
        rows = self.journal.query(
            "SELECT id, key, kind, subject, raised_at, notice FROM alerts_open ORDER BY id"
        )
        return [
            OpenAlert(
                id=r.integer("id"),
                key=r.text("key"),
                kind=AlertKind(r.text("kind")),
                subject=r.text("subject"),
                raised_at=r.text("raised_at"),
                notice=bool(r.integer("notice")),
            )
            for r in rows
        ]

    def messages(self) -> list[Message]:
        """Every message waiting to go, oldest first."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM alerts_outbox ORDER BY id"  # noqa: S608  # constants
        return [_message(r) for r in self.journal.query(sql)]

    def due(self, now: datetime) -> list[Message]:
        """Messages to send now: past quiet hours and their next try, oldest first."""
        moment = isoformat(now)
        sql = (
            f"SELECT {_MESSAGE_COLUMNS} FROM alerts_outbox "  # noqa: S608  # constants; values bound
            "WHERE next_try <= ? AND not_before <= ? ORDER BY id"
        )
        return [_message(r) for r in self.journal.query(sql, (moment, moment))]

    def length(self) -> int:
        """How many messages wait (the metric ``labd_alert_outbox``)."""
        row = self.journal.query("SELECT count(*) AS n FROM alerts_outbox")
        return row[0].integer("n") if row else 0

    def digest_made(self, day: str) -> bool:
        """Whether the digest of ``day`` (the lab's date it was due) has been made."""
        return bool(self.journal.query("SELECT 1 FROM alerts_digests WHERE day = ?", (day,)))

    # -- writing (each in the caller's transaction) -------------------------------------------

    def raise_alert(self, tx: Tx, condition: Condition) -> int:
        """Open the alert of ``condition`` (chained ``alert.raised``); its id."""
        alert_id = tx.insert(
            "INSERT INTO alerts_open (key, kind, subject, raised_at, notice) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (condition.key, condition.kind.value, condition.subject, tx.now(),
             int(condition.notice)),
        )  # fmt: skip
        tx.event(
            "alert.raised",
            {"alert": alert_id, "kind": condition.kind.value, "key": condition.key},
        )
        return alert_id

    def resolve_alert(self, tx: Tx, alert: OpenAlert) -> None:
        """Close an alert whose condition cleared (chained ``alert.resolved``)."""
        tx.execute("DELETE FROM alerts_open WHERE id = ?", (alert.id,))
        data = {"alert": alert.id, "kind": alert.kind.value, "key": alert.key}
        tx.event("alert.resolved", data)

    def put(self, tx: Tx, alert_id: int | None, drafts: Sequence[Draft]) -> None:
        """Put messages into the outbox; they go at once, or when quiet hours end."""
        now = tx.now()
        tx.executemany(
            "INSERT INTO alerts_outbox (alert_id, kind, status, channel, recipients, subject, "
            "body, created_at, not_before, attempts, next_try) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
            [
                (alert_id, d.kind.value, d.status.value, d.channel, ",".join(d.recipients),
                 d.subject, d.body, now, isoformat(d.not_before), now)
                for d in drafts
            ],
        )  # fmt: skip

    def record_digest(self, tx: Tx, day: str, head_seq: int, head: str) -> bool:
        """Note that the digest of ``day`` is made (chained ``alert.digest``); False if it was."""
        added = tx.execute(
            "INSERT INTO alerts_digests (day, made_at, head_seq, head) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (day) DO NOTHING",
            (day, tx.now(), head_seq, head),
        )
        if added:
            tx.event("alert.digest", {"day": day, "head_seq": head_seq, "head": head})
        return bool(added)

    # -- sending ----------------------------------------------------------------------------------

    def sent(self, channel: str, messages: Sequence[Message]) -> None:
        """The messages went (in one send): out of the outbox, ``alert.sent`` journaled."""
        with self.journal.transaction() as tx:
            tx.executemany("DELETE FROM alerts_outbox WHERE id = ?", [(m.id,) for m in messages])
            tx.event("alert.sent", _send_data(channel, messages))

    def failed(
        self, channel: str, messages: Sequence[Message], problem: str, now: datetime
    ) -> None:
        """The send failed: each message is tried again later, ``alert.failed`` journaled."""
        with self.journal.transaction() as tx:
            for m in messages:
                attempts = m.attempts + 1
                wait = min(BACKOFF_FIRST_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX_SECONDS)
                tx.execute(
                    "UPDATE alerts_outbox SET attempts = ?, next_try = ?, last_error = ? "
                    "WHERE id = ?",
                    (attempts, isoformat(now + timedelta(seconds=wait)), problem, m.id),
                )
            tx.event("alert.failed", _send_data(channel, messages))


def _send_data(channel: str, messages: Sequence[Message]) -> dict[str, object]:
    """What a send's event says: the channel, the messages, their alerts, the attempt."""
    return {
        "channel": channel,
        "messages": [m.id for m in messages],
        "alerts": sorted({m.alert_id for m in messages if m.alert_id is not None}),
        "kinds": sorted({m.kind.value for m in messages}),
        "attempt": max(m.attempts for m in messages) + 1,
    }
