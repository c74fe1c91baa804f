"""The journal: every job, its files and every state change, in SQLite.

WAL with ``synchronous=FULL``: a state change returned from here is on disk, so it can be
committed before the side effect that depends on it.  Events are an append-only log, each
chained to the one before by SHA-256, so a quiet edit is detectable (:meth:`Journal.verify`).
Personal data (file and folder names, reasons that name files) lives in separate columns and
tables that the chain does not cover, so erasing it never breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

import structlog

from labd.clock import Clock, SystemClock, isoformat
from labd.errors import (
    AccessDenied,
    IllegalTransition,
    JobNotFound,
    JournalError,
    JournalSchemaError,
    JournalUnavailable,
    JournalUnusable,
)
from labd.model import TRANSITIONS, Event, Job, JobFile, JobKind, JobOutput, JobState

log = structlog.get_logger(__name__)

GENESIS: Final = "0" * 64

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


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    prev_hash: str, *, seq: int, ts: str, job_id: int | None, kind: str, data: str
) -> str:
    """The chain link of one event: SHA-256 over the previous hash and this event."""
    body = _canonical({"seq": seq, "ts": ts, "job": job_id, "kind": kind, "data": data})
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def personal_ref(salt: bytes, value: str) -> str:
    """A salted reference to a personal value, for chained events that must name one.

    With the salt (kept outside the chain) a supervisor can check that an event refers to
    a given value; once the salt is erased the reference says nothing.
    """
    return hashlib.sha256(salt + value.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Discovery:
    """An entry of a hot folder about to be claimed."""

    hotfolder: str
    kind: JobKind
    entry: str
    technician: str
    source_inode: int


@dataclass(frozen=True)
class ComponentSchema:
    """The tables of one component (media, waste ...) and how they evolve.

    Like the core's, each migration is a tuple of statements applied in one transaction;
    never edit a released one, append a new one.
    """

    name: str
    migrations: tuple[tuple[str, ...], ...]


# CUPS jobs that no longer stand for their output: aborted or canceled ones a technician
# retried, or ones of an UNCERTAIN job resolved as "reprint".  Reconciliation must never
# take one of them for the output's current CUPS job (they share its name).
PRINTING_SCHEMA: Final = ComponentSchema(
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


class Tx:
    """One write transaction of a component: its own tables and chained events.

    Everything done through one Tx commits together or not at all.
    """

    def __init__(self, journal: Journal, cur: sqlite3.Cursor) -> None:
        self._journal = journal
        self._cur = cur

    def execute(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run one statement in this transaction."""
        return self._cur.execute(sql, args)

    def event(
        self,
        kind: str,
        data: Mapping[str, object],
        *,
        job_id: int | None = None,
        detail: str | None = None,
    ) -> int:
        """Append a chained event; ``detail`` is personal text kept outside the chain."""
        return self._journal._append(self._cur, job_id, kind, data, detail)

    def now(self) -> str:
        """The journal's timestamp for this moment."""
        return self._journal._now()


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of :meth:`Journal.verify`."""

    events: int
    head: str
    first_bad: int | None  # seq of the first event that does not fit, None when all fit
    problem: str | None
    head_seq: int | None = None  # with ``verify(head=...)``: the event that has that hash
    head_found: bool | None = None  # with ``verify(head=...)``: the chain still holds it


_JOB_COLUMNS: Final = (
    "j.id, j.hotfolder, j.kind, j.state, j.technician, p.entry, j.spool, j.created_at, "
    "j.updated_at, j.rule, p.reason, p.order_ref"
)
_JOB_FROM: Final = "jobs j LEFT JOIN job_personal p ON p.job_id = j.id"


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row[0],
        hotfolder=row[1],
        kind=JobKind(row[2]),
        state=JobState(row[3]),
        technician=row[4],
        entry=row[5] or "",
        spool=row[6],
        created_at=row[7],
        updated_at=row[8],
        rule=row[9],
        reason=row[10],
        order_ref=row[11],
    )


class Journal:
    """labd's SQLite journal.  Thread-safe: one connection, one lock."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._open: sqlite3.Cursor | None = None  # the cursor of a running batch()
        self.path = path
        self.clock = clock

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, clock: Clock | None = None, *, create: bool = True) -> Journal:
        """Open (and create or migrate) the journal at ``path``."""
        if create:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_access(path, create=create)
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            conn.execute("PRAGMA busy_timeout = 10000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Deleted personal data is overwritten with zeros in the file, not just unlinked
            # from the b-tree (erasure; see README "What deleting means").
            conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error as e:
            raise storage_error(path, e, "cannot open") from e
        if mode != "wal":
            conn.close()
            # SQLite cannot use WAL on network filesystems; the journal must be on local disk.
            raise JournalError(str(path), f"cannot use WAL mode (got {mode}); is it on local disk?")
        if create:
            for suffix in ("", "-wal", "-shm"):
                f = Path(f"{path}{suffix}")
                if f.exists():
                    f.chmod(0o600)
        journal = cls(conn, path, clock or SystemClock())
        journal._migrate()
        journal.ensure_schema(PRINTING_SCHEMA)
        return journal

    def _migrate(self) -> None:
        if self.schema_version() == SCHEMA_VERSION:
            return  # current: no write lock taken (a command must open a busy journal)
        with self._tx() as cur:
            version = cur.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalSchemaError(str(self.path), version, SCHEMA_VERSION)
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number]:
                    cur.execute(statement)
                log.info("journal.migrated", to_version=number + 1)
            if version < SCHEMA_VERSION:
                # PRAGMA takes no parameters; the value is our own integer.
                cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def ensure_schema(self, schema: ComponentSchema) -> None:
        """Create or migrate a component's tables; cheap when they are current."""
        if self._component_version(schema.name) == len(schema.migrations):
            return  # current: no write lock taken
        with self._tx() as cur:
            row = cur.execute(
                "SELECT version FROM component_schema WHERE name = ?", (schema.name,)
            ).fetchone()
            version = row[0] if row else 0
            target = len(schema.migrations)
            if version > target:
                raise JournalSchemaError(f"{self.path} ({schema.name})", version, target)
            for number in range(version, target):
                for statement in schema.migrations[number]:
                    cur.execute(statement)
                log.info("journal.migrated", component=schema.name, to_version=number + 1)
            if version < target:
                cur.execute(
                    "INSERT INTO component_schema (name, version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (schema.name, target),
                )

    def _component_version(self, name: str) -> int | None:
        with self._reading():
            try:
                row = self._conn.execute(
                    "SELECT version FROM component_schema WHERE name = ?", (name,)
                ).fetchone()
            except sqlite3.OperationalError:
                return None  # no such table yet: a journal being created
        return None if row is None else int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction for a component: ``with journal.transaction() as tx: ...``."""
        with self._tx() as cur:
            yield Tx(self, cur)

    def query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Read rows (a component's own queries)."""
        with self._reading():
            return [tuple(r) for r in self._conn.execute(sql, args).fetchall()]

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        with self._reading():
            self._conn.close()

    def schema_version(self) -> int:
        """The schema version of the open journal."""
        with self._reading():
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction (a savepoint inside a batch); driver errors become labd's."""
        with self._lock:
            if self._open is not None:
                # Inside a batch: a savepoint, so a step that fails leaves nothing behind
                # while the batch commits the rest.
                cur = self._open
                self._run(cur, "SAVEPOINT step", "cannot start a step")
                try:
                    yield cur
                except BaseException as e:
                    with suppress(sqlite3.Error):  # the whole transaction may be gone
                        cur.execute("ROLLBACK TO step")
                        cur.execute("RELEASE step")
                    if isinstance(e, sqlite3.Error):
                        raise storage_error(self.path, e, "cannot write") from e
                    raise
                self._run(cur, "RELEASE step", "cannot finish a step")
                return
            cur = self._conn.cursor()
            self._run(cur, "BEGIN IMMEDIATE", "cannot start a transaction")
            try:
                yield cur
            except BaseException as e:
                self._rollback(cur)
                if isinstance(e, sqlite3.Error):
                    raise storage_error(self.path, e, "cannot write") from e
                raise
            try:
                cur.execute("COMMIT")
            except sqlite3.Error as e:
                self._rollback(cur)
                raise storage_error(self.path, e, "cannot commit") from e

    def _run(self, cur: sqlite3.Cursor, statement: str, doing: str) -> None:
        try:
            cur.execute(statement)
        except sqlite3.Error as e:
            raise storage_error(self.path, e, doing) from e

    def _rollback(self, cur: sqlite3.Cursor) -> None:
        # SQLite rolls a transaction back by itself after some errors (disk full, I/O).
        if self._conn.in_transaction:
            with suppress(sqlite3.Error):
                cur.execute("ROLLBACK")

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """The connection's lock, with driver errors turned into labd's."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as e:
                raise storage_error(self.path, e, "cannot read") from e

    @contextmanager
    def relaxed(self) -> Iterator[None]:
        """Commits in this block skip their fsync (``synchronous=NORMAL``).

        Only for records that reconciliation can rebuild if a power cut loses them (a CUPS
        job id, which CUPS' history gives back by the job's name; CUPS states): the WAL is
        written in order, so the next FULL commit, such as the next submit intent, makes
        them durable too.  An application crash loses nothing either way.
        """
        with self._reading():
            self._conn.execute("PRAGMA synchronous = NORMAL")
            try:
                yield
            finally:
                self._conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit every write made in this block (by this thread) at once, at its end.

        For records that no side effect waits on, such as the CUPS states one follow pass
        reads: one fsync instead of one per record.  Never around a write that must be
        on disk before an action outside the journal (the submit intent).
        """
        with self._lock, self._tx() as cur:
            self._open = cur
            try:
                yield
            finally:
                self._open = None

    def _now(self) -> str:
        return isoformat(self.clock.now())

    def _append(
        self,
        cur: sqlite3.Cursor,
        job_id: int | None,
        kind: str,
        data: Mapping[str, object],
        detail: str | None = None,
    ) -> int:
        last = cur.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        ts = self._now()
        text = _canonical(dict(data))
        digest = event_hash(prev, seq=seq, ts=ts, job_id=job_id, kind=kind, data=text)
        cur.execute(
            "INSERT INTO events (seq, ts, job_id, kind, data, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, job_id, kind, text, prev, digest),
        )
        if detail is not None:
            cur.execute("INSERT INTO event_details (seq, text) VALUES (?, ?)", (seq, detail))
        return seq

    def _state(self, cur: sqlite3.Cursor, job_id: int) -> JobState:
        row = cur.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return JobState(row[0])

    def _move(
        self,
        cur: sqlite3.Cursor,
        job_id: int,
        to: JobState,
        *,
        rule: str | None = None,
        reason: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        current = self._state(cur, job_id)
        if to not in TRANSITIONS[current]:
            raise IllegalTransition(job_id, current.value, to.value)
        cur.execute(
            "UPDATE jobs SET state = ?, rule = ?, updated_at = ? WHERE id = ?",
            (to.value, rule, self._now(), job_id),
        )
        cur.execute("UPDATE job_personal SET reason = ? WHERE job_id = ?", (reason, job_id))
        payload: dict[str, object] = {"from": current.value, "to": to.value, **(data or {})}
        if rule is not None:
            payload["rule"] = rule
        self._append(cur, job_id, "job.state_changed", payload, reason)

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
        with self._tx() as cur:
            for d in found:
                cur.execute(
                    "INSERT INTO jobs (hotfolder, kind, state, technician, spool, source_inode, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?)",
                    (d.hotfolder, d.kind.value, JobState.DISCOVERED.value, d.technician,
                     d.source_inode, now, now),
                )  # fmt: skip
                job_id = cur.lastrowid
                if job_id is None:  # cannot happen for a rowid table; keeps the type exact
                    raise JournalError(str(self.path), "the new job got no id")
                cur.execute(
                    "UPDATE jobs SET spool = ? WHERE id = ?",
                    (str(spool_root / str(job_id)), job_id),
                )
                cur.execute(
                    "INSERT INTO job_personal (job_id, entry) VALUES (?, ?)", (job_id, d.entry)
                )
                self._append(
                    cur,
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
        with self._tx() as cur:
            for job_id, files in claims:
                cur.executemany(
                    "INSERT INTO job_files (job_id, seq, name, size) VALUES (?, ?, ?, ?)",
                    [(job_id, seq, name, size) for seq, (name, size) in enumerate(files, 1)],
                )
                self._move(
                    cur,
                    job_id,
                    JobState.CLAIMED,
                    data={"files": len(files), "bytes": sum(s for _, s in files)},
                )

    def ticket(
        self, job_id: int, *, order_ref: str | None, copies: Mapping[int, int], media: int
    ) -> None:
        """Record what the job's ticket says: order reference, copies per file seq."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE job_personal SET order_ref = ? WHERE job_id = ?", (order_ref, job_id)
            )
            cur.executemany(
                "UPDATE job_files SET copies = ? WHERE job_id = ? AND seq = ?",
                [(n, job_id, seq) for seq, n in copies.items()],
            )
            data: dict[str, object] = {
                "order_ref": order_ref is not None,
                "copies": len(copies),
                "media": media,
            }
            if order_ref is not None:
                data["order_hash"] = personal_ref(self._salt(cur, job_id), order_ref)
            self._append(cur, job_id, "job.ticket", data)

    def withdrawn(self, job_id: int) -> None:
        """The files left the hot folder before labd could claim them."""
        with self._tx() as cur:
            self._move(cur, job_id, JobState.WITHDRAWN)

    def converted(self, job_id: int, outputs: Sequence[tuple[str, int | None]], queue: str) -> None:
        """Print-ready outputs written: (path relative to the spool folder, source file seq)."""
        with self._tx() as cur:
            # A conversion cut short and run again replaces what the first run recorded.
            cur.execute("DELETE FROM job_outputs WHERE job_id = ?", (job_id,))
            cur.executemany(
                "INSERT INTO job_outputs (job_id, seq, path, source_seq, cups_queue) "
                "VALUES (?, ?, ?, ?, ?)",
                [(job_id, seq, path, src, queue) for seq, (path, src) in enumerate(outputs, 1)],
            )
            self._move(cur, job_id, JobState.CONVERTED, data={"outputs": len(outputs)})

    def quarantined(self, job_id: int, *, rule: str, reason: str) -> None:
        """Bad input: the job's files were moved to quarantine; nothing is printed."""
        with self._tx() as cur:
            self._move(cur, job_id, JobState.QUARANTINED, rule=rule, reason=reason)

    def held(self, job_id: int, *, rule: str, reason: str) -> None:
        """Printer or CUPS trouble: the job waits for a retry or a technician."""
        with self._tx() as cur:
            self._move(cur, job_id, JobState.HELD, rule=rule, reason=reason)

    def resume(self, job_id: int, to: JobState) -> None:
        """Take a held job back into the life cycle at ``to``."""
        with self._tx() as cur:
            self._move(cur, job_id, to)

    def submit_intent(self, job_id: int, seq: int) -> None:
        """Committed before the IPP request: output ``seq`` is about to go to CUPS."""
        with self._tx() as cur:
            row = cur.execute(
                "SELECT cups_queue FROM job_outputs WHERE job_id = ? AND seq = ?", (job_id, seq)
            ).fetchone()
            if row is None:
                raise JournalError(str(self.path), f"job {job_id} has no output {seq}")
            if self._state(cur, job_id) is not JobState.SUBMITTING:
                self._move(cur, job_id, JobState.SUBMITTING)
            cur.execute(
                "UPDATE job_outputs SET submit_intent_at = ? WHERE job_id = ? AND seq = ?",
                (self._now(), job_id, seq),
            )
            self._append(cur, job_id, "print.submit_intent", {"seq": seq, "queue": row[0]})

    def submitted(self, job_id: int, seq: int, cups_job_id: int) -> None:
        """CUPS accepted output ``seq`` as ``cups_job_id``; all accepted → SUBMITTED."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE job_outputs SET cups_job_id = ? WHERE job_id = ? AND seq = ?",
                (cups_job_id, job_id, seq),
            )
            self._append(cur, job_id, "print.submitted", {"seq": seq, "cups_job_id": cups_job_id})
            left = cur.execute(
                "SELECT count(*) FROM job_outputs WHERE job_id = ? AND cups_job_id IS NULL",
                (job_id,),
            ).fetchone()[0]
            if left == 0:
                self._move(cur, job_id, JobState.SUBMITTED)

    def cups_state(self, job_id: int, seq: int, state: str, **data: object) -> None:
        """Record the CUPS job state of output ``seq`` when it changed."""
        with self._tx() as cur:
            row = cur.execute(
                "SELECT cups_state, cups_job_id FROM job_outputs WHERE job_id = ? AND seq = ?",
                (job_id, seq),
            ).fetchone()
            if row is None or row[0] == state:
                return
            cur.execute(
                "UPDATE job_outputs SET cups_state = ? WHERE job_id = ? AND seq = ?",
                (state, job_id, seq),
            )
            self._append(
                cur,
                job_id,
                "print.cups_state",
                {"seq": seq, "cups_job_id": row[1], "state": state, **data},
            )

    def printed(self, job_id: int, **data: object) -> None:
        """CUPS reports every output completed."""
        with self._tx() as cur:
            self._move(cur, job_id, JobState.PRINTED, data=data)

    def done(self, job_id: int, **data: object) -> None:
        """The job is finished; its retention period runs from now."""
        with self._tx() as cur:
            self._move(cur, job_id, JobState.DONE, data=data)

    def uncertain(self, job_id: int, *, rule: str, reason: str) -> None:
        """CUPS cannot prove whether the job printed: a supervisor decides."""
        with self._tx() as cur:
            self._move(cur, job_id, JobState.UNCERTAIN, rule=rule, reason=reason)

    def canceled(self, job_id: int, *, by: str, cups_job_ids: Sequence[int]) -> None:
        """A technician cancelled the job (and these CUPS jobs of it)."""
        with self._tx() as cur:
            self._move(
                cur,
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
        with self._tx() as cur:
            now = self._now()
            for seq in seqs:
                row = cur.execute(
                    "SELECT cups_job_id, cups_state FROM job_outputs WHERE job_id = ? AND seq = ?",
                    (job_id, seq),
                ).fetchone()
                if row is None:
                    raise JournalError(str(self.path), f"job {job_id} has no output {seq}")
                if row[0] is not None:
                    cur.execute(
                        "INSERT OR IGNORE INTO print_superseded (job_id, seq, cups_job_id, "
                        "cups_state, superseded_at) VALUES (?, ?, ?, ?, ?)",
                        (job_id, seq, row[0], row[1], now),
                    )
                cur.execute(
                    "UPDATE job_outputs SET submit_intent_at = NULL, cups_job_id = NULL, "
                    "cups_state = NULL WHERE job_id = ? AND seq = ?",
                    (job_id, seq),
                )
            self._move(cur, job_id, to, data={"by": by, "why": why, "again": list(seqs)})

    def superseded(self, job_id: int) -> set[int]:
        """CUPS job ids that once stood for outputs of this job and no longer do."""
        with self._reading():
            rows = self._conn.execute(
                "SELECT cups_job_id FROM print_superseded WHERE job_id = ?", (job_id,)
            ).fetchall()
        return {int(r[0]) for r in rows}

    def reprint(self, original: int, seqs: Sequence[int], *, by: str) -> Job:
        """A new job printing outputs ``seqs`` of ``original`` again, linked to it.

        It starts HELD (``print.reprint_preparing``) so that no daemon submits it before its
        files are in its spool folder; :meth:`resume` to CONVERTED then releases it.
        """
        now = self._now()
        with self._tx() as cur:
            src = cur.execute(
                "SELECT hotfolder, kind, spool FROM jobs WHERE id = ?", (original,)
            ).fetchone()
            if src is None:
                raise JobNotFound(original)
            outputs = {
                r[0]: r[1:]
                for r in cur.execute(
                    "SELECT seq, path, source_seq, cups_queue FROM job_outputs WHERE job_id = ?",
                    (original,),
                )
            }
            missing = [s for s in seqs if s not in outputs]
            if not seqs or missing:
                raise JournalError(
                    str(self.path), f"job {original} has no output(s) {missing or 'at all'}"
                )
            cur.execute(
                "INSERT INTO jobs (hotfolder, kind, state, technician, spool, rule, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?)",
                (src[0], src[1], JobState.HELD.value, by, "print.reprint_preparing", now, now),
            )
            job_id = cur.lastrowid
            if job_id is None:  # cannot happen for a rowid table; keeps the type exact
                raise JournalError(str(self.path), "the new job got no id")
            spool = str(Path(src[2]).parent / str(job_id))
            cur.execute("UPDATE jobs SET spool = ? WHERE id = ?", (spool, job_id))
            cur.execute(
                "INSERT INTO job_personal (job_id, entry) SELECT ?, entry FROM job_personal "
                "WHERE job_id = ?",
                (job_id, original),
            )
            files = {
                r[0]: r[1:]
                for r in cur.execute(
                    "SELECT seq, name, size FROM job_files WHERE job_id = ?", (original,)
                )
            }
            for new_seq, seq in enumerate(seqs, 1):
                path, source_seq, queue = outputs[seq]
                cur.execute(
                    "INSERT INTO job_outputs (job_id, seq, path, source_seq, cups_queue) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (job_id, new_seq, path, new_seq if source_seq in files else None, queue),
                )
                if source_seq in files:
                    cur.execute(
                        "INSERT INTO job_files (job_id, seq, name, size) VALUES (?, ?, ?, ?)",
                        (job_id, new_seq, *files[source_seq]),
                    )
            self._append(
                cur,
                job_id,
                "job.reprint",
                {"original": original, "outputs": list(seqs), "by": by},
            )
            self._append(cur, original, "job.reprinted", {"reprint": job_id, "outputs": list(seqs)})
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
        with self._tx() as cur:
            return self._append(cur, job_id, kind, data, detail)

    # -- reading ------------------------------------------------------------------------------

    def job(self, job_id: int) -> Job:
        """The job ``job_id`` as it stands."""
        with self._reading():
            row = self._conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM {_JOB_FROM} WHERE j.id = ?",  # noqa: S608  # constants only
                (job_id,),
            ).fetchone()
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
        with self._reading():
            return [_job(r) for r in self._conn.execute(sql, args)]

    def files(self, job_id: int) -> list[JobFile]:
        """The input files of a job, in order."""
        with self._reading():
            rows = self._conn.execute(
                "SELECT job_id, seq, name, size, copies FROM job_files WHERE job_id = ? "
                "ORDER BY seq",
                (job_id,),
            ).fetchall()
        return [JobFile(*r) for r in rows]

    def outputs(self, job_id: int) -> list[JobOutput]:
        """The print-ready outputs of a job and their CUPS jobs, in order."""
        with self._reading():
            rows = self._conn.execute(
                "SELECT job_id, seq, path, source_seq, cups_queue, submit_intent_at, "
                "cups_job_id, cups_state FROM job_outputs WHERE job_id = ? ORDER BY seq",
                (job_id,),
            ).fetchall()
        return [JobOutput(*r) for r in rows]

    def events(
        self, *, job_id: int | None = None, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events in order, optionally of one job, after sequence number ``after``."""
        sql = (
            "SELECT e.seq, e.ts, e.job_id, e.kind, e.data, e.hash, d.text FROM events e "
            "LEFT JOIN event_details d ON d.seq = e.seq WHERE e.seq > ?"
        )
        args: list[object] = [after]
        if job_id is not None:
            sql += " AND e.job_id = ?"
            args.append(job_id)
        sql += " ORDER BY e.seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._reading():
            rows = self._conn.execute(sql, args).fetchall()
        return [
            Event(
                seq=r[0],
                ts=r[1],
                job_id=r[2],
                kind=r[3],
                data=MappingProxyType(json.loads(r[4])),
                hash=r[5],
                detail=r[6],
            )
            for r in rows
        ]

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        with self._reading():
            rows = self._conn.execute("SELECT state, count(*) FROM jobs GROUP BY state")
            return {JobState(s): n for s, n in rows}

    def verify(self, head: str | None = None) -> ChainCheck:
        """Walk the whole event chain; name the first event that does not fit.

        ``head`` is a head hash noted earlier, optionally as ``SEQ:HASH``: the check also
        says whether the chain still holds it (a truncated or rewritten tail does not).
        """
        want_seq, want_hash = _split_head(head)
        prev, count, head_seq = GENESIS, 0, None
        with self._reading():
            rows = self._conn.execute(
                "SELECT seq, ts, job_id, kind, data, prev_hash, hash FROM events ORDER BY seq"
            )
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

    # -- supervisor's views and erasure ---------------------------------------------------------

    def find_events(self, f: EventFilter) -> list[Event]:
        """Events matching a supervisor's filter, in order."""
        where, args = _filter_sql(f)
        sql = (
            "SELECT e.seq, e.ts, e.job_id, e.kind, e.data, e.hash, d.text FROM events e "  # noqa: S608  # constants; values bound
            "LEFT JOIN event_details d ON d.seq = e.seq "
            "LEFT JOIN jobs j ON j.id = e.job_id "
            "LEFT JOIN job_personal p ON p.job_id = e.job_id "
            f"WHERE {' AND '.join(where)} ORDER BY e.seq"
        )
        if f.limit is not None:
            sql += f" LIMIT {int(f.limit)}"
        with self._reading():
            rows = self._conn.execute(sql, args).fetchall()
        return [_event(r) for r in rows]

    def jobs_of_order(self, order_ref: str) -> list[int]:
        """Jobs whose ticket names ``order_ref``, and the reprints made of them."""
        with self._reading():
            ids = {
                int(r[0])
                for r in self._conn.execute(
                    "SELECT job_id FROM job_personal WHERE order_ref = ?", (order_ref,)
                )
            }
            return sorted(ids | self._reprints_of(ids))

    def _reprints_of(self, ids: set[int]) -> set[int]:
        found: set[int] = set()
        frontier = set(ids)
        while frontier:
            marks = ", ".join("?" * len(frontier))
            rows = self._conn.execute(
                "SELECT job_id FROM events WHERE kind = 'job.reprint' AND "  # noqa: S608  # placeholders
                f"json_extract(data, '$.original') IN ({marks})",
                sorted(frontier),
            ).fetchall()
            frontier = {int(r[0]) for r in rows} - found - ids
            found |= frontier
        return found

    def salt(self, job_id: int) -> bytes | None:
        """The salt of the job's personal references; None once erased (or never made)."""
        with self._reading():
            row = self._conn.execute(
                "SELECT salt FROM job_salts WHERE job_id = ?", (job_id,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def _salt(self, cur: sqlite3.Cursor, job_id: int) -> bytes:
        row = cur.execute("SELECT salt FROM job_salts WHERE job_id = ?", (job_id,)).fetchone()
        if row is not None:
            return bytes(row[0])
        salt = os.urandom(16)
        cur.execute("INSERT INTO job_salts (job_id, salt) VALUES (?, ?)", (job_id, salt))
        return salt

    def salt_in(self, tx: Tx, job_id: int) -> bytes:
        """The job's salt within a transaction, made on first use."""
        return self._salt(tx._cur, job_id)  # Tx is this module's own type

    def purged_in(self, tx: Tx, job_id: int, **data: object) -> bool:
        """Move the job to PURGED within ``tx``; False if it is PURGED already."""
        cur = tx._cur  # Tx is this module's own type
        if self._state(cur, job_id) is JobState.PURGED:
            return False
        self._move(cur, job_id, JobState.PURGED, data=data)
        return True

    def erase_personal(self, tx: Tx, job_ids: Sequence[int]) -> dict[str, int]:
        """Delete the personal data the core tables hold of these jobs; return counts.

        Entry and order reference, reasons, file names, the texts beside their events and
        the salts of their references go; sizes, states and the chained events stay.
        """
        counts = {"entries": 0, "file_names": 0, "details": 0, "salts": 0}
        for job_id in job_ids:
            counts["entries"] += tx.execute(
                "DELETE FROM job_personal WHERE job_id = ?", (job_id,)
            ).rowcount
            counts["file_names"] += tx.execute(
                "UPDATE job_files SET name = '' WHERE job_id = ? AND name != ''", (job_id,)
            ).rowcount
            counts["details"] += tx.execute(
                "DELETE FROM event_details WHERE seq IN (SELECT seq FROM events WHERE job_id = ?)",
                (job_id,),
            ).rowcount
            counts["salts"] += tx.execute(
                "DELETE FROM job_salts WHERE job_id = ?", (job_id,)
            ).rowcount
        return counts

    def scrub(self) -> bool:
        """Move everything into the main file and empty the WAL, after an erasure.

        The WAL holds old page images, with the erased data, until a checkpoint copies the
        pages back.  Returns False when a reader kept the checkpoint from finishing.
        """
        with self._reading():
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(busy) == 0


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


def _event(r: Sequence[object]) -> Event:
    return Event(
        seq=int(str(r[0])),
        ts=str(r[1]),
        job_id=None if r[2] is None else int(str(r[2])),
        kind=str(r[3]),
        data=MappingProxyType(json.loads(str(r[4]))),
        hash=str(r[5]),
        detail=None if r[6] is None else str(r[6]),
    )


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


# SQLite's primary result codes (the low byte of ``sqlite_errorcode``).  Transient: the
# journal is busy or locked by another process, out of memory, read-only, its disk failed
# an I/O, is full, or the file cannot be opened now.  Fatal: the file is damaged.
_TRANSIENT_CODES: Final = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
_FATAL_CODES: Final = frozenset({11, 26})


def storage_error(path: Path, error: sqlite3.Error, doing: str) -> JournalError:
    """labd's error for a driver error: transient, fatal, or (a bug) plain JournalError."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = f"{doing}: {error}"
    if primary in _TRANSIENT_CODES:
        return JournalUnavailable(str(path), message)
    if primary in _FATAL_CODES:
        return JournalUnusable(
            str(path), f"{message}; restore it from a backup (see README, Troubleshooting)"
        )
    return JournalError(str(path), message)


def _check_access(path: Path, *, create: bool) -> None:
    """Say plainly when the journal is missing or this user may not open it."""
    try:
        path.stat()
    except PermissionError as e:
        raise AccessDenied(str(path), _ACCESS_HINT) from e
    except FileNotFoundError:
        if create:
            return
        raise JournalError(
            str(path), "does not exist; has labd run with this configuration?"
        ) from None
    # WAL needs write access to the file and its folder (the -shm and -wal files).
    if not (os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        raise AccessDenied(str(path), _ACCESS_HINT)


_ACCESS_HINT: Final = (
    "The journal belongs to the labd service: run the command as root or as the service's "
    "user (sudo -u labd labd ...)."
)


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) if needed; labd's spool and state are private."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077 and os.geteuid() == path.stat().st_uid:
        path.chmod(0o700)
