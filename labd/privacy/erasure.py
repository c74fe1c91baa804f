"""Erasure on a customer's request: every job of an order, or one job, at once.

Unlike the retention schedule, erasure does not wait for a period to end and also takes the
order's media and waste texts and the personal part of its legal holds.  It refuses a job
still being printed and a job under a legal hold.  What stays is a tombstone
(``erasure.requested``) that says which jobs, when, by whom and on which request, and holds
no personal data.  A purge that cannot finish now (CUPS unreachable) stays begun: the next
retention run, or erasing again, finishes it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import structlog

from labd.errors import PrintError
from labd.journal import Journal
from labd.media import ledger as media
from labd.model import TRANSITIONS, JobState
from labd.privacy.holds import LegalHolds
from labd.privacy.model import ErasurePlan, ErasureRefused
from labd.privacy.purge import Purger
from labd.waste import ledger as waste

log = structlog.get_logger(__name__)

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


class Erasure:
    """Plans and carries out the erasure of an order or a job, leaving a tombstone."""

    def __init__(self, journal: Journal, holds: LegalHolds, purger: Purger) -> None:
        self.journal = journal
        self.holds = holds
        self.purger = purger

    def plan(self, *, order_ref: str | None = None, job_id: int | None = None) -> ErasurePlan:
        """What erasing an order or a job would delete; refuses what may not be erased."""
        jobs = self._jobs(order_ref, job_id)
        purge, files, size, cups_jobs = [], 0, 0, 0
        for jid in jobs:
            job = self.journal.job(jid)
            if job.state in _ACTIVE:
                raise ErasureRefused(
                    f"job {jid} is {job.state.value}, still being printed; "
                    "wait until it is DONE, or `labd cancel` it first"
                )
            if self.holds.on_job(jid, job.order_ref):
                raise ErasureRefused(
                    f"job {jid} is under a legal hold; `labd release` it first "
                    "(a hold keeps data needed for a legal claim)"
                )
            if JobState.PURGED in TRANSITIONS[job.state]:
                purge.append(jid)
                n, b = self.purger.measure(job)
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
            counts["holds"] = self.holds.erase_personal(tx, order_ref, plan.jobs)
            for jid in plan.purge:
                self.purger.begin(tx, jid, cause="erasure")
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
                self.purger.purge(jid, cause="erasure")
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

    def _jobs(self, order_ref: str | None, job_id: int | None) -> list[int]:
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
