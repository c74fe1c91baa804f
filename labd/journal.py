"""The journal of jobs: every job, its files and outputs, and every state change.

The job life cycle lives here: each method is one step, committed with its chained event
in one transaction of the store (:mod:`labd.store`), so a state change returned from here
is on disk before the side effect that depends on it.  Personal data (file and folder
names, reasons that name files, order references) lives in tables the chain does not
cover, so erasing it never breaks the chain.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog

from labd import spool
from labd.clock import Clock
from labd.errors import (
    INTERNAL_RULE,
    IllegalTransition,
    JobNotFound,
    JournalError,
    unexpected_reason,
)
from labd.model import TRANSITIONS, Event, Job, JobFile, JobKind, JobOutput, JobState
from labd.store import chain
from labd.store.chain import GENESIS, ChainCheck, event_hash, personal_ref
from labd.store.sqlite import BUSY_TIMEOUT_MS, Row, Schema, Store, Tx, storage_error

__all__ = [
    "GENESIS",
    "MIGRATIONS",
    "PRINTING_SCHEMA",
    "SCHEMA_VERSION",
    "ChainCheck",
    "ComponentSchema",
    "Discovery",
    "EventFilter",
    "Journal",
    "Tx",
    "ensure_private_dir",
    "event_hash",
    "personal_ref",
    "storage_error",
]

log = structlog.get_logger(__name__)

# The schema of one component; the name the components have always used.
ComponentSchema = Schema

# Each migration is a list of statements, applied in one transaction; the schema version
# (PRAGMA user_version) is the number of migrations applied.  Never edit a released one:
# append a new one.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hotfolder TEXT NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            technician TEXT NOT NULL,
            spool TEXT NOT NULL,
            source_inode INTEGER,
            rule TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX jobs_state ON jobs(state)",
        # Personal data, apart from the chained events so erasure leaves the chain intact.
        """CREATE TABLE job_personal (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
            entry TEXT NOT NULL,
            reason TEXT
        )""",
        """CREATE TABLE job_files (
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (job_id, seq)
        )""",
        """CREATE TABLE job_outputs (
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            seq INTEGER NOT NULL,
            path TEXT NOT NULL,
            source_seq INTEGER,
            cups_queue TEXT NOT NULL,
            submit_intent_at TEXT,
            cups_job_id INTEGER,
            cups_state TEXT,
            PRIMARY KEY (job_id, seq)
        )""",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            job_id INTEGER,
            kind TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX events_job ON events(job_id)",
        """CREATE TABLE event_details (
            seq INTEGER PRIMARY KEY REFERENCES events(seq),
            text TEXT NOT NULL
        )""",
        # Schema versions of the components (media, waste, ...) that keep their own tables.
        """CREATE TABLE component_schema (
            name TEXT PRIMARY KEY,
            version INTEGER NOT NULL
        )""",
        """CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
           BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
        """CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
           BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
    ),
    # 2: what a job ticket says: the order reference (personal) and copies per file.
    (
        "ALTER TABLE job_personal ADD COLUMN order_ref TEXT",
        "ALTER TABLE job_files ADD COLUMN copies INTEGER",
        "CREATE INDEX job_personal_order ON job_personal(order_ref)",
    ),
    # 3: per-job salts for chained references to personal fields (erased with the data, so
    # the reference says nothing afterwards); indexes for the supervisor's filters.
    (
        """CREATE TABLE job_salts (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
            salt BLOB NOT NULL
        )""",
        "CREATE INDEX events_ts ON events(ts)",
        "CREATE INDEX events_kind ON events(kind)",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


@dataclass(frozen=True)
class Discovery:
    """An entry of a hot folder about to be claimed."""

    hotfolder: str
    kind: JobKind
    entry: str
    technician: str
    source_inode: int


# CUPS jobs that no longer stand for their output: aborted or canceled ones a technician
# retried, or ones of an UNCERTAIN job resolved as "reprint".  Reconciliation must never
# take one of them for the output's current CUPS job (they share its name).
PRINTING_SCHEMA: Final = Schema(
    "printing",
    (
        (
            """CREATE TABLE print_superseded (
                job_id INTEGER NOT NULL REFERENCES jobs(id),
                seq INTEGER NOT NULL,
                cups_job_id INTEGER NOT NULL,
                cups_state TEXT,
                superseded_at TEXT NOT NULL,
                PRIMARY KEY (job_id, seq, cups_job_id)
            )""",
        ),
    ),
)

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


class Journal:
    """labd's journal of jobs, on a :class:`~labd.store.Store`.  Thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = store.path
        self.clock = store.clock

    # -- opening and the store's plumbing ------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        clock: Clock | None = None,
        *,
        create: bool = True,
        migrate: bool = True,
        schemas: Sequence[Schema] = (),
        busy_timeout_ms: int | None = None,
    ) -> Journal:
        """Open (and create, and migrate) the journal at ``path``.

        Its tables and printing's, and those of ``schemas``: labd opens it through
        :func:`labd.schemas.open_journal`, with every component's.  ``migrate=False``
        (the commands): a journal whose schema is not the code's is refused.
        """
        wanted = (PRINTING_SCHEMA, *(s for s in schemas if s is not PRINTING_SCHEMA))
        store = Store.open(
            path,
            clock,
            core=MIGRATIONS,
            schemas=wanted,
            create=create,
            migrate=migrate,
            busy_timeout_ms=BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms,
        )
        return cls(store)

    def ensure_schema(self, schema: Schema) -> None:
        """Create or migrate a component's tables; cheap when they are current."""
        self.store.ensure_schema(schema)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction for a component: ``with journal.transaction() as tx: ...``."""
        with self.store.transaction() as tx:
            yield tx

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows (a component's own queries)."""
        return self.store.read(sql, args)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def schema_version(self) -> int:
        """The schema version of the open journal."""
        return self.store.schema_version()

    def relaxed(self) -> AbstractContextManager[None]:
        """Commits in this block skip their fsync: see :meth:`Store.relaxed`."""
        return self.store.relaxed()

    def batch(self) -> AbstractContextManager[None]:
        """Every write in this block commits at its end: see :meth:`Store.batch`."""
        return self.store.batch()

    def _now(self) -> str:
        return self.store.now()

    def _append(
        self,
        tx: Tx,
        job_id: int | None,
        kind: str,
        data: Mapping[str, object],
        detail: str | None = None,
    ) -> int:
        return tx.event(kind, data, job_id=job_id, detail=detail)

    def _state(self, tx: Tx, job_id: int) -> JobState:
        row = tx.one("SELECT state FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise JobNotFound(job_id)
        return JobState(row.text("state"))

    def _move(
        self,
        tx: Tx,
        job_id: int,
        to: JobState,
        *,
        rule: str | None = None,
        reason: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        current = self._state(tx, job_id)
        if to not in TRANSITIONS[current]:
            raise IllegalTransition(job_id, current.value, to.value)
        tx.execute(
            "UPDATE jobs SET state = ?, rule = ?, updated_at = ? WHERE id = ?",
            (to.value, rule, self._now(), job_id),
        )
        tx.execute("UPDATE job_personal SET reason = ? WHERE job_id = ?", (reason, job_id))
        payload: dict[str, object] = {"from": current.value, "to": to.value, **(data or {})}
        if rule is not None:
            payload["rule"] = rule
        self._append(tx, job_id, "job.state_changed", payload, reason)

    # -- the life cycle ----------------------------------------------------------------------

    def discover(
        self,
        *,
        hotfolder: str,
        kind: JobKind,
        entry: str,
        technician: str,
        source_inode: int,
        spool_root: Path,
    ) -> Job:
        """Record the intent to claim ``entry``; the job's spool folder is named by its id."""
        [job] = self.discover_many(
            [Discovery(hotfolder, kind, entry, technician, source_inode)], spool_root
        )
        return job

    def discover_many(self, found: Sequence[Discovery], spool_root: Path) -> list[Job]:
        """Record the intent to claim several entries in one transaction (a burst)."""
        now = self._now()
        ids = []
        with self.store.transaction() as tx:
            for d in found:
                job_id = tx.insert(
                    "INSERT INTO jobs (hotfolder, kind, state, technician, spool, source_inode, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?) RETURNING id",
                    (d.hotfolder, d.kind.value, JobState.DISCOVERED.value, d.technician,
                     d.source_inode, now, now),
                )  # fmt: skip
                tx.execute(
                    "UPDATE jobs SET spool = ? WHERE id = ?",
                    (str(spool.job_folder(spool_root, job_id)), job_id),
                )
                tx.execute(
                    "INSERT INTO job_personal (job_id, entry) VALUES (?, ?)", (job_id, d.entry)
                )
                self._append(
                    tx,
                    job_id,
                    "job.discovered",
                    {"hotfolder": d.hotfolder, "kind": d.kind.value, "technician": d.technician},
                )
                ids.append(job_id)
        return [self.job(i) for i in ids]

    def claimed(self, job_id: int, files: Sequence[tuple[str, int]]) -> None:
        """The job's files are in its spool folder: ``files`` as (relative name, size)."""
        self.claimed_many([(job_id, files)])

    def claimed_many(self, claims: Sequence[tuple[int, Sequence[tuple[str, int]]]]) -> None:
        """Several jobs' files are in their spool folders, in one transaction."""
        with self.store.transaction() as tx:
            for job_id, files in claims:
                tx.executemany(
                    "INSERT INTO job_files (job_id, seq, name, size) VALUES (?, ?, ?, ?)",
                    [(job_id, seq, name, size) for seq, (name, size) in enumerate(files, 1)],
                )
                self._move(
                    tx,
                    job_id,
                    JobState.CLAIMED,
                    data={"files": len(files), "bytes": sum(s for _, s in files)},
                )

    def ticket(
        self, job_id: int, *, order_ref: str | None, copies: Mapping[int, int], media: int
    ) -> None:
        """Record what the job's ticket says: order reference, copies per file seq."""
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE job_personal SET order_ref = ? WHERE job_id = ?", (order_ref, job_id)
            )
            tx.executemany(
                "UPDATE job_files SET copies = ? WHERE job_id = ? AND seq = ?",
                [(n, job_id, seq) for seq, n in copies.items()],
            )
            data: dict[str, object] = {
                "order_ref": order_ref is not None,
                "copies": len(copies),
                "media": media,
            }
            if order_ref is not None:
                data["order_hash"] = personal_ref(self._salt(tx, job_id), order_ref)
            self._append(tx, job_id, "job.ticket", data)

    def withdrawn(self, job_id: int) -> None:
        """The files left the hot folder before labd could claim them."""
        with self.store.transaction() as tx:
            self._move(tx, job_id, JobState.WITHDRAWN)

    def converted(self, job_id: int, outputs: Sequence[tuple[str, int | None]], queue: str) -> None:
        """Print-ready outputs written: (path relative to the spool folder, source file seq)."""
        with self.store.transaction() as tx:
            # A conversion cut short and run again replaces what the first run recorded.
            tx.execute("DELETE FROM job_outputs WHERE job_id = ?", (job_id,))
            tx.executemany(
                "INSERT INTO job_outputs (job_id, seq, path, source_seq, cups_queue) "
                "VALUES (?, ?, ?, ?, ?)",
                [(job_id, seq, path, src, queue) for seq, (path, src) in enumerate(outputs, 1)],
            )
            self._move(tx, job_id, JobState.CONVERTED, data={"outputs": len(outputs)})

    def quarantined(self, job_id: int, *, rule: str, reason: str) -> None:
        """Bad input: the job's files were moved to quarantine; nothing is printed."""
        with self.store.transaction() as tx:
            self._move(tx, job_id, JobState.QUARANTINED, rule=rule, reason=reason)

    def held(self, job_id: int, *, rule: str, reason: str) -> None:
        """Printer or CUPS trouble: the job waits for a retry or a technician."""
        with self.store.transaction() as tx:
            self._move(tx, job_id, JobState.HELD, rule=rule, reason=reason)

    def resume(self, job_id: int, to: JobState) -> None:
        """Take a held job back into the life cycle at ``to``."""
        with self.store.transaction() as tx:
            self._move(tx, job_id, to)

    def submit_intent(self, job_id: int, seq: int) -> None:
        """Committed before the IPP request: output ``seq`` is about to go to CUPS."""
        with self.store.transaction() as tx:
            row = tx.one(
                "SELECT cups_queue FROM job_outputs WHERE job_id = ? AND seq = ?", (job_id, seq)
            )
            if row is None:
                raise JournalError(str(self.path), f"job {job_id} has no output {seq}")
            if self._state(tx, job_id) is not JobState.SUBMITTING:
                self._move(tx, job_id, JobState.SUBMITTING)
            tx.execute(
                "UPDATE job_outputs SET submit_intent_at = ? WHERE job_id = ? AND seq = ?",
                (self._now(), job_id, seq),
            )
            self._append(tx, job_id, "print.submit_intent", {"seq": seq, "queue": row[0]})

    def submitted(self, job_id: int, seq: int, cups_job_id: int) -> None:
        """CUPS accepted output ``seq`` as ``cups_job_id``; all accepted → SUBMITTED."""
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE job_outputs SET cups_job_id = ? WHERE job_id = ? AND seq = ?",
                (cups_job_id, job_id, seq),
            )
            self._append(tx, job_id, "print.submitted", {"seq": seq, "cups_job_id": cups_job_id})
            left = tx.one(
                "SELECT count(*) AS n FROM job_outputs WHERE job_id = ? AND cups_job_id IS NULL",
                (job_id,),
            )
            if left is None or left.integer("n") == 0:
                self._move(tx, job_id, JobState.SUBMITTED)

    def cups_state(self, job_id: int, seq: int, state: str, **data: object) -> None:
        """Record the CUPS job state of output ``seq`` when it changed."""
        with self.store.transaction() as tx:
            row = tx.one(
                "SELECT cups_state, cups_job_id FROM job_outputs WHERE job_id = ? AND seq = ?",
                (job_id, seq),
            )
            if row is None or row[0] == state:
                return
            tx.execute(
                "UPDATE job_outputs SET cups_state = ? WHERE job_id = ? AND seq = ?",
                (state, job_id, seq),
            )
            self._append(
                tx,
                job_id,
                "print.cups_state",
                {"seq": seq, "cups_job_id": row[1], "state": state, **data},
            )

    def printed(self, job_id: int, **data: object) -> None:
        """CUPS reports every output completed."""
        with self.store.transaction() as tx:
            self._move(tx, job_id, JobState.PRINTED, data=data)

    def done(self, job_id: int, **data: object) -> None:
        """The job is finished; its retention period runs from now."""
        with self.store.transaction() as tx:
            self._move(tx, job_id, JobState.DONE, data=data)

    def uncertain(self, job_id: int, *, rule: str, reason: str) -> None:
        """CUPS cannot prove whether the job printed: a supervisor decides."""
        with self.store.transaction() as tx:
            self._move(tx, job_id, JobState.UNCERTAIN, rule=rule, reason=reason)

    def canceled(self, job_id: int, *, by: str, cups_job_ids: Sequence[int]) -> None:
        """A technician cancelled the job (and these CUPS jobs of it)."""
        with self.store.transaction() as tx:
            self._move(
                tx,
                job_id,
                JobState.CANCELED,
                rule="print.canceled_by_technician",
                data={"by": by, "cups_job_ids": list(cups_job_ids)},
            )

    def print_again(
        self, job_id: int, seqs: Sequence[int], to: JobState, *, by: str, why: str
    ) -> None:
        """Take a held or uncertain job back to ``to``; outputs ``seqs`` are submitted anew.

        Their CUPS jobs are kept as superseded, so that reconciliation never takes one of
        them (same name) for the new submission.
        """
        with self.store.transaction() as tx:
            now = self._now()
            for seq in seqs:
                row = tx.one(
                    "SELECT cups_job_id, cups_state FROM job_outputs WHERE job_id = ? AND seq = ?",
                    (job_id, seq),
                )
                if row is None:
                    raise JournalError(str(self.path), f"job {job_id} has no output {seq}")
                if row[0] is not None:
                    tx.execute(
                        "INSERT OR IGNORE INTO print_superseded (job_id, seq, cups_job_id, "
                        "cups_state, superseded_at) VALUES (?, ?, ?, ?, ?)",
                        (job_id, seq, row[0], row[1], now),
                    )
                tx.execute(
                    "UPDATE job_outputs SET submit_intent_at = NULL, cups_job_id = NULL, "
                    "cups_state = NULL WHERE job_id = ? AND seq = ?",
                    (job_id, seq),
                )
            self._move(tx, job_id, to, data={"by": by, "why": why, "again": list(seqs)})

    def superseded(self, job_id: int) -> set[int]:
        """CUPS job ids that once stood for outputs of this job and no longer do."""
        rows = self.store.read(
            "SELECT cups_job_id FROM print_superseded WHERE job_id = ?", (job_id,)
        )
        return {r.integer("cups_job_id") for r in rows}

    def reprint(self, original: int, seqs: Sequence[int], *, by: str) -> Job:
        """A new job printing outputs ``seqs`` of ``original`` again, linked to it.

        It starts HELD (``print.reprint_preparing``) so that no daemon submits it before its
        files are in its spool folder; :meth:`resume` to CONVERTED then releases it.
        """
        now = self._now()
        with self.store.transaction() as tx:
            src = tx.one("SELECT hotfolder, kind, spool FROM jobs WHERE id = ?", (original,))
            if src is None:
                raise JobNotFound(original)
            outputs = {
                r.integer("seq"): (
                    r.text("path"),
                    r.opt_integer("source_seq"),
                    r.text("cups_queue"),
                )
                for r in tx.rows(
                    "SELECT seq, path, source_seq, cups_queue FROM job_outputs WHERE job_id = ?",
                    (original,),
                )
            }
            missing = [s for s in seqs if s not in outputs]
            if not seqs or missing:
                raise JournalError(
                    str(self.path), f"job {original} has no output(s) {missing or 'at all'}"
                )
            job_id = tx.insert(
                "INSERT INTO jobs (hotfolder, kind, state, technician, spool, rule, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?) RETURNING id",
                (src[0], src[1], JobState.HELD.value, by, "print.reprint_preparing", now, now),
            )
            folder = str(spool.job_folder(Path(src.text("spool")).parent, job_id))
            tx.execute("UPDATE jobs SET spool = ? WHERE id = ?", (folder, job_id))
            tx.execute(
                "INSERT INTO job_personal (job_id, entry) SELECT ?, entry FROM job_personal "
                "WHERE job_id = ?",
                (job_id, original),
            )
            files = {
                r.integer("seq"): (r.text("name"), r.integer("size"))
                for r in tx.rows(
                    "SELECT seq, name, size FROM job_files WHERE job_id = ?", (original,)
                )
            }
            for new_seq, seq in enumerate(seqs, 1):
                path, source_seq, queue = outputs[seq]
                tx.execute(
                    "INSERT INTO job_outputs (job_id, seq, path, source_seq, cups_queue) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (job_id, new_seq, path, new_seq if source_seq in files else None, queue),
                )
                if source_seq in files:
                    tx.execute(
                        "INSERT INTO job_files (job_id, seq, name, size) VALUES (?, ?, ?, ?)",
                        (job_id, new_seq, *files[source_seq]),
                    )
            self._append(
                tx,
                job_id,
                "job.reprint",
                {"original": original, "outputs": list(seqs), "by": by},
            )
            self._append(tx, original, "job.reprinted", {"reprint": job_id, "outputs": list(seqs)})
        return self.job(job_id)

    def record(
        self,
        kind: str,
        data: Mapping[str, object],
        *,
        job_id: int | None = None,
        detail: str | None = None,
    ) -> int:
        """Append an event that is not a state change (daemon start, a security refusal ...)."""
        with self.store.transaction() as tx:
            return self._append(tx, job_id, kind, data, detail)

    # -- reading ------------------------------------------------------------------------------

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

    def events(
        self, *, job_id: int | None = None, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events in order, optionally of one job, after sequence number ``after``."""
        return chain.events(self.store, job_id=job_id, after=after, limit=limit)

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

    def verify(self, head: str | None = None) -> ChainCheck:
        """Walk the whole event chain: see :func:`labd.store.chain.verify`."""
        return chain.verify(self.store, head)

    # -- supervisor's views and erasure ---------------------------------------------------------

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

    def _salt(self, tx: Tx, job_id: int) -> bytes:
        row = tx.one("SELECT salt FROM job_salts WHERE job_id = ?", (job_id,))
        if row is not None:
            return row.blob("salt")
        salt = secrets.token_bytes(16)
        tx.execute("INSERT INTO job_salts (job_id, salt) VALUES (?, ?)", (job_id, salt))
        return salt

    def salt_in(self, tx: Tx, job_id: int) -> bytes:
        """The job's salt within a transaction, made on first use."""
        return self._salt(tx, job_id)

    def purged_in(self, tx: Tx, job_id: int, **data: object) -> bool:
        """Move the job to PURGED within ``tx``; False if it is PURGED already."""
        if self._state(tx, job_id) is JobState.PURGED:
            return False
        self._move(tx, job_id, JobState.PURGED, data=data)
        return True

    def erase_personal(self, tx: Tx, job_ids: Sequence[int]) -> dict[str, int]:
        """Delete the personal data the core tables hold of these jobs; return counts.

        Entry and order reference, reasons, file names, the texts beside their events and
        the salts of their references go; sizes, states and the chained events stay.
        """
        counts = {"entries": 0, "file_names": 0, "details": 0, "salts": 0}
        for job_id in job_ids:
            counts["entries"] += tx.execute("DELETE FROM job_personal WHERE job_id = ?", (job_id,))
            counts["file_names"] += tx.execute(
                "UPDATE job_files SET name = '' WHERE job_id = ? AND name != ''", (job_id,)
            )
            counts["details"] += chain.erase_details(tx, job_id=job_id)
            counts["salts"] += tx.execute("DELETE FROM job_salts WHERE job_id = ?", (job_id,))
        return counts

    def scrub(self) -> bool:
        """Empty the WAL after an erasure: see :meth:`Store.scrub`."""
        return self.store.scrub()


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


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) if needed; labd's spool and state are private."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077 and os.geteuid() == path.stat().st_uid:
        path.chmod(0o700)


def fail_job(journal: Journal, job_id: int, error: Exception, *, doing: str) -> bool:
    """An error nobody foresaw stopped this job: hold it for a technician, say why.

    The job is HELD with rule internal.error (``labd retry`` or ``labd cancel``) and True
    returned; a job that cannot be held from where it is gets the error journaled and
    False.  Either way labd goes on with every other job; the log has the traceback.
    """
    log.error(
        "job.failed",
        job_id=job_id,
        doing=doing,
        error=f"{type(error).__name__}: {error}",
        exc_info=error,
    )
    job = journal.job(job_id)
    reason = unexpected_reason(error, doing=doing, job_id=job_id)
    if JobState.HELD in TRANSITIONS[job.state]:
        journal.held(job_id, rule=INTERNAL_RULE, reason=reason)
        return True
    journal.record(
        "job.internal_error",
        {"doing": doing, "error": type(error).__name__},
        job_id=job_id,
        detail=reason,
    )
    return False
