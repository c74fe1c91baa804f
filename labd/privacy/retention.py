"""Retention and erasure: a job's files and personal data go when they are no longer needed.

A job that finished (DONE), or whose input was refused (QUARANTINED) or cancelled (CANCELED),
is kept for its hot folder's retention period (``Config.retention_days``); then
:meth:`Retention.run_due` deletes its spool folder (inputs and outputs), its quarantine copies
and whatever CUPS still keeps of it, erases the personal data the journal holds of it, and
moves it to PURGED.  A legal hold on the job or its order stops that until released.
:meth:`Retention.erase` does the same at once, on a customer's request, for every job of an
order, and erases the order's media and waste texts too.

Crash safety: the intent to purge is committed first (``retention.purge_started``, a row
in ``retention_purges``), then files are deleted, then ``retention.purged`` and the move to
PURGED commit together.  Every step can be repeated; :meth:`Retention.run_due` finishes a
purge that a crash cut short before it looks for new ones.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar, Final, Protocol

import structlog

from labd import faults, spool
from labd.clock import Clock, isoformat, parse_timestamp
from labd.config import Config
from labd.errors import LabdError, PrintError, is_jobs_fault
from labd.journal import ComponentSchema, Journal, Tx, personal_ref
from labd.media import ledger as media
from labd.model import TRANSITIONS, Job, JobState
from labd.waste import ledger as waste

log = structlog.get_logger(__name__)

# Retention runs from the moment a job entered one of these.
RETAINED_STATES: Final = (JobState.DONE, JobState.QUARANTINED, JobState.CANCELED)
# Jobs still moving through the pipeline: erasing them would pull files from under it.
_ACTIVE: Final = frozenset(
    {
        JobState.DISCOVERED,
        JobState.CLAIMED,
        JobState.CONVERTED,
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.PRINTED,
    }
)

SCHEMA: Final = ComponentSchema(
    "retention",
    (
        (
            """CREATE TABLE retention_holds (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                job_id INTEGER REFERENCES jobs(id),
                placed_by TEXT NOT NULL,
                placed_at TEXT NOT NULL,
                released_by TEXT,
                released_at TEXT
            )""",
            # Personal: the order reference and the reason (a complaint may name people).
            """CREATE TABLE retention_hold_personal (
                hold_id INTEGER PRIMARY KEY REFERENCES retention_holds(id),
                order_ref TEXT,
                reason TEXT NOT NULL,
                salt BLOB NOT NULL
            )""",
            "CREATE INDEX retention_hold_order ON retention_hold_personal(order_ref)",
            # One row per purge begun: unfinished rows are what a crash left to do.
            """CREATE TABLE retention_purges (
                job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
                cause TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT
            )""",
        ),
    ),
)


class RetentionError(LabdError):
    """Retention: {}"""

    exit_code: ClassVar[int] = 30
    code: ClassVar[str] = "retention.error"


class ErasureRefused(RetentionError):
    """Erasure refused: {}"""

    exit_code: ClassVar[int] = 31
    code: ClassVar[str] = "erasure.refused"


class HoldNotFound(RetentionError):
    """No active legal hold {}."""

    exit_code: ClassVar[int] = 32
    code: ClassVar[str] = "retention.hold_not_found"


class CupsPurger(Protocol):
    """What retention needs of CUPS (:meth:`labd.printing.CupsClient.purge`)."""

    def purge(self, cups_job_id: int) -> bool:
        """Delete CUPS' files and history entry of a job; False if CUPS has no such job."""
        ...


@dataclass
class Deleted:
    """What one purge deleted: counts and sizes, never names."""

    spool_files: int = 0
    spool_bytes: int = 0
    quarantine_files: int = 0
    quarantine_bytes: int = 0
    cups_jobs: int = 0

    def as_data(self) -> dict[str, int]:
        """Event data."""
        return {
            "spool_files": self.spool_files,
            "spool_bytes": self.spool_bytes,
            "quarantine_files": self.quarantine_files,
            "quarantine_bytes": self.quarantine_bytes,
            "cups_jobs": self.cups_jobs,
        }


@dataclass
class Summary:
    """The outcome of one :meth:`Retention.run_due`."""

    purged: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)  # purges a crash had cut short
    held: list[int] = field(default_factory=list)  # due, but under a legal hold
    failed: list[int] = field(default_factory=list)  # tried again at the next run
    files: int = 0
    bytes: int = 0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "purged": self.purged,
            "resumed": self.resumed,
            "held": self.held,
            "failed": self.failed,
            "files": self.files,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Hold:
    """A legal hold: on one job, or on every job of an order."""

    id: int
    job_id: int | None
    order_ref: str | None  # personal
    reason: str | None  # personal
    placed_by: str
    placed_at: str
    released_by: str | None
    released_at: str | None


@dataclass(frozen=True)
class Due:
    """A job whose retention period has ended, or will."""

    job_id: int
    hotfolder: str
    state: JobState
    finished_at: str
    due_at: str
    held: bool


@dataclass(frozen=True)
class ErasurePlan:
    """What an erasure would delete (a dry run prints it)."""

    jobs: tuple[int, ...]
    purge: tuple[int, ...]  # jobs whose files go (the rest are PURGED or WITHDRAWN already)
    files: int
    bytes: int
    cups_jobs: int
    media_items: int
    waste_entries: int
    pending: tuple[int, ...] = ()  # purges begun but not finished (CUPS unreachable)


class Retention:
    """Deletes jobs' files and personal data when due, or on request; places legal holds."""

    def __init__(
        self, journal: Journal, config: Config, clock: Clock, cups: CupsPurger | None = None
    ) -> None:
        self.journal = journal
        self.config = config
        self.clock = clock
        self.cups = cups

    # -- retention -------------------------------------------------------------------------

    def due(self, *, until: datetime | None = None) -> list[Due]:
        """Finished jobs whose period has ended by ``until`` (default: now), oldest first."""
        limit = isoformat(until or self.clock.now())
        found = []
        for job in self.journal.jobs(RETAINED_STATES):
            due_at = self._due_at(job)
            if due_at <= limit:
                held = self._holds_of(job.id, job.order_ref) != []
                found.append(Due(job.id, job.hotfolder, job.state, job.updated_at, due_at, held))
        return sorted(found, key=lambda d: (d.due_at, d.job_id))

    def run_due(self, beat: Callable[[], None] = lambda: None) -> Summary:
        """Finish purges a crash cut short, then purge every job that is due and not held.

        Safe to call every minute: it does nothing when nothing is due.  A job that fails
        (CUPS unreachable, a file that will not go) is logged and tried again next time.
        """
        summary = Summary()
        for job_id, cause in self._unfinished():
            self._purge_logged(job_id, cause, summary, resumed=True)
            beat()
        for due in self.due():
            if due.held:
                summary.held.append(due.job_id)
                continue
            self._purge_logged(due.job_id, "retention", summary, resumed=False)
            beat()
        if summary.purged or summary.failed:
            log.info(
                "retention.run_done",
                purged=len(summary.purged),
                resumed=len(summary.resumed),
                held=len(summary.held),
                failed=len(summary.failed),
                files=summary.files,
                bytes=summary.bytes,
            )
        return summary

    def _purge_logged(self, job_id: int, cause: str, summary: Summary, *, resumed: bool) -> None:
        try:
            deleted = self.purge(job_id, cause=cause)
        except (PrintError, OSError, RetentionError) as e:
            # The intent is committed: the next run finishes this job.
            log.warning("retention.failed", job_id=job_id, cause=cause, error=str(e))
            summary.failed.append(job_id)
            return
        except Exception as e:
            if not is_jobs_fault(e):
                raise
            # One job's purge failing for a reason nobody foresaw stops no other purge; it
            # is tried again at the next run, and the journal says it failed.
            log.exception("retention.failed", job_id=job_id, cause=cause)
            self.journal.record(
                "retention.failed", {"cause": cause, "error": type(e).__name__}, job_id=job_id
            )
            summary.failed.append(job_id)
            return
        if deleted is None:
            return
        summary.purged.append(job_id)
        if resumed:
            summary.resumed.append(job_id)
        summary.files += deleted.spool_files + deleted.quarantine_files
        summary.bytes += deleted.spool_bytes + deleted.quarantine_bytes

    def purge(self, job_id: int, *, cause: str) -> Deleted | None:
        """Delete one job's files and personal data and move it to PURGED; None if it was.

        Each step may be repeated: the intent first, then the files, then the end.
        """
        job = self.journal.job(job_id)
        if job.state is JobState.PURGED:
            return None
        faults.raise_point("retention", job.entry)
        if JobState.PURGED not in TRANSITIONS[job.state]:
            raise RetentionError(f"job {job_id} is {job.state.value} and cannot be purged")
        spool, quarantined = self._spool_of(job), self._quarantine_of(job)
        with self.journal.transaction() as tx:
            begun = tx.execute(
                "INSERT OR IGNORE INTO retention_purges (job_id, cause, started_at) "
                "VALUES (?, ?, ?)",
                (job_id, cause, tx.now()),
            )
            if begun:
                planned = _measure([spool, *quarantined])
                tx.event(
                    "retention.purge_started",
                    {"cause": cause, "files": planned[0], "bytes": planned[1]},
                    job_id=job_id,
                )
        if begun:
            log.info("retention.purge_started", job_id=job_id, cause=cause)
        deleted = Deleted()
        deleted.spool_files, deleted.spool_bytes = _remove(spool)
        for path in quarantined:
            files, size = _remove(path)
            deleted.quarantine_files += files
            deleted.quarantine_bytes += size
        deleted.cups_jobs = self._purge_cups(job_id)
        with self.journal.transaction() as tx:
            self.journal.erase_personal(tx, [job_id])
            if not self.journal.purged_in(tx, job_id, cause=cause):
                return None  # another process finished it meanwhile
            tx.event("retention.purged", {"cause": cause, **deleted.as_data()}, job_id=job_id)
            tx.execute(
                "UPDATE retention_purges SET finished_at = ? WHERE job_id = ?",
                (tx.now(), job_id),
            )
        log.info("retention.purged", job_id=job_id, cause=cause, **deleted.as_data())
        return deleted

    def _due_at(self, job: Job) -> str:
        finished = parse_timestamp(job.updated_at)
        return isoformat(finished + timedelta(days=self.config.retention_days(job.hotfolder)))

    def _unfinished(self) -> list[tuple[int, str]]:
        rows = self.journal.query(
            "SELECT job_id, cause FROM retention_purges WHERE finished_at IS NULL ORDER BY job_id"
        )
        return [(int(str(r[0])), str(r[1])) for r in rows]

    def _spool_of(self, job: Job) -> Path:
        return spool.folder_to_delete(self.config.spool_dir, job)

    def _quarantine_of(self, job: Job) -> list[Path]:
        folder = self.config.quarantine_dir / job.hotfolder
        try:
            return sorted(p for p in folder.iterdir() if p.name.startswith(f"{job.id}-"))
        except FileNotFoundError:
            return []

    def _purge_cups(self, job_id: int) -> int:
        ids = {o.cups_job_id for o in self.journal.outputs(job_id) if o.cups_job_id is not None}
        ids |= self.journal.printing.superseded(job_id)
        if not ids or self.cups is None:
            return 0
        return sum(1 for cups_job_id in sorted(ids) if self.cups.purge(cups_job_id))

    # -- legal holds ------------------------------------------------------------------------

    def hold(
        self, *, job_id: int | None = None, order_ref: str | None = None, by: str, reason: str
    ) -> Hold:
        """Stop the deletion of a job, or of every job of an order (also later ones)."""
        if (job_id is None) == (order_ref is None):
            raise RetentionError("a hold is on one job or on one order")
        if not reason.strip():
            raise RetentionError("a hold needs a reason")
        if job_id is not None:
            self.journal.job(job_id)  # raises JobNotFound
        salt = os.urandom(16)
        with self.journal.transaction() as tx:
            hold_id = tx.insert(
                "INSERT INTO retention_holds (job_id, placed_by, placed_at) VALUES (?, ?, ?) "
                "RETURNING id",
                (job_id, by, tx.now()),
            )
            tx.execute(
                "INSERT INTO retention_hold_personal (hold_id, order_ref, reason, salt) "
                "VALUES (?, ?, ?, ?)",
                (hold_id, order_ref, reason, salt),
            )
            data: dict[str, object] = {"hold": hold_id, "by": by}
            if order_ref is not None:
                # The event refers to the order by a salted hash; the salt is erased with it.
                data["order_hash"] = personal_ref(salt, order_ref)
                data["jobs"] = self.journal.jobs_of_order(order_ref)
            tx.event("retention.hold_placed", data, job_id=job_id, detail=reason)
        log.info("retention.hold_placed", hold=hold_id, job_id=job_id, by=by)
        return self.holds_by_id(int(hold_id or 0))

    def release(
        self,
        *,
        hold_id: int | None = None,
        job_id: int | None = None,
        order_ref: str | None = None,
        by: str,
        reason: str,
    ) -> list[Hold]:
        """Release a hold (by its number, or every active one of a job or an order)."""
        active = [
            h
            for h in self.holds()
            if (hold_id is not None and h.id == hold_id)
            or (job_id is not None and h.job_id == job_id)
            or (order_ref is not None and h.order_ref == order_ref)
        ]
        if not active:
            raise HoldNotFound(
                hold_id if hold_id is not None else f"on {job_id or 'order ' + str(order_ref)}"
            )
        with self.journal.transaction() as tx:
            for h in active:
                tx.execute(
                    "UPDATE retention_holds SET released_by = ?, released_at = ? WHERE id = ?",
                    (by, tx.now(), h.id),
                )
                tx.event(
                    "retention.hold_released", {"hold": h.id, "by": by}, job_id=h.job_id,
                    detail=reason,
                )  # fmt: skip
        log.info("retention.hold_released", holds=[h.id for h in active], by=by)
        return [self.holds_by_id(h.id) for h in active]

    def holds(self, *, include_released: bool = False) -> list[Hold]:
        """Legal holds, active ones only unless asked."""
        sql = (
            "SELECT h.id, h.job_id, p.order_ref, p.reason, h.placed_by, h.placed_at, "
            "h.released_by, h.released_at FROM retention_holds h "
            "LEFT JOIN retention_hold_personal p ON p.hold_id = h.id"
        )
        if not include_released:
            sql += " WHERE h.released_at IS NULL"
        return [_hold(r) for r in self.journal.query(sql + " ORDER BY h.id")]

    def holds_by_id(self, hold_id: int) -> Hold:
        """One hold, active or released."""
        for h in self.holds(include_released=True):
            if h.id == hold_id:
                return h
        raise HoldNotFound(hold_id)

    def _holds_of(self, job_id: int, order_ref: str | None) -> list[Hold]:
        return [
            h
            for h in self.holds()
            if h.job_id == job_id or (order_ref is not None and h.order_ref == order_ref)
        ]

    # -- erasure ----------------------------------------------------------------------------

    def plan(self, *, order_ref: str | None = None, job_id: int | None = None) -> ErasurePlan:
        """What erasing an order or a job would delete; refuses what may not be erased."""
        jobs = self._erasure_jobs(order_ref, job_id)
        purge, files, size, cups_jobs = [], 0, 0, 0
        for jid in jobs:
            job = self.journal.job(jid)
            if job.state in _ACTIVE:
                raise ErasureRefused(
                    f"job {jid} is {job.state.value}, still being printed; "
                    "wait until it is DONE, or `labd cancel` it first"
                )
            if self._holds_of(jid, job.order_ref):
                raise ErasureRefused(
                    f"job {jid} is under a legal hold; `labd release` it first "
                    "(a hold keeps data needed for a legal claim)"
                )
            if JobState.PURGED in TRANSITIONS[job.state]:
                purge.append(jid)
                n, b = _measure([self._spool_of(job), *self._quarantine_of(job)])
                files, size = files + n, size + b
                cups_jobs += len({o.cups_job_id for o in self.journal.outputs(jid)} - {None})
        items = media.MediaLedger(self.journal).count_of(jobs=jobs, order=order_ref)
        entries = waste.WasteLedger(self.journal).count_of(jobs=jobs)
        return ErasurePlan(tuple(jobs), tuple(purge), files, size, cups_jobs, items, entries)

    def erase(
        self, *, order_ref: str | None = None, job_id: int | None = None, by: str, request: str
    ) -> ErasurePlan:
        """Erase an order's or a job's files and personal data; keep a tombstone.

        The tombstone event (``erasure.requested``) says which jobs, when, by whom and on
        which request; ``request`` must be a reference (a ticket number), not a name: it is
        chained and never erased.
        """
        if not by.strip() or not request.strip():
            raise ErasureRefused("--by and --request are required")
        plan = self.plan(order_ref=order_ref, job_id=job_id)
        with self.journal.transaction() as tx:
            counts = self.journal.erase_personal(tx, plan.jobs)
            counts.update(media.erase_personal(tx, order_ref=order_ref, job_ids=plan.jobs))
            counts.update(waste.erase_personal(tx, plan.jobs))
            counts["holds"] = self._erase_holds(tx, order_ref, plan.jobs)
            for jid in plan.purge:
                tx.execute(
                    "INSERT OR IGNORE INTO retention_purges (job_id, cause, started_at) "
                    "VALUES (?, 'erasure', ?)",
                    (jid, tx.now()),
                )
            tx.event(
                "erasure.requested",
                {
                    "jobs": list(plan.jobs),
                    "by_order": order_ref is not None,
                    "by": by,
                    "request": request,
                    "files": plan.files,
                    "bytes": plan.bytes,
                    **counts,
                },
            )
        log.info("erasure.requested", jobs=list(plan.jobs), by=by, files=plan.files)
        pending = []
        for jid in plan.purge:
            try:
                self.purge(jid, cause="erasure")
            except (PrintError, OSError) as e:
                # The purge stays begun: run_due (or erasing again) finishes it.
                log.warning("erasure.pending", job_id=jid, error=str(e))
                pending.append(jid)
        plan = replace(plan, pending=tuple(pending))
        self.journal.record("erasure.done", {"jobs": list(plan.jobs), "by": by})
        if not self.journal.scrub():
            log.warning("erasure.wal_busy", jobs=list(plan.jobs))
        log.info("erasure.done", jobs=list(plan.jobs), by=by)
        return plan

    def _erasure_jobs(self, order_ref: str | None, job_id: int | None) -> list[int]:
        if (order_ref is None) == (job_id is None):
            raise ErasureRefused("name an order (--order) or a job (--job)")
        if job_id is not None:
            self.journal.job(job_id)
            return [job_id]
        assert order_ref is not None  # noqa: S101  # checked above, for mypy
        jobs = self.journal.jobs_of_order(order_ref)
        if not jobs and not media.MediaLedger(self.journal).items(order=order_ref):
            raise ErasureRefused(
                "no job or media item has that order reference (erased already, or a typo?)"
            )
        return jobs

    def _erase_holds(self, tx: Tx, order_ref: str | None, jobs: Sequence[int]) -> int:
        erased = 0
        if order_ref is not None:
            erased += tx.execute(
                "DELETE FROM retention_hold_personal WHERE order_ref = ?", (order_ref,)
            )
        for jid in jobs:
            erased += tx.execute(
                "DELETE FROM retention_hold_personal WHERE hold_id IN "
                "(SELECT id FROM retention_holds WHERE job_id = ?)",
                (jid,),
            )
        return erased


def _hold(r: Sequence[object]) -> Hold:
    def opt(v: object) -> str | None:
        return None if v is None else str(v)

    return Hold(
        id=int(str(r[0])),
        job_id=None if r[1] is None else int(str(r[1])),
        order_ref=opt(r[2]),
        reason=opt(r[3]),
        placed_by=str(r[4]),
        placed_at=str(r[5]),
        released_by=opt(r[6]),
        released_at=opt(r[7]),
    )


def _measure(paths: Sequence[Path]) -> tuple[int, int]:
    """Files and bytes under ``paths``, links counted as files and never followed."""
    files = size = 0
    for path in paths:
        if path.is_symlink() or path.is_file():
            files, size = files + 1, size + path.lstat().st_size
            continue
        for folder, dirs, names in os.walk(path):
            for name in [*names, *(d for d in dirs if (Path(folder) / d).is_symlink())]:
                files, size = files + 1, size + (Path(folder) / name).lstat().st_size
    return files, size


def _remove(path: Path) -> tuple[int, int]:
    """Delete a file or a folder tree; return what it held.  Missing: (0, 0)."""
    measured = _measure([path])
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return 0, 0
    return measured
