"""Following labd's jobs in CUPS until printed: their states, stopped printers, lost jobs.

One pass reads every followed CUPS job's state in one request, records what changed,
finishes the jobs CUPS completed, holds those it aborted or whose printer stopped (and
resumes them when it runs again), and notes possible duplicate prints when CUPS went away
while printing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import structlog

from labd import faults
from labd.errors import IllegalTransition, PrintError, is_jobs_fault
from labd.journal import fail_job
from labd.model import TRANSITIONS, Job, JobOutput, JobState
from labd.printing.context import PrintContext
from labd.printing.cups import CupsJobState, CupsJobStatus, QueueInfo

log = structlog.get_logger(__name__)

# Held for this, a job is still followed: CUPS has it and prints it when the printer is back.
STOPPED_RULE: Final = "print.printer_stopped"
# CUPS job states of an output being printed, and of one waiting to be.
_PRINTING: Final = frozenset({CupsJobState.PROCESSING.value, CupsJobState.STOPPED.value})
_WAITING: Final = frozenset({CupsJobState.PENDING, CupsJobState.HELD})


@dataclass
class Follower:
    """Follows submitted jobs (and jobs held for a stopped printer) in CUPS."""

    ctx: PrintContext
    _cups_lost: bool = False  # the last follow pass could not reach CUPS
    # Jobs (id, last change) an unexpected error stopped where they could not be held.
    _failed: set[tuple[int, str]] = field(default_factory=set)
    # Whether CUPS keeps completed jobs' documents, as this pass found (None: not asked).
    _keeps_copies: bool | None = None

    def follow(self, beat: Callable[[], None] = lambda: None) -> None:
        """One pass over jobs in CUPS: record CUPS' states; finish, hold or resume each job.

        ``beat`` is the follow loop's heartbeat, called after each job.  An unexpected
        error in one job holds that job (internal.error) and the pass goes on.
        """
        jobs = [
            j
            for j in self.ctx.journal.jobs([JobState.SUBMITTED])
            + [j for j in self.ctx.journal.jobs([JobState.HELD]) if j.rule == STOPPED_RULE]
            if (j.id, j.updated_at) not in self._failed
        ]
        # Outputs CUPS was printing when it went away: when it comes back it prints them
        # again from the start (CUPS restarts interrupted jobs), so the first may be a
        # partial or whole extra print.
        outputs = self.ctx.journal.outputs_of(j.id for j in jobs)
        suspects = (
            [
                o
                for j in jobs
                for o in outputs[j.id]
                if o.cups_state in _PRINTING and o.cups_job_id is not None
            ]
            if self._cups_lost
            else []
        )
        queues: dict[str, QueueInfo | None] = {}
        self._keeps_copies = None
        known = self._statuses(outputs)
        for job in sorted(jobs, key=lambda j: j.id):
            if self.ctx.stop.is_set():
                return
            try:
                # What one job's follow records (CUPS states, PRINTED, DONE) waits for no
                # side effect, and is read again from CUPS if lost: one relaxed commit.
                with self.ctx.journal.relaxed(), self.ctx.journal.batch():
                    self._follow(job, queues, known)
            except PrintError as e:
                if e.transient:
                    if not self._cups_lost:
                        log.warning("print.cups_lost", job_id=job.id, problem=e.problem)
                    self._cups_lost = True
                    return  # CUPS is unreachable: every other job would fail the same way
                self._lost_in_cups(job, e)
            except IllegalTransition as e:
                # A technician changed the job (labd cancel ...) while this pass ran.
                log.info("print.changed_elsewhere", job_id=job.id, problem=e.get_message())
            except Exception as e:
                if not is_jobs_fault(e):
                    raise
                if not fail_job(self.ctx.journal, job.id, e, doing="following it in CUPS"):
                    self._failed.add((job.id, job.updated_at))
            beat()
        if self._cups_lost:
            self._cups_lost = False
            log.info("print.cups_back")
            for out in suspects:
                self._possible_duplicate(out, "CUPS went away while printing it")

    def _possible_duplicate(self, out: JobOutput, why: str) -> None:
        self.ctx.journal.record(
            "print.possible_duplicate",
            {"seq": out.seq, "cups_job_id": out.cups_job_id, "queue": out.cups_queue, "why": why},
            job_id=out.job_id,
        )
        log.warning(
            "print.possible_duplicate",
            job_id=out.job_id,
            seq=out.seq,
            cups_job_id=out.cups_job_id,
            why=why,
            hint="check the printer's output; put an extra print into secure waste",
        )

    def _lost_in_cups(self, job: Job, error: PrintError) -> None:
        """CUPS answers but no longer knows a job of ours: nobody can say if it printed."""
        log.error("print.cups_job_unknown", job_id=job.id, problem=error.problem)
        if JobState.UNCERTAIN in TRANSITIONS[job.state]:
            self.ctx.journal.uncertain(
                job.id, rule="print.history_lost", reason=error.get_message()
            )

    def _queue(self, queue: str, cache: dict[str, QueueInfo | None]) -> QueueInfo | None:
        if queue not in cache:
            cache[queue] = self.ctx.cups.queue_info(queue)
        return cache[queue]

    def _check_no_copy(self, out: JobOutput, status: CupsJobStatus) -> None:
        """A completed job's documents must not stay in CUPS (``PreserveJobFiles``)."""
        preserved = status.preserved
        if preserved is None and out.cups_job_id is not None:
            if self._keeps_copies is False:
                return  # this pass found that CUPS keeps none
            # CUPS answers job-preserved to Get-Job-Attributes only, not to Get-Jobs: one
            # request per job.  Keeping documents is CUPS' setting (PreserveJobFiles), the
            # same for every job, so a job completed without a kept copy answers for the
            # rest of the pass; when CUPS keeps them, every job is asked and journaled.
            preserved = self.ctx.cups.status(out.cups_job_id).preserved
            self._keeps_copies = bool(preserved)
        if not preserved:
            return
        self.ctx.journal.record(
            "print.copy_kept",
            {"seq": out.seq, "cups_job_id": out.cups_job_id, "queue": out.cups_queue},
            job_id=out.job_id,
        )
        log.warning(
            "print.copy_kept",
            job_id=out.job_id,
            cups_job_id=out.cups_job_id,
            hint="CUPS keeps the printed images (PreserveJobFiles): set it to No, see "
            "labd doctor; retention purges this CUPS job when the job's period ends",
        )

    def _statuses(self, outputs: Mapping[int, list[JobOutput]]) -> dict[int, CupsJobStatus]:
        """Every followed CUPS job's state in one request; {} if CUPS cannot say now."""
        ids = [
            o.cups_job_id for some in outputs.values() for o in some if o.cups_job_id is not None
        ]
        try:
            return self.ctx.cups.statuses(ids)
        except PrintError:
            return {}  # each job asks on its own below, and says what is wrong

    def _follow(
        self,
        job: Job,
        queues: dict[str, QueueInfo | None],
        known: dict[int, CupsJobStatus] | None = None,
    ) -> None:
        faults.raise_point("follow", job.entry)
        states: list[CupsJobState] = []
        waiting: list[JobOutput] = []
        # Read in this batch, under the journal's write lock: as they stand until it ends.
        outputs, state = self.ctx.journal.outputs_and_state(job.id)
        for out in outputs:
            if out.cups_job_id is None:
                continue
            status = (known or {}).get(out.cups_job_id) or self.ctx.cups.status(out.cups_job_id)
            faults.crash_point("following")
            if out.cups_state in _PRINTING and status.state in _WAITING:
                self._possible_duplicate(out, "CUPS restarted the job after it had begun")
            if status.state is CupsJobState.COMPLETED and out.cups_state != "completed":
                self._check_no_copy(out, status)
            self.ctx.journal.printing.cups_state_of(
                out, status.state.value, impressions=status.impressions
            )
            states.append(status.state)
            if status.state in (CupsJobState.ABORTED, CupsJobState.CANCELED):
                if job.state is JobState.HELD:
                    self.ctx.journal.resume(job.id, JobState.SUBMITTED)
                rule = f"print.{status.state.value}"
                reason = (
                    f"CUPS job {out.cups_job_id} on {out.cups_queue} was "
                    f"{status.state.value}: {status.message or 'no message from CUPS'}"
                )
                self.ctx.journal.held(job.id, rule=rule, reason=reason)
                log.warning(
                    "job.finished",
                    job_id=job.id,
                    outcome="held",
                    rule=rule,
                    seconds=self.ctx.age(job),
                )
                return
            if not status.state.finished:
                waiting.append(out)
        if states and all(s is CupsJobState.COMPLETED for s in states):
            if job.state is JobState.HELD:
                self.ctx.journal.resume(job.id, JobState.SUBMITTED)
                state = JobState.SUBMITTED
            self.ctx.journal.finished(job.id, outputs=len(states), current=state)
            log.info(
                "job.finished",
                job_id=job.id,
                outcome="done",
                outputs=len(states),
                hotfolder=job.hotfolder,
                seconds=self.ctx.age(job),
            )
            return
        stopped = next(
            (
                (o.cups_queue, info.reason)
                for o in waiting
                if (info := self._queue(o.cups_queue, queues)) is not None and info.stopped
            ),
            None,
        )
        if stopped is not None and job.state is JobState.SUBMITTED:
            queue, why = stopped
            reason = f"queue {queue!r} is stopped (the job waits in CUPS): {why}"
            self.ctx.journal.held(job.id, rule=STOPPED_RULE, reason=reason)
            log.warning("print.held", job_id=job.id, rule=STOPPED_RULE, queue=queue, problem=why)
        elif stopped is None and job.state is JobState.HELD:
            self.ctx.journal.resume(job.id, JobState.SUBMITTED)
            log.info("print.resumed", job_id=job.id)

    # -- after a restart ---------------------------------------------------------------------
