"""The hash-chained event log: append-only, each event chained to the one before by SHA-256.

A quiet edit, a removed event or a truncated tail is detectable (:func:`verify`, with a
head noted earlier).  Personal text (file names, reasons that name files) is kept beside
the chain (``event_details``), never in it, so erasing it never breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from labd.model import Event

if TYPE_CHECKING:
    from labd.store.base import Dialect, Row, Store, Tx

GENESIS: Final = "0" * 64
EVENT_COLUMNS: Final = "e.seq, e.ts, e.job_id, e.kind, e.data, e.hash, d.text"
EVENT_FROM: Final = "events e LEFT JOIN event_details d ON d.seq = e.seq"


def canonical(obj: object) -> str:
    """The one JSON text of ``obj`` that its hash is taken over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    prev_hash: str, *, seq: int, ts: str, job_id: int | None, kind: str, data: str
) -> str:
    """The chain link of one event: SHA-256 over the previous hash and this event."""
    body = canonical({"seq": seq, "ts": ts, "job": job_id, "kind": kind, "data": data})
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def personal_ref(salt: bytes, value: str) -> str:
    """A salted reference to a personal value, for chained events that must name one.

    With the salt (kept outside the chain) a supervisor can check that an event refers to
    a given value; once the salt is erased the reference says nothing.
    """
    return hashlib.sha256(salt + value.encode()).hexdigest()[:32]


def append(
    tx: Tx,
    kind: str,
    data: Mapping[str, object],
    *,
    job_id: int | None = None,
    detail: str | None = None,
) -> int:
    """Append one event in ``tx``; return its sequence number."""
    last = tx.chain_head()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ts = tx.now()
    text = canonical(dict(data))
    digest = event_hash(prev, seq=seq, ts=ts, job_id=job_id, kind=kind, data=text)
    tx.write(
        "INSERT INTO events (seq, ts, job_id, kind, data, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, ts, job_id, kind, text, prev, digest),
    )
    tx.chain_advanced(seq, digest)
    if detail is not None:
        tx.write("INSERT INTO event_details (seq, text) VALUES (?, ?)", (seq, detail))
    return seq


def event_of(row: Row) -> Event:
    """An event read with EVENT_COLUMNS."""
    return Event(
        seq=row.integer("seq"),
        ts=row.text("ts"),
        job_id=row.opt_integer("job_id"),
        kind=row.text("kind"),
        data=MappingProxyType(json.loads(row.text("data"))),
        hash=row.text("hash"),
        detail=row.opt_text("text"),
    )


def events(
    store: Store, *, job_id: int | None = None, after: int = 0, limit: int | None = None
) -> list[Event]:
    """Events in order, optionally of one job, after sequence number ``after``."""
    sql = f"SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE e.seq > ?"  # noqa: S608  # constants
    args: list[object] = [after]
    if job_id is not None:
        sql += " AND e.job_id = ?"
        args.append(job_id)
    sql += " ORDER BY e.seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [event_of(r) for r in store.read(sql, args)]


def _where(
    dialect: Dialect,
    *,
    kinds: Sequence[str],
    job_id: int | None,
    since: str | None,
    until: str | None,
    data: Mapping[str, object] | None,
) -> tuple[str, list[object]]:
    terms: list[str] = ["1 = 1"]
    args: list[object] = []
    if kinds:
        # A kind ending in '.' is a prefix: 'media.' is every media event.
        alts = []
        for kind in kinds:
            if kind.endswith("."):
                alts.append("substr(e.kind, 1, ?) = ?")
                args.extend([len(kind), kind])
            else:
                alts.append("e.kind = ?")
                args.append(kind)
        terms.append("(" + " OR ".join(alts) + ")")
    for term, value in (("e.job_id = ?", job_id), ("e.ts >= ?", since), ("e.ts < ?", until)):
        if value is not None:
            terms.append(term)
            args.append(value)
    for key, wanted in (data or {}).items():
        terms.append(f"{dialect.json_text('e.data', key)} = ?")
        args.append(dialect.json_arg(wanted))
    return " AND ".join(terms), args


def find(
    store: Store,
    *,
    kinds: Sequence[str] = (),
    job_id: int | None = None,
    since: str | None = None,
    until: str | None = None,
    data: Mapping[str, object] | None = None,
) -> list[Event]:
    """Events in order: of these kinds (``'media.'``: a prefix), of a job, in a time range,
    whose data has these fields equal; each domain asks the log through this, not SQL."""
    where, args = _where(
        store.dialect, kinds=kinds, job_id=job_id, since=since, until=until, data=data
    )
    sql = f"SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE {where} ORDER BY e.seq"  # noqa: S608  # constants; values bound
    return [event_of(r) for r in store.read(sql, args)]


def erase_details(
    tx: Tx,
    *,
    kinds: Sequence[str] = (),
    job_id: int | None = None,
    data: Mapping[str, object] | None = None,
) -> int:
    """Delete the personal text beside the events that match (the chain stays whole)."""
    where, args = _where(tx.dialect, kinds=kinds, job_id=job_id, since=None, until=None, data=data)
    return tx.execute(
        "DELETE FROM event_details WHERE seq IN "  # noqa: S608  # constants; values bound
        f"(SELECT e.seq FROM events e WHERE {where})",
        args,
    )


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of :func:`verify`."""

    events: int
    head: str
    first_bad: int | None  # seq of the first event that does not fit, None when all fit
    problem: str | None
    head_seq: int | None = None  # with ``verify(head=...)``: the event that has that hash
    head_found: bool | None = None  # with ``verify(head=...)``: the chain still holds it


def verify(store: Store, head: str | None = None) -> ChainCheck:
    """Walk the whole event chain; name the first event that does not fit.

    ``head`` is a head hash noted earlier, optionally as ``SEQ:HASH``: the check also
    says whether the chain still holds it (a truncated or rewritten tail does not).
    """
    want_seq, want_hash = _split_head(head)
    prev, count, head_seq = GENESIS, 0, None
    sql = "SELECT seq, ts, job_id, kind, data, prev_hash, hash FROM events ORDER BY seq"
    with store.scan(sql) as rows:
        for row in rows:
            count += 1
            problem = _misfit(row, count, prev)
            seq = row[0] if isinstance(row[0], int) else count
            if problem is not None:
                found = None if head is None else (head_seq is not None)
                return ChainCheck(
                    count - 1, prev, seq, problem, head_seq=head_seq, head_found=found
                )
            prev = str(row[6])
            if want_hash is not None and prev == want_hash:
                head_seq = seq
    check = ChainCheck(count, prev, None, None)
    if want_hash is None:
        return check
    if head_seq is not None and want_seq in (None, head_seq):
        return ChainCheck(count, prev, None, None, head_seq=head_seq, head_found=True)
    if want_seq is not None and want_seq > count:
        problem = f"event {count + 1} and after are missing: the journal ends at {count}"
        return ChainCheck(count, prev, count + 1, problem, head_found=False)
    if want_seq is not None:
        problem = f"event {want_seq} no longer has the noted hash: the chain was rewritten"
        return ChainCheck(count, prev, want_seq, problem, head_found=False)
    problem = (
        "the noted head is not in the chain: events were removed from its end "
        "(and perhaps appended again), or it was rewritten"
    )
    return ChainCheck(count, prev, None, problem, head_found=False)


def _split_head(head: str | None) -> tuple[int | None, str | None]:
    if head is None:
        return None, None
    seq, colon, digest = head.strip().rpartition(":")
    if colon and seq.isdigit():
        return int(seq), digest.lower()
    return None, head.strip().lower()


def _misfit(row: Sequence[object], expected: int, prev: str) -> str | None:
    """Why one event row does not fit the chain after ``prev``, or None when it does."""
    seq, ts, job_id, kind, data, prev_hash, digest = row
    if seq != expected:
        return f"expected event {expected}, found {seq}"
    if prev_hash != prev:
        return "does not link to the event before"
    typed = (
        isinstance(ts, str)
        and isinstance(kind, str)
        and isinstance(data, str)
        and (job_id is None or isinstance(job_id, int))
    )
    if not typed:
        return "its content does not match its hash (a column has the wrong type)"
    assert isinstance(ts, str) and isinstance(kind, str) and isinstance(data, str)  # noqa: PT018, S101  # narrowed above, for mypy
    assert job_id is None or isinstance(job_id, int)  # noqa: S101  # narrowed above, for mypy
    if event_hash(prev, seq=expected, ts=ts, job_id=job_id, kind=kind, data=data) != digest:
        return "its content does not match its hash"
    return None
