"""Reading the journal: jobs, their files and outputs, events, the supervisor's filters.

:class:`JournalView` is everything a reader needs and nothing that writes: the commands
(``labd jobs``, ``labd journal``, ``labd status``, the reports) only read, and the
daemon's :class:`~labd.journal.Journal` adds the life cycle's steps to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labd.errors import JobNotFound
from labd.model import Event, Job, JobFile, JobKind, JobOutput, JobState
from labd.store import chain
from labd.store.chain import ChainCheck
from labd.store.sqlite import Row, Store

__all__ = ["EventFilter", "JournalView"]

_JOB_COLUMNS: Final = (
    "j.id, j.hotfolder, j.kind, j.state, j.technician, p.entry, j.spool, j.created_at, "
    "j.updated_at, j.rule, p.reason, p.order_ref"
)
_JOB_FROM: Final = "jobs j LEFT JOIN job_personal p ON p.job_id = j.id"


def _job(row: Row) -> Job:
    return Job(
        id=row.integer("id"),
        hotfolder=row.text("hotfolder"),
        kind=JobKind(row.text("kind")),
        state=JobState(row.text("state")),
        technician=row.text("technician"),
        entry=row.opt_text("entry") or "",
        spool=row.text("spool"),
        created_at=row.text("created_at"),
        updated_at=row.text("updated_at"),
        rule=row.opt_text("rule"),
        reason=row.opt_text("reason"),
        order_ref=row.opt_text("order_ref"),
    )


@dataclass(frozen=True)
class EventFilter:
    """What ``labd journal`` selects: every field None (or empty) means no restriction."""

    since: str | None = None  # journal timestamps, inclusive
    until: str | None = None  # exclusive
    job: int | None = None
    after: int = 0
    hotfolder: str | None = None
    order: str | None = None
    technician: str | None = None
    state: JobState | None = None  # state changes into this state
    kinds: tuple[str, ...] = ()
    limit: int | None = None


class JournalView:
    """The journal's jobs and events, read-only, on a :class:`~labd.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path: Path = store.path
        self.clock = store.clock

    def __enter__(self) -> JournalView:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def schema_version(self) -> int:
        """The schema version of the open journal."""
        return self.store.schema_version()

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows (a component's own queries)."""
        return self.store.read(sql, args)

    # -- jobs -----------------------------------------------------------------------------------

    def job(self, job_id: int) -> Job:
        """The job ``job_id`` as it stands."""
        row = self.store.read_one(
            f"SELECT {_JOB_COLUMNS} FROM {_JOB_FROM} WHERE j.id = ?",  # noqa: S608  # constants only
            (job_id,),
        )
        if row is None:
            raise JobNotFound(job_id)
        return _job(row)

    def jobs(
        self,
        states: Iterable[JobState] | None = None,
        *,
        hotfolder: str | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs, newest first, optionally only those in ``states`` or from one hot folder."""
        where, args = [], []
        if states is not None:
            wanted = [s.value for s in states]
            where.append(f"j.state IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        if hotfolder is not None:
            where.append("j.hotfolder = ?")
            args.append(hotfolder)
        sql = f"SELECT {_JOB_COLUMNS} FROM {_JOB_FROM}"  # noqa: S608  # constants; values bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY j.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_job(r) for r in self.store.read(sql, args)]

    def files(self, job_id: int) -> list[JobFile]:
        """The input files of a job, in order."""
        rows = self.store.read(
            "SELECT job_id, seq, name, size, copies FROM job_files WHERE job_id = ? ORDER BY seq",
            (job_id,),
        )
        return [
            JobFile(
                job_id=r.integer("job_id"),
                seq=r.integer("seq"),
                name=r.text("name"),
                size=r.integer("size"),
                copies=r.opt_integer("copies"),
            )
            for r in rows
        ]

    def outputs(self, job_id: int) -> list[JobOutput]:
        """The print-ready outputs of a job and their CUPS jobs, in order."""
        rows = self.store.read(
            "SELECT job_id, seq, path, source_seq, cups_queue, submit_intent_at, "
            "cups_job_id, cups_state FROM job_outputs WHERE job_id = ? ORDER BY seq",
            (job_id,),
        )
        return [
            JobOutput(
                job_id=r.integer("job_id"),
                seq=r.integer("seq"),
                path=r.text("path"),
                source_seq=r.opt_integer("source_seq"),
                cups_queue=r.text("cups_queue"),
                submit_intent_at=r.opt_text("submit_intent_at"),
                cups_job_id=r.opt_integer("cups_job_id"),
                cups_state=r.opt_text("cups_state"),
            )
            for r in rows
        ]

    def states(self, job_ids: Iterable[int]) -> dict[int, JobState]:
        """The state of each of these jobs (unknown ids are left out), in one read."""
        wanted = sorted(set(job_ids))
        if not wanted:
            return {}
        rows = self.store.read(
            f"SELECT id, state FROM jobs WHERE id IN ({', '.join('?' * len(wanted))})",  # noqa: S608  # placeholders
            wanted,
        )
        return {r.integer("id"): JobState(r.text("state")) for r in rows}

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        rows = self.store.read("SELECT state, count(*) AS n FROM jobs GROUP BY state")
        return {JobState(r.text("state")): r.integer("n") for r in rows}

    def jobs_of_order(self, order_ref: str) -> list[int]:
        """Jobs whose ticket names ``order_ref``, and the reprints made of them."""
        rows = self.store.read("SELECT job_id FROM job_personal WHERE order_ref = ?", (order_ref,))
        ids = {r.integer("job_id") for r in rows}
        return sorted(ids | self._reprints_of(ids))

    def _reprints_of(self, ids: set[int]) -> set[int]:
        """Reprints of these jobs, and reprints of those, from the reprint events."""
        made_from: dict[int, list[int]] = {}
        for event in chain.find(self.store, kinds=("job.reprint",)):
            original = event.data.get("original")
            if isinstance(original, int) and event.job_id is not None:
                made_from.setdefault(original, []).append(event.job_id)
        found: set[int] = set()
        frontier = set(ids)
        while frontier:
            frontier = {r for job in frontier for r in made_from.get(job, ())} - found - ids
            found |= frontier
        return found

    def salt(self, job_id: int) -> bytes | None:
        """The salt of the job's personal references; None once erased (or never made)."""
        row = self.store.read_one("SELECT salt FROM job_salts WHERE job_id = ?", (job_id,))
        return None if row is None else row.blob("salt")

    # -- events ---------------------------------------------------------------------------------

    def events(
        self, *, job_id: int | None = None, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events in order, optionally of one job, after sequence number ``after``."""
        return chain.events(self.store, job_id=job_id, after=after, limit=limit)

    def verify(self, head: str | None = None) -> ChainCheck:
        """Walk the whole event chain: see :func:`labd.store.chain.verify`."""
        return chain.verify(self.store, head)

    def find_events(self, f: EventFilter) -> list[Event]:
        """Events matching a supervisor's filter, in order."""
        where, args = _filter_sql(f)
        sql = (
            f"SELECT {chain.EVENT_COLUMNS} FROM {chain.EVENT_FROM} "  # noqa: S608  # constants; values bound
            "LEFT JOIN jobs j ON j.id = e.job_id "
            "LEFT JOIN job_personal p ON p.job_id = e.job_id "
            f"WHERE {' AND '.join(where)} ORDER BY e.seq"
        )
        if f.limit is not None:
            sql += f" LIMIT {int(f.limit)}"
        return [chain.event_of(r) for r in self.store.read(sql, args)]


def _filter_sql(f: EventFilter) -> tuple[list[str], list[object]]:
    """The WHERE terms and arguments of a filter (tables e, j, p as in find_events)."""
    where: list[str] = ["1 = 1"]
    args: list[object] = []
    simple = (
        ("e.ts >= ?", f.since),
        ("e.ts < ?", f.until),
        ("e.job_id = ?", f.job),
        ("e.seq > ?", f.after or None),
        ("j.hotfolder = ?", f.hotfolder),
        ("p.order_ref = ?", f.order),
    )
    for term, value in simple:
        if value is not None:
            where.append(term)
            args.append(value)
    if f.technician is not None:
        where.append("(j.technician = ? OR json_extract(e.data, '$.by') = ?)")
        args.extend([f.technician, f.technician])
    if f.state is not None:
        where.append("e.kind = 'job.state_changed' AND json_extract(e.data, '$.to') = ?")
        args.append(f.state.value)
    if f.kinds:
        # A kind ending in '.' or '*' is a prefix: 'retention.' or 'media.*'.
        alts = []
        for kind in f.kinds:
            if kind.endswith(("*", ".")):
                alts.append("substr(e.kind, 1, ?) = ?")
                prefix = kind.rstrip("*")
                args.extend([len(prefix), prefix])
            else:
                alts.append("e.kind = ?")
                args.append(kind)
        where.append("(" + " OR ".join(alts) + ")")
    return where, args
