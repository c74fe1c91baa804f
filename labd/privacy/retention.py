"""Retention and erasure: a job's files and personal data go when they are no longer needed.

A job that finished (DONE), or whose input was refused (QUARANTINED) or cancelled (CANCELED),
is kept for its hot folder's retention period (``Config.retention_days``); then
:meth:`Retention.run_due` purges it (:mod:`labd.privacy.purge`: its spool folder, its
quarantine copies, whatever CUPS still keeps of it and the personal data the journal holds
of it) and moves it to PURGED.  A legal hold (:mod:`labd.privacy.holds`) on the job or its
order stops that until released.  :meth:`Retention.erase` (:mod:`labd.privacy.erasure`)
does the same at once, on a customer's request, for every job of an order.

This module is the schedule, and the one object the daemon and the command line hold: the
holds, the purge of one job and erasure are its collaborators, reached through it.  The
tables of all of them are declared here, once (:data:`SCHEMA`, registered by
:mod:`labd.schemas`).  :meth:`Retention.run_due` finishes a purge that a crash cut short
before it looks for new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

import structlog

from labd.clock import Clock, isoformat, parse_timestamp
from labd.config import Config
from labd.errors import PrintError, is_jobs_fault
from labd.journal import ComponentSchema, Journal
from labd.model import Job
from labd.privacy.erasure import Erasure
from labd.privacy.holds import LegalHolds
from labd.privacy.model import (
    RETAINED_STATES,
    CupsPurger,
    Deleted,
    Due,
    ErasurePlan,
    ErasureRefused,
    Hold,
    HoldNotFound,
    RetentionError,
    Summary,
)
from labd.privacy.purge import Purger

# Callers import these from here, where they were defined before the package was split.
__all__ = [
    "RETAINED_STATES",
    "SCHEMA",
    "CupsPurger",
    "Deleted",
    "Due",
    "ErasurePlan",
    "ErasureRefused",
    "Hold",
    "HoldNotFound",
    "Retention",
    "RetentionError",
    "Summary",
]

log = structlog.get_logger(__name__)

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


class Retention:
    """Deletes jobs' files and personal data when due, or on request; places legal holds."""

    def __init__(
        self, journal: Journal, config: Config, clock: Clock, cups: CupsPurger | None = None
    ) -> None:
        self.journal = journal
        self.config = config
        self.clock = clock
        self.cups = cups
        self.legal_holds = LegalHolds(journal)
        self.purger = Purger(journal, config, cups)
        self.erasure = Erasure(journal, self.legal_holds, self.purger)

    # -- the schedule ----------------------------------------------------------------------

    def due(self, *, until: datetime | None = None) -> list[Due]:
        """Finished jobs whose period has ended by ``until`` (default: now), oldest first."""
        limit = isoformat(until or self.clock.now())
        found = []
        for job in self.journal.jobs(RETAINED_STATES):
            due_at = self._due_at(job)
            if due_at <= limit:
                held = self.legal_holds.on_job(job.id, job.order_ref) != []
                found.append(Due(job.id, job.hotfolder, job.state, job.updated_at, due_at, held))
        return sorted(found, key=lambda d: (d.due_at, d.job_id))

    def run_due(self, beat: Callable[[], None] = lambda: None) -> Summary:
        """Finish purges a crash cut short, then purge every job that is due and not held.

        Safe to call every minute: it does nothing when nothing is due.  A job that fails
        (CUPS unreachable, a file that will not go) is logged and tried again next time.
        """
        summary = Summary()
        for job_id, cause in self.purger.unfinished():
            self._purge_logged(job_id, cause, summary, resumed=True)
            beat()
        for due in self.due():
            if due.held:
                summary.held.append(due.job_id)
                continue
            self._purge_logged(due.job_id, "retention", summary, resumed=False)
            beat()
        # Erasures whose last job this pass purged (on this node or the last of several).
        self.erasure.complete()
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

    def _due_at(self, job: Job) -> str:
        finished = parse_timestamp(job.updated_at)
        return isoformat(finished + timedelta(days=self.config.retention_days(job.hotfolder)))

    # -- the collaborators, as the daemon, the command line and the report know them -------

    def purge(self, job_id: int, *, cause: str) -> Deleted | None:
        """Purge one job now: see :meth:`labd.privacy.purge.Purger.purge`."""
        return self.purger.purge(job_id, cause=cause)

    def hold(
        self, *, job_id: int | None = None, order_ref: str | None = None, by: str, reason: str
    ) -> Hold:
        """Stop the deletion of a job, or of every job of an order (also later ones)."""
        return self.legal_holds.place(job_id=job_id, order_ref=order_ref, by=by, reason=reason)

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
        return self.legal_holds.release(
            hold_id=hold_id, job_id=job_id, order_ref=order_ref, by=by, reason=reason
        )

    def holds(self, *, include_released: bool = False) -> list[Hold]:
        """Legal holds, active ones only unless asked."""
        return self.legal_holds.holds(include_released=include_released)

    def holds_by_id(self, hold_id: int) -> Hold:
        """One hold, active or released."""
        return self.legal_holds.by_id(hold_id)

    def plan(self, *, order_ref: str | None = None, job_id: int | None = None) -> ErasurePlan:
        """What erasing an order or a job would delete; refuses what may not be erased."""
        return self.erasure.plan(order_ref=order_ref, job_id=job_id)

    def erase(
        self, *, order_ref: str | None = None, job_id: int | None = None, by: str, request: str
    ) -> ErasurePlan:
        """Erase an order's or a job's files and personal data; keep a tombstone
        (:meth:`labd.privacy.erasure.Erasure.erase`)."""
        return self.erasure.erase(order_ref=order_ref, job_id=job_id, by=by, request=request)
