"""After a restart, before anything is submitted: what does CUPS already have?

Every job that was submitting or submitted is matched against CUPS' whole job history, so
that an output CUPS took just before a crash is recorded, not sent again; what cannot be
told either way becomes UNCERTAIN, for a supervisor.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from labd.clock import epoch
from labd.errors import PrintError, is_jobs_fault
from labd.journal import fail_job
from labd.model import Job, JobOutput, JobState
from labd.printing.context import PrintContext
from labd.printing.cups import CupsJobStatus
from labd.printing.submit import Submitter

log = structlog.get_logger(__name__)


@dataclass
class Reconciler:
    """Reconciles the journal with CUPS' history at a start."""

    ctx: PrintContext
    submitter: Submitter

    def recover(self) -> list[int]:
        """Jobs to carry on after a restart, oldest first; PRINTED jobs are finished here.

        Reconciliation with CUPS' history runs first, so nothing is submitted before labd
        knows what CUPS already has.
        """
        for job in self.ctx.journal.jobs([JobState.PRINTED]):
            self.ctx.journal.done(job.id)
        self.reconcile()
        pending = self.ctx.journal.jobs([JobState.CLAIMED, JobState.CONVERTED, JobState.SUBMITTING])
        return sorted(j.id for j in pending)

    def reconcile(self) -> None:
        """Match every submitting or submitted job against CUPS' whole job history.

        Found → recorded; not found while CUPS remembers jobs from before the submit intent
        → left to submit; cannot tell (an id CUPS does not know, a history that starts
        after the intent: purged, or CUPS reinstalled) → UNCERTAIN, for a supervisor.
        """
        jobs = sorted(
            self.ctx.journal.jobs([JobState.SUBMITTING, JobState.SUBMITTED]), key=lambda j: j.id
        )
        if not jobs:
            return
        try:
            history = self.ctx.cups.history()
        except PrintError as e:
            # submit() asks CUPS again for each output before sending it a second time.
            log.warning("print.reconcile_deferred", problem=e.problem, jobs=len(jobs))
            return
        by_id = {s.job_id: s for s in history}
        oldest = min((s.created for s in history if s.created is not None), default=None)
        for job in jobs:
            try:
                self._reconcile_job(job, history, by_id, oldest)
            except Exception as e:
                # One job that cannot be reconciled must not keep labd from starting.
                if not is_jobs_fault(e):
                    raise
                fail_job(
                    self.ctx.journal, job.id, e, doing="reconciling it with CUPS after a restart"
                )
        log.info("print.reconciled_all", jobs=len(jobs), cups_history=len(history))

    def _reconcile_job(
        self,
        job: Job,
        history: list[CupsJobStatus],
        by_id: dict[int, CupsJobStatus],
        oldest: int | None,
    ) -> None:
        superseded = self.ctx.journal.printing.superseded(job.id)
        for out in self.ctx.journal.outputs(job.id):
            problem = self._reconcile_output(
                job, out, history=history, by_id=by_id, oldest=oldest, superseded=superseded
            )
            if problem is not None:
                self.ctx.journal.uncertain(job.id, rule="print.history_lost", reason=problem)
                log.error("print.uncertain", job_id=job.id, seq=out.seq, problem=problem)
                return

    def _reconcile_output(
        self,
        job: Job,
        out: JobOutput,
        *,
        history: list[CupsJobStatus],
        by_id: dict[int, CupsJobStatus],
        oldest: int | None,
        superseded: set[int],
    ) -> str | None:
        """Reconcile one output; return why it is uncertain, or None."""
        if out.cups_job_id is not None:
            known = by_id.get(out.cups_job_id)
            if known is None or known.name not in ("", out.cups_title):
                return (
                    f"CUPS at {self.ctx.cups.where} has no job {out.cups_job_id} "
                    f"({out.cups_title}): its history was purged or CUPS was reinstalled"
                )
            return None
        if out.submit_intent_at is None:
            return None
        cups_id = self.submitter.match(job, out, history, superseded)
        if cups_id is not None:
            self.ctx.journal.printing.submitted(job.id, out.seq, cups_id)
            return None
        if oldest is not None and oldest <= epoch(out.submit_intent_at):
            log.info("print.not_in_cups", job_id=job.id, seq=out.seq)
            return None  # CUPS would remember it: it never got it
        return (
            f"{out.cups_title} is not in CUPS' history at {self.ctx.cups.where}, and that "
            "history does not reach back to the submit intent (purged, or CUPS reinstalled)"
        )
