"""Reading the journal: jobs, their files and outputs, events, the supervisor's filters.

:class:`JournalView` is everything a reader needs and nothing that writes: the commands
(``labd jobs``, ``labd journal``, ``labd status``, the reports) only read, and the
daemon's :class:`~labd.journal.Journal` adds the life cycle's steps to it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from labd.errors import JobNotFound, JournalError
from labd.model import Event, Job, JobFile, JobKind, JobOutput, JobState
from labd.store import chain
from labd.store.base import Dialect, Row, Store
from labd.store.chain import ChainCheck
from labd.store.sqlite import SQLiteStore

__all__ = [
    "LOW_RESOLUTION_EVENT",
    "EventFilter",
    "JobProgress",
    "JournalView",
    "NameMatch",
    "Progress",
    "Resolution",
]

# Files of a job below its product's minimum resolution (see Journal.low_resolution).
LOW_RESOLUTION_EVENT: Final = "job.low_resolution"
# A quarantined job closed: replaced by the files dropped in again, or by a technician's hand.
# It stays QUARANTINED (retention runs from then), and needs nobody's attention any more.
CLOSED_EVENT: Final = "job.closed"
REPLACES_EVENT: Final = "job.replaces"  # on the job that replaced a closed one
# Files of an order that came after it was taken: on their job, naming the order's first job
# (LATE_FILES_EVENT), and on that first job, naming theirs (LATE_FILES_ARRIVED_EVENT).
LATE_FILES_EVENT: Final = "job.late_files"
LATE_FILES_ARRIVED_EVENT: Final = "job.late_files_arrived"

_JOB_COLUMNS: Final = (
    "j.id, j.hotfolder, j.kind, j.state, j.technician, p.entry, j.spool, j.created_at, "
    "j.updated_at, j.rule, p.reason, p.order_ref, j.node"
)
_JOB_FROM: Final = "jobs j LEFT JOIN job_personal p ON p.job_id = j.id"
_JOB_BY_ID: Final = f"SELECT {_JOB_COLUMNS} FROM {_JOB_FROM} WHERE j.id = ?"  # noqa: S608
_T = TypeVar("_T")


def _mine(scope: str | None, alias: str = "j") -> tuple[str, list[object]]:
    """The WHERE term (with its AND) and argument that keep the jobs of ``scope``."""
    if scope is None:
        return "", []
    return f"{alias}.node = ? AND ", [scope]


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
        node=row.opt_text("node"),
    )


@dataclass(frozen=True)
class Resolution:
    """The effective resolution of a job's files as they were converted for its product."""

    dpi: int  # the product's output resolution: below it a photo was scaled up
    min_ppi: int  # the product's minimum: below it labd warned, held or refused
    ppi: Mapping[int, int]  # file seq -> effective ppi (source pixels per inch of print)

    def upscaled(self) -> list[int]:
        """The files scaled up to the product's dpi."""
        return [seq for seq, ppi in self.ppi.items() if ppi < self.dpi]

    def low(self) -> list[int]:
        """The files below the product's minimum resolution."""
        return [seq for seq, ppi in self.ppi.items() if ppi < self.min_ppi]


@dataclass(frozen=True)
class Progress:
    """How much of a job, or of an order's jobs, has printed: outputs with a completed
    CUPS job (all of a PRINTED or DONE job's) of its outputs (its files before conversion)."""

    printed: int
    total: int
    jobs: int = 1


@dataclass(frozen=True)
class JobProgress:
    """A job's own progress, and its order's (jobs of its order reference) when the order
    has more jobs than this one."""

    own: Progress
    order: Progress | None


# Jobs of an order that will never print, left out of its progress: cancelled, withdrawn,
# quarantined (a fixed order comes as a new job) and purged ones.
_NOT_PRINTING: Final = frozenset(
    {JobState.CANCELED, JobState.WITHDRAWN, JobState.QUARANTINED, JobState.PURGED}
)
_PROGRESS_CHUNK: Final = 500  # ids or references bound in one statement
# Per job (table t): its outputs, those CUPS completed, its files.  Its total is its
# outputs, or its files before conversion; all of it printed once PRINTED or DONE (a
# supervisor's "it printed" has no completed CUPS job to show for it).
_COUNTED: Final = (
    "SELECT j.id AS id, j.state AS state, p.order_ref AS order_ref, "
    "(SELECT count(*) FROM job_outputs o WHERE o.job_id = j.id) AS outputs, "
    "(SELECT count(*) FROM job_outputs o WHERE o.job_id = j.id AND o.cups_state = ?) "
    "AS completed, (SELECT count(*) FROM job_files f WHERE f.job_id = j.id) AS files"
)
_TOTAL: Final = "CASE WHEN t.outputs > 0 THEN t.outputs ELSE t.files END"
_PRINTED: Final = (
    f"CASE WHEN t.state IN (?, ?) THEN {_TOTAL} WHEN t.outputs > 0 THEN t.completed ELSE 0 END"
)
_FINISHED_ARGS: Final = (JobState.PRINTED.value, JobState.DONE.value)


_FILES_OF_JOB: Final = (
    "SELECT job_id, seq, name, size, copies FROM job_files WHERE job_id = ? ORDER BY seq"
)
_OUTPUT_COLUMNS: Final = (
    "job_id, seq, path, source_seq, cups_queue, submit_intent_at, cups_job_id, cups_state"
)
_OUTPUTS_OF_JOB: Final = f"SELECT {_OUTPUT_COLUMNS} FROM job_outputs WHERE job_id = ? ORDER BY seq"  # noqa: S608


def _file(r: Row) -> JobFile:
    return JobFile(
        job_id=r.integer("job_id"),
        seq=r.integer("seq"),
        name=r.text("name"),
        size=r.integer("size"),
        copies=r.opt_integer("copies"),
    )


def _output(r: Row) -> JobOutput:
    return JobOutput(
        job_id=r.integer("job_id"),
        seq=r.integer("seq"),
        path=r.text("path"),
        source_seq=r.opt_integer("source_seq"),
        cups_queue=r.text("cups_queue"),
        submit_intent_at=r.opt_text("submit_intent_at"),
        cups_job_id=r.opt_integer("cups_job_id"),
        cups_state=r.opt_text("cups_state"),
    )


@dataclass(frozen=True)
class NameMatch:
    """A job that took an entry or a file of the name asked for (see jobs_named)."""

    job: Job
    files: tuple[JobFile, ...]  # the job's files of that name; empty: the entry matched


@dataclass(frozen=True)
class EventFilter:
    """What ``labd journal`` selects: every field None (or empty) means no restriction."""

    since: str | None = None  # journal timestamps, inclusive
    until: str | None = None  # exclusive
    job: int | None = None
    # With ``job``: also the events that name these media items (the job's carriers and its
    # order's), which carry no job id: media.* by ``item``, waste.* by ``media_item``.
    media_items: tuple[int, ...] = ()
    after: int = 0
    before: int | None = None  # events older than this sequence number
    hotfolders: tuple[str, ...] | None = None  # jobs from these hot folders; () matches none
    order: str | None = None
    technician: str | None = None
    state: JobState | None = None  # state changes into this state
    kinds: tuple[str, ...] = ()
    limit: int | None = None  # the newest this many (still in order) ...
    oldest: bool = False  # ... or the oldest


class JournalView:
    """The journal's jobs and events, read-only, on a :class:`~labd.store.Store`."""

    def __init__(self, store: Store, node: str | None = None) -> None:
        self.store = store
        self.name = store.name  # how messages name the journal: its file, or its database
        self.clock = store.clock
        # The print server that opened it: the jobs it claims are this node's.
        self.node = node
        # Whose jobs the job queries return: None, every node's (the supervisor's commands,
        # a journal of one server); a node's name, that node's alone (its daemon, in a
        # journal shared with others: it never follows, reconciles or purges theirs).
        self.scope: str | None = None

    def holds_files_of(self, job: Job) -> bool:
        """Whether this server has the job's files (spool, quarantine, CUPS jobs): in a
        journal several nodes share, only the node that claimed it; else this one."""
        return not self.store.shared or job.node in {None, self.node}

    @property
    def path(self) -> Path:
        """The SQLite journal's file (a journal in PostgreSQL has none)."""
        if not isinstance(self.store, SQLiteStore):
            raise JournalError(self.name, "is not a SQLite file")
        return self.store.path

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
        row = self.store.read_one(_JOB_BY_ID, (job_id,))
        if row is None:
            raise JobNotFound(job_id)
        return _job(row)

    def job_for_print(self, job_id: int) -> tuple[Job, list[JobOutput], list[JobFile]]:
        """The job with its outputs and files (one round trip on PostgreSQL)."""
        job, outputs, files = self.store.read_each(
            [(_JOB_BY_ID, (job_id,)), (_OUTPUTS_OF_JOB, (job_id,)), (_FILES_OF_JOB, (job_id,))]
        )
        if not job:
            raise JobNotFound(job_id)
        return _job(job[0]), [_output(r) for r in outputs], [_file(r) for r in files]

    def jobs(
        self,
        states: Iterable[JobState] | None = None,
        *,
        hotfolders: Collection[str] | None = None,
        limit: int | None = None,
        before: int | None = None,
        node: str | None = None,
    ) -> list[Job]:
        """Jobs, newest first, optionally only those in ``states`` or from ``hotfolders``;
        ``before``: older than that job (the next page); ``node``: claimed by that node."""
        where, args = [], []
        mine, scope = _mine(self.scope)
        if mine:
            where.append(mine.removesuffix(" AND "))
            args.extend(scope)
        for term, value in (("j.id < ?", before), ("j.node = ?", node)):
            if value is not None:
                where.append(term)
                args.append(value)
        if states is not None:
            wanted = [s.value for s in states]
            where.append(f"j.state IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        if hotfolders is not None:
            if not hotfolders:
                return []
            where.append(f"j.hotfolder IN ({', '.join('?' * len(hotfolders))})")
            args.extend(hotfolders)
        sql = f"SELECT {_JOB_COLUMNS} FROM {_JOB_FROM}"  # noqa: S608  # constants; values bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY j.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_job(r) for r in self.store.read(sql, args)]

    def files(self, job_id: int) -> list[JobFile]:
        """The input files of a job, in order."""
        return [_file(r) for r in self.store.read(_FILES_OF_JOB, (job_id,))]

    def outputs(self, job_id: int) -> list[JobOutput]:
        """The print-ready outputs of a job and their CUPS jobs, in order."""
        return [_output(r) for r in self.store.read(_OUTPUTS_OF_JOB, (job_id,))]

    def outputs_and_files(self, job_id: int) -> tuple[list[JobOutput], list[JobFile]]:
        """:meth:`outputs` and :meth:`files` together (one round trip on PostgreSQL)."""
        outputs, files = self.store.read_each(
            [(_OUTPUTS_OF_JOB, (job_id,)), (_FILES_OF_JOB, (job_id,))]
        )
        return [_output(r) for r in outputs], [_file(r) for r in files]

    def outputs_and_state(self, job_id: int) -> tuple[list[JobOutput], JobState]:
        """:meth:`outputs` and the job's state together (one round trip on PostgreSQL)."""
        outputs, state = self.store.read_each(
            [(_OUTPUTS_OF_JOB, (job_id,)), ("SELECT state FROM jobs WHERE id = ?", (job_id,))]
        )
        if not state:
            raise JobNotFound(job_id)
        return [_output(r) for r in outputs], JobState(state[0].text("state"))

    def outputs_of(self, job_ids: Iterable[int]) -> dict[int, list[JobOutput]]:
        """The outputs of each of these jobs (see :meth:`outputs`), in one read."""
        found: dict[int, list[JobOutput]] = {i: [] for i in job_ids}
        if not found:
            return {}
        rows = self.store.read(
            f"SELECT {_OUTPUT_COLUMNS} FROM job_outputs "  # noqa: S608  # placeholders
            f"WHERE job_id IN ({', '.join('?' * len(found))}) ORDER BY job_id, seq",
            sorted(found),
        )
        for row in rows:
            found[row.integer("job_id")].append(_output(row))
        return found

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

    def hotfolder_names(self) -> list[str]:
        """The hot folders the journal's jobs came from (some may have left the configuration)."""
        rows = self.store.read("SELECT DISTINCT hotfolder FROM jobs ORDER BY hotfolder")
        return [r.text("hotfolder") for r in rows]

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        mine, scope = _mine(self.scope, "jobs")
        rows = self.store.read(
            f"SELECT state, count(*) AS n FROM jobs WHERE {mine}1 = 1 GROUP BY state",  # noqa: S608  # constants; values bound
            scope,
        )
        return {JobState(r.text("state")): r.integer("n") for r in rows}

    def progress(self, jobs: Sequence[Job]) -> dict[int, JobProgress]:
        """How far each of ``jobs`` and its order have printed (the board's "12 of 30").

        Two reads whatever the number of jobs and orders (up to 500 of each; more in
        reads of 500): the jobs by id, and their orders' sums by reference, added up by
        the database (an order of 30 jobs is one row, not 30).
        """
        refs = sorted({j.order_ref for j in jobs if j.order_ref is not None})
        ids = sorted({j.id for j in jobs})
        own: dict[int, Progress] = {}
        for chunk in _chunks(ids):
            for r in self.store.read(
                f"SELECT t.id AS id, {_TOTAL} AS total, {_PRINTED} AS printed "  # noqa: S608  # constants; values bound
                f"FROM ({_COUNTED} FROM {_JOB_FROM} WHERE j.id IN ({_marks(chunk)})) t",
                [*_FINISHED_ARGS, "completed", *chunk],
            ):
                own[r.integer("id")] = Progress(r.integer("printed"), r.integer("total"))
        orders: dict[str, Progress] = {}
        # From job_personal's index on order_ref (a LEFT JOIN from jobs would read them all).
        leave_out = sorted(s.value for s in _NOT_PRINTING)
        for some in _chunks(refs):
            for r in self.store.read(
                "SELECT t.order_ref AS order_ref, count(*) AS jobs, "  # noqa: S608  # constants; values bound
                f"CAST(sum({_TOTAL}) AS INTEGER) AS total, "
                f"CAST(sum({_PRINTED}) AS INTEGER) AS printed FROM ({_COUNTED} "
                "FROM job_personal p JOIN jobs j ON j.id = p.job_id "
                f"WHERE p.order_ref IN ({_marks(some)}) AND j.state NOT IN ({_marks(leave_out)})"
                ") t GROUP BY t.order_ref",
                [*_FINISHED_ARGS, "completed", *some, *leave_out],
            ):
                orders[r.text("order_ref")] = Progress(
                    r.integer("printed"), r.integer("total"), r.integer("jobs")
                )
        result: dict[int, JobProgress] = {}
        for job in jobs:
            order = orders.get(job.order_ref) if job.order_ref is not None else None
            printing = job.state not in _NOT_PRINTING
            if order is not None and printing and order.jobs == 1:
                order = None  # the order is this job alone: its own progress says it
            # A job that will not print shows no progress of its own (its order's, yes).
            mine = own.get(job.id) if printing else None
            result[job.id] = JobProgress(mine or Progress(0, 0), order)
        return result

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

    def jobs_named(self, name: str, *, hotfolder: str | None = None) -> list[NameMatch]:
        """Jobs, newest first, that took an entry called ``name`` or a file called ``name``
        (its path in the order folder, or its last part), optionally of one hot folder.

        For ``labd explain`` on a file that is no longer where it was dropped.  Erased names
        match nothing.
        """
        wanted = name.rstrip("/")
        if not wanted:
            return []
        where = "j.hotfolder = ? AND " if hotfolder is not None else ""
        scope: list[object] = [hotfolder] if hotfolder is not None else []
        by_entry = self.store.read(
            f"SELECT j.id FROM {_JOB_FROM} WHERE {where}p.entry = ?",  # noqa: S608  # constants; values bound
            [*scope, wanted],
        )
        # A file's name is its path under the spool's in/: "order/sub/a.jpg", or "a.jpg".
        by_file = self.store.read(
            "SELECT f.job_id, f.seq FROM job_files f JOIN jobs j ON j.id = f.job_id "  # noqa: S608  # constants; values bound
            f"WHERE {where}(f.name = ? OR substr(f.name, length(f.name) - length(CAST(? AS TEXT))) "
            "= '/' || CAST(? AS TEXT))",
            [*scope, wanted, wanted, wanted],
        )
        matched: dict[int, set[int]] = {r.integer("id"): set() for r in by_entry}
        for r in by_file:
            matched.setdefault(r.integer("job_id"), set()).add(r.integer("seq"))
        return [
            NameMatch(self.job(job_id), tuple(f for f in self.files(job_id) if f.seq in seqs))
            for job_id, seqs in sorted(matched.items(), reverse=True)
        ]

    def salt(self, job_id: int) -> bytes | None:
        """The salt of the job's personal references; None once erased (or never made)."""
        row = self.store.read_one("SELECT salt FROM job_salts WHERE job_id = ?", (job_id,))
        return None if row is None else row.blob("salt")

    # -- jobs of one name: the rest of an order, quarantined jobs closed --------------------------

    def jobs_of_entry(
        self, hotfolder: str, entry: str, *, before: int, state: JobState | None = None
    ) -> list[Job]:
        """Jobs older than job ``before`` that took an entry of this name from ``hotfolder``
        (only those in ``state``, if given), newest first.  Purged jobs never match: their
        names are erased.

        Looked up at every claim, without an index on names: with ``state`` the jobs of
        that state are read (quick for few, such as QUARANTINED), else the names of the
        jobs not purged (those retention keeps: a millisecond or two for 30,000).
        """
        if state is not None:
            source, term, args = _JOB_FROM, "j.state = ? AND ", [state.value]
        else:
            # CROSS JOIN: SQLite reads job_personal first (purged jobs have no row there),
            # rather than every job ever made.
            source = f"job_personal p {self.store.dialect.ordered_join} jobs j ON j.id = p.job_id"
            term, args = "", []
        mine, scope = _mine(self.scope)
        rows = self.store.read(
            f"SELECT {_JOB_COLUMNS} FROM {source} WHERE {mine}{term}"  # noqa: S608  # constants; values bound
            "p.entry = ? AND j.hotfolder = ? AND j.id < ? ORDER BY j.id DESC",
            [*scope, *args, entry, hotfolder, before],
        )
        return [_job(r) for r in rows]

    def closing(self, job_id: int) -> Event | None:
        """The event that closed a quarantined job (``job.closed``); None while it is open."""
        found = chain.find(self.store, kinds=(CLOSED_EVENT,), job_id=job_id)
        return found[0] if found else None

    def open_quarantined(self) -> list[Job]:
        """QUARANTINED jobs nobody has closed, newest first: they wait for a technician."""
        mine, scope = _mine(self.scope)
        rows = self.store.read(
            f"SELECT {_JOB_COLUMNS} FROM {_JOB_FROM} WHERE {mine}j.state = ? AND NOT EXISTS "  # noqa: S608  # constants; values bound
            "(SELECT 1 FROM events e WHERE e.job_id = j.id AND e.kind = ?) ORDER BY j.id DESC",
            (*scope, JobState.QUARANTINED.value, CLOSED_EVENT),
        )
        return [_job(r) for r in rows]

    def first_of_order(self, job_id: int) -> int:
        """The job an order's first files became, for a job of its late files; else itself."""
        found = chain.find(self.store, kinds=(LATE_FILES_EVENT,), job_id=job_id)
        first = found[0].data.get("first_job") if found else None
        return first if isinstance(first, int) else job_id

    # -- events ---------------------------------------------------------------------------------

    def last_seq(self) -> int:
        """The sequence number of the newest event; 0 in an empty journal."""
        row = self.store.read_one("SELECT coalesce(max(seq), 0) AS n FROM events")
        return 0 if row is None else row.integer("n")

    def events(
        self, *, job_id: int | None = None, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events in order, optionally of one job, after sequence number ``after``."""
        return chain.events(self.store, job_id=job_id, after=after, limit=limit)

    def verify(self, head: str | None = None) -> ChainCheck:
        """Walk the whole event chain: see :func:`labd.store.chain.verify`."""
        return chain.verify(self.store, head)

    def find_events(self, f: EventFilter) -> list[Event]:
        """Events matching a supervisor's filter, in order; with a limit the newest that
        many (what a supervisor asks for), or the oldest with ``f.oldest``."""
        where, args = _filter_sql(f, self.store.dialect)
        if self.scope is not None:
            where.append("j.node = ?")  # a node's: the events of its jobs
            args.append(self.scope)
        newest = f.limit is not None and not f.oldest
        sql = (
            f"SELECT {chain.EVENT_COLUMNS} FROM {chain.EVENT_FROM} "  # noqa: S608  # constants; values bound
            "LEFT JOIN jobs j ON j.id = e.job_id "
            "LEFT JOIN job_personal p ON p.job_id = e.job_id "
            f"WHERE {' AND '.join(where)} ORDER BY e.seq{' DESC' if newest else ''}"
        )
        if f.limit is not None:
            sql += f" LIMIT {int(f.limit)}"
        found = [chain.event_of(r) for r in self.store.read(sql, args)]
        return found[::-1] if newest else found


def _chunks(values: Sequence[_T]) -> list[Sequence[_T]]:
    return [values[i : i + _PROGRESS_CHUNK] for i in range(0, len(values), _PROGRESS_CHUNK)]


def _marks(values: Sized) -> str:
    return ", ".join("?" * len(values))


def copies_of_outputs(
    files: Sequence[JobFile], outputs: Sequence[JobOutput], default: _T
) -> dict[int, int | _T]:
    """Copies of each output, by its seq: those the ticket gives the file it was made from,
    else the product's ``default`` (also for an output of no one file: a photobook)."""
    ticket = {f.seq: f.copies for f in files if f.copies is not None}
    return {
        o.seq: ticket.get(o.source_seq, default) if o.source_seq is not None else default
        for o in outputs
    }


def event_data(e: Event) -> dict[str, object]:
    """An event's data in today's terms, for people to read.

    The chain keeps what was written; fields an older labd wrote under a name that now
    means something else are read under today's name: ``job.ticket``'s ``copies`` was the
    number of files the ticket gives copies for (``files_with_copies``).
    """
    data = dict(e.data)
    if e.kind == "job.ticket" and "copies" in data and "files_with_copies" not in data:
        data["files_with_copies"] = data.pop("copies")
    return data


def _filter_sql(f: EventFilter, dialect: Dialect) -> tuple[list[str], list[object]]:
    """The WHERE terms and arguments of a filter (tables e, j, p as in find_events)."""
    field = dialect.json_text
    where: list[str] = ["1 = 1"]
    args: list[object] = []
    simple = (
        ("e.ts >= ?", f.since),
        ("e.ts < ?", f.until),
        ("e.seq > ?", f.after or None),
        ("e.seq < ?", f.before),
        ("p.order_ref = ?", f.order),
    )
    for term, value in simple:
        if value is not None:
            where.append(term)
            args.append(value)
    if f.job is not None:
        # A carrier's events name its item, not the job: they come along by item number.
        marks = ", ".join("?" * len(f.media_items))
        where.append(
            "(e.job_id = ?"
            + (
                f" OR (substr(e.kind, 1, 6) = 'media.' AND {field('e.data', 'item')} "
                f"IN ({marks})) OR (substr(e.kind, 1, 6) = 'waste.' AND "
                f"{field('e.data', 'media_item')} IN ({marks}))"
                if f.media_items
                else ""
            )
            + ")"
        )
        items = [dialect.json_arg(i) for i in f.media_items]
        args.extend([f.job, *items, *items])
    if f.hotfolders is not None:
        marks = ", ".join("?" * len(f.hotfolders))
        where.append(f"j.hotfolder IN ({marks})" if f.hotfolders else "0 = 1")
        args.extend(f.hotfolders)
    if f.technician is not None:
        where.append(f"(j.technician = ? OR {field('e.data', 'by')} = ?)")
        args.extend([f.technician, dialect.json_arg(f.technician)])
    if f.state is not None:
        where.append(f"e.kind = 'job.state_changed' AND {field('e.data', 'to')} = ?")
        args.append(dialect.json_arg(f.state.value))
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
