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
from labd.model import TRANSITIONS, Event, JobState
from labd.privacy.holds import LegalHolds
from labd.privacy.model import ErasurePlan, ErasureRefused
from labd.privacy.purge import Purger
from labd.store import chain
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
            tombstone = tx.event(
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
        pending: list[int] = []
        elsewhere: dict[str, list[int]] = {}
        for jid in plan.purge:
            job = self.journal.job(jid)
            if not self.journal.holds_files_of(job):
                # Another node has its files: its next retention pass purges it.
                elsewhere.setdefault(job.node or "?", []).append(jid)
                continue
            try:
                self.purger.purge(jid, cause="erasure")
            except (PrintError, OSError) as e:
                # The purge stays begun: run_due (or erasing again) finishes it.
                log.warning("erasure.pending", job_id=jid, error=str(e))
                pending.append(jid)
        plan = replace(
            plan,
            pending=tuple(pending),
            elsewhere={node: tuple(jobs) for node, jobs in sorted(elsewhere.items())},
            request=tombstone,
        )
        self.complete()
        if not self.journal.scrub():
            log.warning("erasure.wal_busy", jobs=list(plan.jobs))
        return plan

    def complete(self) -> list[int]:
        """Close every erasure whose jobs have all been purged, on whichever node: its
        ``erasure.done`` event names the request.  Returns the requests closed now.

        Called after an erasure and after each retention pass on every node; the check
        and the event are one transaction, so two nodes never close one request twice.
        """
        if not self.open_requests():
            return []
        closed = []
        with self.journal.transaction() as tx:
            for request in self.open_requests():
                jobs = _jobs_of(request)
                if self.purger.pending(jobs):
                    continue
                by = request.data.get("by")
                tx.event("erasure.done", {"request": request.seq, "jobs": jobs, "by": by})
                log.info("erasure.done", request=request.seq, jobs=jobs, by=by)
                closed.append(request.seq)
        return closed

    def open_requests(self) -> list[Event]:
        """Erasures requested and not yet done (a node still has files to delete)."""
        found = chain.find(self.journal.store, kinds=("erasure.requested", "erasure.done"))
        open_: dict[int, Event] = {}
        for event in found:
            if event.kind == "erasure.requested":
                open_[event.seq] = event
                continue
            request = event.data.get("request")
            if isinstance(request, int):
                open_.pop(request, None)
                continue
            # Written before erasures could span nodes: done at once, for the latest
            # request of the same jobs.
            jobs = event.data.get("jobs")
            same = [seq for seq, r in open_.items() if r.data.get("jobs") == jobs]
            if same:
                open_.pop(max(same))
        return list(open_.values())

    def outstanding(self, request: int) -> dict[str, list[int]]:
        """The jobs of an erasure whose files a node still has to delete: node -> jobs."""
        requested = chain.find(self.journal.store, kinds=("erasure.requested",))
        jobs = [j for e in requested if e.seq == request for j in _jobs_of(e)]
        left: dict[str, list[int]] = {}
        for jid in self.purger.pending(jobs):
            left.setdefault(self.journal.job(jid).node or "?", []).append(jid)
        return left

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


def _jobs_of(request: Event) -> list[int]:
    """The jobs an ``erasure.requested`` event names."""
    jobs = request.data.get("jobs")
    return [j for j in jobs if isinstance(j, int)] if isinstance(jobs, list) else []
