"""The job life cycle, journaled: each step one transaction with its chained event.

A state change returned from here is on disk before the side effect that depends on it.
Every move is checked against :data:`labd.model.TRANSITIONS`; the printing steps are
``journal.printing`` (:mod:`labd.journal.printing`), what is noted beside the state
``journal.notes`` (:mod:`labd.journal.notes`), the reads :class:`JournalView`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from labd import spool
from labd.clock import Clock
from labd.errors import (
    INTERNAL_RULE,
    IllegalTransition,
    JobNotFound,
    unexpected_reason,
)
from labd.journal.notes import JobNotes
from labd.journal.printing import PrintSteps
from labd.journal.schema import MIGRATIONS, PRINTING_SCHEMA
from labd.journal.view import (
    JournalView,
)
from labd.model import TRANSITIONS, Job, JobKind, JobState
from labd.store import BUSY_TIMEOUT_MS, Schema, Store, StoreLocation, Tx, chain, open_store

__all__ = ["Discovery", "Journal", "ensure_private_dir", "fail_job"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Discovery:
    """An entry of a hot folder about to be claimed."""

    hotfolder: str
    kind: JobKind
    entry: str
    technician: str
    source_inode: int


class Journal(JournalView):
    """labd's journal of jobs, on a :class:`~labd.store.Store`.  Thread-safe."""

    def __init__(self, store: Store, node: str | None = None) -> None:
        super().__init__(store, node)
        self.printing = PrintSteps(self)
        self.notes = JobNotes(self)

    @classmethod
    def open(
        cls,
        path: StoreLocation,
        clock: Clock | None = None,
        *,
        create: bool = True,
        migrate: bool = True,
        schemas: Sequence[Schema] = (),
        busy_timeout_ms: int | None = None,
        node: str | None = None,
    ) -> Journal:
        """Open (and create, and migrate) the journal at ``path``.

        Its tables and printing's, and those of ``schemas``: labd opens it through
        :func:`labd.schemas.open_journal`, with every component's.  ``migrate=False``
        (the commands): a journal whose schema is not the code's is refused.
        """
        wanted = (PRINTING_SCHEMA, *(s for s in schemas if s is not PRINTING_SCHEMA))
        store = open_store(
            path,
            clock,
            core=MIGRATIONS,
            schemas=wanted,
            create=create,
            migrate=migrate,
            busy_timeout_ms=BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms,
        )
        return cls(store, node)

    def __enter__(self) -> Journal:
        return self

    # -- the store's plumbing, for components that keep their own tables ------------------------

    def ensure_schema(self, schema: Schema) -> None:
        """Create or migrate a component's tables; cheap when they are current."""
        self.store.ensure_schema(schema)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction for a component: ``with journal.transaction() as tx: ...``."""
        with self.store.transaction() as tx:
            yield tx

    def relaxed(self) -> AbstractContextManager[None]:
        """Commits in this block skip their fsync: see :meth:`Store.relaxed`."""
        return self.store.relaxed()

    def batch(self) -> AbstractContextManager[None]:
        """Every write in this block commits at its end: see :meth:`Store.batch`."""
        return self.store.batch()

    def scrub(self) -> bool:
        """Empty the WAL after an erasure: see :meth:`Store.scrub`."""
        return self.store.scrub()

    # -- the state machine ----------------------------------------------------------------------

    def state_in(self, tx: Tx, job_id: int) -> JobState:
        """The job's state within ``tx``."""
        row = tx.one("SELECT state FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise JobNotFound(job_id)
        return JobState(row.text("state"))

    def move_in(
        self,
        tx: Tx,
        job_id: int,
        to: JobState,
        *,
        rule: str | None = None,
        reason: str | None = None,
        data: Mapping[str, object] | None = None,
        current: JobState | None = None,
    ) -> None:
        """Move the job to ``to`` within ``tx``, if the life cycle allows it, with its event.

        ``current``: the job's state as the caller read it in ``tx`` (else read here).
        """
        if current is None:
            current = self.state_in(tx, job_id)
        if to not in TRANSITIONS[current]:
            raise IllegalTransition(job_id, current.value, to.value)
        tx.write(
            "UPDATE jobs SET state = ?, rule = ?, updated_at = ? WHERE id = ?",
            (to.value, rule, self.store.now(), job_id),
        )
        tx.write("UPDATE job_personal SET reason = ? WHERE job_id = ?", (reason, job_id))
        payload: dict[str, object] = {"from": current.value, "to": to.value, **(data or {})}
        if rule is not None:
            payload["rule"] = rule
        tx.event("job.state_changed", payload, job_id=job_id, detail=reason)

    def _step(
        self,
        job_id: int,
        to: JobState,
        *,
        rule: str | None = None,
        reason: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        with self.store.transaction() as tx:
            self.move_in(tx, job_id, to, rule=rule, reason=reason, data=data)

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
        now = self.store.now()
        ids = []
        with self.store.transaction() as tx:
            for d in found:
                job_id = tx.insert(
                    "INSERT INTO jobs (hotfolder, kind, state, technician, spool, source_inode, "
                    "created_at, updated_at, node) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?) "
                    "RETURNING id",
                    (d.hotfolder, d.kind.value, JobState.DISCOVERED.value, d.technician,
                     d.source_inode, now, now, self.node),
                )  # fmt: skip
                tx.execute(
                    "UPDATE jobs SET spool = ? WHERE id = ?",
                    (str(spool.job_folder(spool_root, job_id)), job_id),
                )
                tx.execute(
                    "INSERT INTO job_personal (job_id, entry) VALUES (?, ?)", (job_id, d.entry)
                )
                tx.event(
                    "job.discovered",
                    {"hotfolder": d.hotfolder, "kind": d.kind.value, "technician": d.technician},
                    job_id=job_id,
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
                self.move_in(
                    tx,
                    job_id,
                    JobState.CLAIMED,
                    data={"files": len(files), "bytes": sum(s for _, s in files)},
                )

    def withdrawn(self, job_id: int) -> None:
        """The files left the hot folder before labd could claim them."""
        self._step(job_id, JobState.WITHDRAWN)

    def converted(
        self,
        job_id: int,
        outputs: Sequence[tuple[str, int | None]],
        queue: str,
        *,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """Print-ready outputs written: (path relative to the spool folder, source file seq).

        ``data`` goes into the event too: the effective resolution of each file (``ppi``,
        in file order, and the product's ``dpi``), which ``labd jobs N`` shows.
        """
        with self.store.transaction() as tx:
            # A conversion cut short and run again replaces what the first run recorded.
            tx.execute("DELETE FROM job_outputs WHERE job_id = ?", (job_id,))
            tx.executemany(
                "INSERT INTO job_outputs (job_id, seq, path, source_seq, cups_queue) "
                "VALUES (?, ?, ?, ?, ?)",
                [(job_id, seq, path, src, queue) for seq, (path, src) in enumerate(outputs, 1)],
            )
            self.move_in(
                tx, job_id, JobState.CONVERTED, data={"outputs": len(outputs), **(data or {})}
            )

    def quarantined(self, job_id: int, *, rule: str, reason: str) -> None:
        """Bad input: the job's files were moved to quarantine; nothing is printed."""
        self._step(job_id, JobState.QUARANTINED, rule=rule, reason=reason)

    def held(self, job_id: int, *, rule: str, reason: str) -> None:
        """Printer or CUPS trouble: the job waits for a retry or a technician."""
        self._step(job_id, JobState.HELD, rule=rule, reason=reason)

    def resume(self, job_id: int, to: JobState) -> None:
        """Take a held job back into the life cycle at ``to``."""
        self._step(job_id, to)

    def printed(self, job_id: int, **data: object) -> None:
        """CUPS reports every output completed."""
        self._step(job_id, JobState.PRINTED, data=data)

    def done(self, job_id: int, **data: object) -> None:
        """The job is finished; its retention period runs from now."""
        self._step(job_id, JobState.DONE, data=data)

    def finished(self, job_id: int, *, current: JobState | None = None, **data: object) -> None:
        """CUPS completed every output: PRINTED (with ``data``), then DONE, in one commit.

        ``current``: the job's state as read in the running batch (else read here).
        """
        with self.store.transaction() as tx:
            self.move_in(tx, job_id, JobState.PRINTED, data=data, current=current)
            self.move_in(tx, job_id, JobState.DONE, current=JobState.PRINTED)

    def uncertain(self, job_id: int, *, rule: str, reason: str) -> None:
        """CUPS cannot prove whether the job printed: a supervisor decides."""
        self._step(job_id, JobState.UNCERTAIN, rule=rule, reason=reason)

    def canceled(self, job_id: int, *, by: str, cups_job_ids: Sequence[int]) -> None:
        """A technician cancelled the job (and these CUPS jobs of it)."""
        self._step(
            job_id,
            JobState.CANCELED,
            rule="print.canceled_by_technician",
            data={"by": by, "cups_job_ids": list(cups_job_ids)},
        )

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
            return tx.event(kind, data, job_id=job_id, detail=detail)

    # -- personal data: salts and erasure -------------------------------------------------------

    def salt_in(self, tx: Tx, job_id: int) -> bytes:
        """The job's salt within a transaction, made on first use."""
        row = tx.one("SELECT salt FROM job_salts WHERE job_id = ?", (job_id,))
        if row is not None:
            return row.blob("salt")
        salt = secrets.token_bytes(16)
        tx.execute("INSERT INTO job_salts (job_id, salt) VALUES (?, ?)", (job_id, salt))
        return salt

    def purged_in(self, tx: Tx, job_id: int, **data: object) -> bool:
        """Move the job to PURGED within ``tx``; False if it is PURGED already."""
        if self.state_in(tx, job_id) is JobState.PURGED:
            return False
        self.move_in(tx, job_id, JobState.PURGED, data=data)
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
