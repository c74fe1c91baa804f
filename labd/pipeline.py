"""The steps that carry a claimed job to paper: convert, submit, follow.

Each step reads the job's state from the journal, does one side effect, and commits the
new state; a state change is committed before the side effect that depends on it (the
submit intent before the IPP request).  So a step may be cut off at any point and run
again after a restart without printing anything twice.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import structlog

from labd import faults
from labd.clock import Clock, epoch
from labd.config import Config
from labd.convert import SharedPool, convert_job
from labd.errors import (
    INTERNAL_RULE,
    IllegalTransition,
    InputRejected,
    Interrupted,
    JournalUnusable,
    PrintError,
    transient_problem,
    unexpected_reason,
)
from labd.journal import Journal
from labd.model import TRANSITIONS, Job, JobOutput, JobState
from labd.printing import CupsClient, CupsJobState, CupsJobStatus, QueueInfo
from labd.quarantine import quarantine
from labd.spool import entry_of, inbox, outbox

log = structlog.get_logger(__name__)

RETRY_FIRST_SECONDS: Final = 5.0
RETRY_MAX_SECONDS: Final = 300.0
# Held for these reasons, a job is retried by itself: CUPS never took it, so trying again
# cannot print it twice.  Anything else waits for a technician.
RETRYABLE: Final = frozenset({"print.unavailable"})
# How far CUPS' clock may be behind labd's when matching CUPS' history to a job.
CLOCK_SKEW_SECONDS: Final = 300.0
# Held for this, a job is still followed: CUPS has it and prints it when the printer is back.
STOPPED_RULE: Final = "print.printer_stopped"


@dataclass
class _Backoff:
    attempts: int = 0
    next_try: float = 0.0


@dataclass
class Pipeline:
    """Convert, submit and follow jobs, recording every step in the journal."""

    config: Config
    journal: Journal
    cups: CupsClient
    clock: Clock
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[], None] = lambda: None
    pool: SharedPool | None = None  # conversion processes; None: convert in this process
    _backoff: dict[int, _Backoff] = field(default_factory=dict)
    _cups_lost: bool = False  # the last follow pass could not reach CUPS
    # Jobs (id, last change) an unexpected error stopped where they could not be held.
    _failed: set[tuple[int, str]] = field(default_factory=set)

    # -- the steps -----------------------------------------------------------------------------

    def process(self, job_id: int) -> None:
        """Take a job as far as it goes now: convert and submit.  Following is separate."""
        job = self.journal.job(job_id)
        bound = log.bind(job_id=job_id, hotfolder=job.hotfolder)
        if job.state is JobState.CLAIMED:
            faults.crash_point("claimed")
            if not self.convert(job):
                return
            faults.crash_point("converted")
            job = self.journal.job(job_id)
        if job.state in (JobState.CONVERTED, JobState.SUBMITTING) and not self.stop.is_set():
            self.submit(job)
        bound.debug("pipeline.step_done", state=self.journal.job(job_id).state.value)

    def convert(self, job: Job) -> bool:
        """CLAIMED → CONVERTED, or QUARANTINED with a reason.  True when it may go on."""
        hf = self.config.hotfolders.get(job.hotfolder)
        if hf is None:
            self.journal.held(
                job.id,
                rule="config.hotfolder_gone",
                reason=f"hot folder {job.hotfolder} is no longer configured",
            )
            return False
        faults.raise_point("convert", job.entry)
        product = self.config.products[hf.product]
        spool = Path(job.spool)
        files = self.journal.files(job.id)
        out_dir = outbox(job)
        out_dir.mkdir(mode=0o700, exist_ok=True)
        started = self.clock.monotonic()
        try:
            converted = convert_job(
                product,
                [inbox(job) / f.name for f in files],
                out_dir,
                after_each=self._between_files,
                pool=self.pool.get() if self.pool is not None else None,
            )
        except BrokenProcessPool:
            # A conversion process died (killed for memory, or a decoder crashed on a
            # hostile file): a technician looks before it is tried again.
            if self.pool is not None:
                self.pool.reset()
            shutil.rmtree(out_dir, ignore_errors=True)
            reason = "a conversion process died (out of memory, or a damaged file?)"
            self.journal.held(job.id, rule="convert.crashed", reason=reason)
            log.exception("convert.crashed", job_id=job.id)
            return False
        except Interrupted:
            log.info("convert.interrupted", job_id=job.id)
            return False  # stays CLAIMED: converted again at the next start
        except InputRejected as e:
            shutil.rmtree(out_dir, ignore_errors=True)
            # Journaled first, moved after: a crash in between leaves a QUARANTINED job
            # whose files the next start moves (Intake.recover), never a CLAIMED job whose
            # files are gone.
            self.journal.quarantined(job.id, rule=e.rule, reason=e.reason)
            faults.crash_point("convert_refused")
            quarantine(
                entry_of(job),
                self.config.quarantine_dir,
                hotfolder=job.hotfolder,
                job_id=job.id,
                rule=e.rule,
                reason=e.reason,
            )
            log.warning(
                "job.finished",
                job_id=job.id,
                outcome="quarantined",
                rule=e.rule,
                seconds=self._age(job),
            )
            return False
        self.progress()
        queue = self.config.printers[hf.printer].queue
        # A file made from one input names it; a photobook (several inputs) names none.
        outputs = [
            (
                str(c.output.relative_to(spool)),
                files[c.sources[0]].seq if len(c.sources) == 1 else None,
            )
            for c in converted
        ]
        self.journal.converted(job.id, outputs, queue)
        log.info(
            "convert.job_converted",
            job_id=job.id,
            product=product.name,
            outputs=len(outputs),
            seconds=round(self.clock.monotonic() - started, 3),
        )
        return True

    def _between_files(self) -> None:
        self.progress()
        if self.stop.is_set():
            raise Interrupted("the conversion")

    def _age(self, job: Job) -> float:
        """Seconds since the job was claimed, for the one summary line per finished job."""
        return round(self.clock.now().timestamp() - epoch(job.created_at), 3)

    def submit(self, job: Job) -> None:
        """CONVERTED/SUBMITTING → SUBMITTED: hand every output to CUPS exactly once."""
        faults.raise_point("submit", job.entry)
        hf = self.config.hotfolders[job.hotfolder]
        printer = self.config.printers[hf.printer]
        product = self.config.products[hf.product]
        copies = {f.seq: f.copies for f in self.journal.files(job.id) if f.copies is not None}
        superseded = self.journal.superseded(job.id)
        for out in self.journal.outputs(job.id):
            options = {**printer.options, **dict(product.options)}  # the product's win
            # The ticket's copies of this output's source file, else the product's.
            n = copies.get(out.source_seq or 0, product.copies)
            if n > 1:
                options["copies"] = str(n)
            if out.cups_job_id is not None:
                continue
            if self.stop.is_set():
                return  # the job stays SUBMITTING; the next start carries on
            try:
                cups_id = (
                    self._already_in_cups(job, out, superseded) if out.submit_intent_at else None
                )
                if cups_id is None:
                    self.journal.submit_intent(job.id, out.seq)
                    faults.crash_point("submit_intent")
                    cups_id = self.cups.submit(
                        out.cups_queue,
                        Path(job.spool) / out.path,
                        title=out.cups_title,
                        options=options,
                    )
                    faults.crash_point("submitted_unrecorded")
            except PrintError as e:
                self._hold(job.id, e)
                return
            try:
                # Relaxed: if a power cut loses this record, reconciliation finds the CUPS
                # job by its name; the next intent's commit makes it durable anyway.
                with self.journal.relaxed():
                    self.journal.submitted(job.id, out.seq, cups_id)
            except IllegalTransition:
                # Cancelled by a technician between the intent and CUPS' answer.
                log.warning("print.canceled_while_submitting", job_id=job.id, cups_job_id=cups_id)
                self.cups.cancel(cups_id)
                return
            self.progress()
        self._backoff.pop(job.id, None)

    def _already_in_cups(self, job: Job, out: JobOutput, superseded: set[int]) -> int | None:
        """After a crash between the submit intent and its result: did CUPS take it?"""
        return self._match(job, out, self.cups.find_jobs(out.cups_title), superseded)

    def _match(
        self, job: Job, out: JobOutput, history: list[CupsJobStatus], superseded: set[int]
    ) -> int | None:
        """The CUPS job of ``out`` in ``history``, or None.

        Only a CUPS job of this output's name, on its queue, created after the labd job was
        claimed counts: CUPS keeps its history when a journal is replaced, and job ids of a
        new journal start again at 1.  Superseded CUPS jobs (retried, reprinted) never count.
        """
        claimed = epoch(job.created_at) - CLOCK_SKEW_SECONDS
        found = [
            s
            for s in history
            if s.name in ("", out.cups_title)
            and s.queue in ("", out.cups_queue)
            and (s.created is None or s.created >= claimed)
            and s.job_id not in superseded
        ]
        if not found:
            return None
        cups_id = min(s.job_id for s in found)
        if len(found) > 1:
            log.warning(
                "print.duplicate_in_cups",
                job_id=out.job_id,
                seq=out.seq,
                cups_job_ids=[s.job_id for s in found],
            )
        log.info("print.reconciled", job_id=out.job_id, seq=out.seq, cups_job_id=cups_id)
        return cups_id

    def _hold(self, job_id: int, error: PrintError) -> None:
        rule = "print.unavailable" if error.transient else "print.refused"
        backoff = self._backoff.setdefault(job_id, _Backoff())
        backoff.attempts += 1
        delay = min(RETRY_FIRST_SECONDS * 2 ** (backoff.attempts - 1), RETRY_MAX_SECONDS)
        backoff.next_try = self.clock.monotonic() + delay
        self.journal.held(job_id, rule=rule, reason=error.get_message())
        log.warning(
            "print.held",
            job_id=job_id,
            rule=rule,
            problem=error.problem,
            retry_in=delay if rule in RETRYABLE else None,
        )

    def due_retries(self) -> list[int]:
        """Held jobs whose back-off has passed, moved back into the life cycle."""
        due = []
        now = self.clock.monotonic()
        for job in self.journal.jobs([JobState.HELD]):
            if job.rule not in RETRYABLE:
                continue
            backoff = self._backoff.setdefault(job.id, _Backoff())
            if now < backoff.next_try:
                continue
            outputs = self.journal.outputs(job.id)
            to = (
                JobState.SUBMITTING
                if any(o.submit_intent_at for o in outputs)
                else JobState.CONVERTED
            )
            self.journal.resume(job.id, to)
            log.info("print.retrying", job_id=job.id, attempt=backoff.attempts + 1)
            due.append(job.id)
        return due

    def follow(self, beat: Callable[[], None] = lambda: None) -> None:
        """One pass over jobs in CUPS: record CUPS' states; finish, hold or resume each job.

        ``beat`` is the follow loop's heartbeat, called after each job.  An unexpected
        error in one job holds that job (internal.error) and the pass goes on.
        """
        jobs = [
            j
            for j in self.journal.jobs([JobState.SUBMITTED])
            + [j for j in self.journal.jobs([JobState.HELD]) if j.rule == STOPPED_RULE]
            if (j.id, j.updated_at) not in self._failed
        ]
        # Outputs CUPS was printing when it went away: when it comes back it prints them
        # again from the start (CUPS restarts interrupted jobs), so the first may be a
        # partial or whole extra print.
        suspects = (
            [
                o
                for j in jobs
                for o in self.journal.outputs(j.id)
                if o.cups_state in _PRINTING and o.cups_job_id is not None
            ]
            if self._cups_lost
            else []
        )
        queues: dict[str, QueueInfo | None] = {}
        known = self._statuses(jobs)
        for job in sorted(jobs, key=lambda j: j.id):
            if self.stop.is_set():
                return
            try:
                # What one job's follow records (CUPS states, PRINTED, DONE) waits for no
                # side effect, and is read again from CUPS if lost: one relaxed commit.
                with self.journal.relaxed(), self.journal.batch():
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
                self.fail_job(job.id, e, doing="following it in CUPS")
            beat()
        if self._cups_lost:
            self._cups_lost = False
            log.info("print.cups_back")
            for out in suspects:
                self._possible_duplicate(out, "CUPS went away while printing it")

    def fail_job(self, job_id: int, error: Exception, *, doing: str) -> None:
        """An error nobody foresaw stopped this job: hold it for a technician, say why.

        The job is HELD with rule internal.error (``labd retry`` or ``labd cancel``); a job
        that cannot be held from where it is gets the error journaled, and is left out of
        the follow passes until it changes.  Either way labd goes on with every other job.
        """
        log.error(
            "job.failed",
            job_id=job_id,
            doing=doing,
            error=f"{type(error).__name__}: {error}",
            exc_info=error,
        )
        job = self.journal.job(job_id)
        reason = unexpected_reason(error, doing=doing, job_id=job_id)
        if JobState.HELD in TRANSITIONS[job.state]:
            self.journal.held(job_id, rule=INTERNAL_RULE, reason=reason)
            return
        self.journal.record(
            "job.internal_error",
            {"doing": doing, "error": type(error).__name__},
            job_id=job_id,
            detail=reason,
        )
        self._failed.add((job.id, job.updated_at))

    def _possible_duplicate(self, out: JobOutput, why: str) -> None:
        self.journal.record(
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
            self.journal.uncertain(job.id, rule="print.history_lost", reason=error.get_message())

    def _queue(self, queue: str, cache: dict[str, QueueInfo | None]) -> QueueInfo | None:
        if queue not in cache:
            cache[queue] = self.cups.queue_info(queue)
        return cache[queue]

    def _check_no_copy(self, out: JobOutput, status: CupsJobStatus) -> None:
        """A completed job's documents must not stay in CUPS (``PreserveJobFiles``)."""
        preserved = status.preserved
        if preserved is None and out.cups_job_id is not None:
            # CUPS answers job-preserved to Get-Job-Attributes only, not to Get-Jobs.
            preserved = self.cups.status(out.cups_job_id).preserved
        if not preserved:
            return
        self.journal.record(
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

    def _statuses(self, jobs: list[Job]) -> dict[int, CupsJobStatus]:
        """Every followed CUPS job's state in one request; {} if CUPS cannot say now."""
        ids = [
            o.cups_job_id
            for j in jobs
            for o in self.journal.outputs(j.id)
            if o.cups_job_id is not None
        ]
        try:
            return self.cups.statuses(ids)
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
        for out in self.journal.outputs(job.id):
            if out.cups_job_id is None:
                continue
            status = (known or {}).get(out.cups_job_id) or self.cups.status(out.cups_job_id)
            faults.crash_point("following")
            if out.cups_state in _PRINTING and status.state in _WAITING:
                self._possible_duplicate(out, "CUPS restarted the job after it had begun")
            if status.state is CupsJobState.COMPLETED and out.cups_state != "completed":
                self._check_no_copy(out, status)
            self.journal.cups_state(
                job.id, out.seq, status.state.value, impressions=status.impressions
            )
            states.append(status.state)
            if status.state in (CupsJobState.ABORTED, CupsJobState.CANCELED):
                if job.state is JobState.HELD:
                    self.journal.resume(job.id, JobState.SUBMITTED)
                rule = f"print.{status.state.value}"
                reason = (
                    f"CUPS job {out.cups_job_id} on {out.cups_queue} was "
                    f"{status.state.value}: {status.message or 'no message from CUPS'}"
                )
                self.journal.held(job.id, rule=rule, reason=reason)
                log.warning(
                    "job.finished", job_id=job.id, outcome="held", rule=rule, seconds=self._age(job)
                )
                return
            if not status.state.finished:
                waiting.append(out)
        if states and all(s is CupsJobState.COMPLETED for s in states):
            if job.state is JobState.HELD:
                self.journal.resume(job.id, JobState.SUBMITTED)
            self.journal.printed(job.id, outputs=len(states))
            self.journal.done(job.id)
            log.info(
                "job.finished",
                job_id=job.id,
                outcome="done",
                outputs=len(states),
                hotfolder=job.hotfolder,
                seconds=self._age(job),
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
            self.journal.held(job.id, rule=STOPPED_RULE, reason=reason)
            log.warning("print.held", job_id=job.id, rule=STOPPED_RULE, queue=queue, problem=why)
        elif stopped is None and job.state is JobState.HELD:
            self.journal.resume(job.id, JobState.SUBMITTED)
            log.info("print.resumed", job_id=job.id)

    # -- after a restart ---------------------------------------------------------------------

    def recover(self) -> list[int]:
        """Jobs to carry on after a restart, oldest first; PRINTED jobs are finished here.

        Reconciliation with CUPS' history runs first, so nothing is submitted before labd
        knows what CUPS already has.
        """
        for job in self.journal.jobs([JobState.PRINTED]):
            self.journal.done(job.id)
        self.reconcile()
        pending = self.journal.jobs([JobState.CLAIMED, JobState.CONVERTED, JobState.SUBMITTING])
        return sorted(j.id for j in pending)

    def reconcile(self) -> None:
        """Match every submitting or submitted job against CUPS' whole job history.

        Found → recorded; not found while CUPS remembers jobs from before the submit intent
        → left to submit; cannot tell (an id CUPS does not know, a history that starts
        after the intent: purged, or CUPS reinstalled) → UNCERTAIN, for a supervisor.
        """
        jobs = sorted(
            self.journal.jobs([JobState.SUBMITTING, JobState.SUBMITTED]), key=lambda j: j.id
        )
        if not jobs:
            return
        try:
            history = self.cups.history()
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
                self.fail_job(job.id, e, doing="reconciling it with CUPS after a restart")
        log.info("print.reconciled_all", jobs=len(jobs), cups_history=len(history))

    def _reconcile_job(
        self,
        job: Job,
        history: list[CupsJobStatus],
        by_id: dict[int, CupsJobStatus],
        oldest: int | None,
    ) -> None:
        superseded = self.journal.superseded(job.id)
        for out in self.journal.outputs(job.id):
            problem = self._reconcile_output(
                job, out, history=history, by_id=by_id, oldest=oldest, superseded=superseded
            )
            if problem is not None:
                self.journal.uncertain(job.id, rule="print.history_lost", reason=problem)
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
                    f"CUPS at {self.cups.where} has no job {out.cups_job_id} "
                    f"({out.cups_title}): its history was purged or CUPS was reinstalled"
                )
            return None
        if out.submit_intent_at is None:
            return None
        cups_id = self._match(job, out, history, superseded)
        if cups_id is not None:
            self.journal.submitted(job.id, out.seq, cups_id)
            return None
        if oldest is not None and oldest <= epoch(out.submit_intent_at):
            log.info("print.not_in_cups", job_id=job.id, seq=out.seq)
            return None  # CUPS would remember it: it never got it
        return (
            f"{out.cups_title} is not in CUPS' history at {self.cups.where}, and that "
            "history does not reach back to the submit intent (purged, or CUPS reinstalled)"
        )


# CUPS job states of an output being printed, and of one waiting to be.
_PRINTING: Final = frozenset({CupsJobState.PROCESSING.value, CupsJobState.STOPPED.value})
_WAITING: Final = frozenset({CupsJobState.PENDING, CupsJobState.HELD})


# -- what technicians do (the CLI calls these; a running daemon picks the change up) -----------


def is_jobs_fault(error: BaseException) -> bool:
    """True when ``error`` is one job's to bear: not the journal's nor the disk's trouble.

    Storage errors (transient: hold and try again; fatal: stop) concern every job alike;
    any other exception raised while working on one job is that job's failure.
    """
    if not isinstance(error, Exception) or isinstance(error, JournalUnusable):
        return False
    return transient_problem(error) is None


def _require(job: Job, *states: JobState, to: str) -> None:
    if job.state not in states:
        raise IllegalTransition(job.id, job.state.value, to)


def retry_job(journal: Journal, cups: CupsClient, job_id: int, *, by: str) -> list[int]:
    """Take a HELD job back into the life cycle; return the outputs that print again.

    Only outputs whose CUPS job was aborted or canceled are submitted anew; completed ones
    and ones CUPS still holds are left as they are.
    """
    job = journal.job(job_id)
    _require(job, JobState.HELD, to="retry")
    outputs = journal.outputs(job_id)
    if not outputs:
        journal.resume(job_id, JobState.CLAIMED)  # converted again
        return []
    again = []
    for out in outputs:
        if out.cups_job_id is None:
            continue
        if cups.status(out.cups_job_id).state in (CupsJobState.ABORTED, CupsJobState.CANCELED):
            again.append(out.seq)
    in_cups = all(o.cups_job_id is not None for o in outputs)
    if in_cups and not again:
        to = JobState.SUBMITTED
    elif again or any(o.submit_intent_at or o.cups_job_id for o in outputs):
        to = JobState.SUBMITTING
    else:
        to = JobState.CONVERTED
    journal.print_again(job_id, again, to, by=by, why="retry")
    log.info("print.retry_requested", job_id=job_id, again=again, to=to.value, by=by)
    return again


def cancel_job(journal: Journal, cups: CupsClient, job_id: int, *, by: str) -> list[int]:
    """Cancel a job and its unfinished CUPS jobs; return the CUPS jobs cancelled."""
    job = journal.job(job_id)
    if JobState.CANCELED not in TRANSITIONS[job.state]:
        raise IllegalTransition(job.id, job.state.value, JobState.CANCELED.value)
    cancelled = []
    for out in journal.outputs(job_id):
        if out.cups_job_id is None:
            continue
        if not cups.status(out.cups_job_id).state.finished:
            cups.cancel(out.cups_job_id)
            cancelled.append(out.cups_job_id)
    journal.canceled(job_id, by=by, cups_job_ids=cancelled)
    log.info("print.job_canceled", job_id=job_id, cups_job_ids=cancelled, by=by)
    return cancelled


def reprint_job(journal: Journal, job_id: int, seqs: list[int] | None, *, by: str) -> Job:
    """A new job, linked to ``job_id``, printing its outputs ``seqs`` (all by default) again."""
    original = journal.job(job_id)
    outputs = journal.outputs(job_id)
    chosen = seqs or [o.seq for o in outputs]
    new = journal.reprint(job_id, chosen, by=by)
    source, target = Path(original.spool), Path(new.spool)
    by_seq = {o.seq: o for o in outputs}
    for seq in chosen:
        path = by_seq[seq].path
        (target / path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(source / path, target / path)
    journal.resume(new.id, JobState.CONVERTED)  # files in place: a daemon may take it now
    log.info("print.reprint", job_id=new.id, original=job_id, outputs=chosen, by=by)
    return journal.job(new.id)


def resolve_job(journal: Journal, job_id: int, decision: str, *, by: str) -> JobState:
    """A supervisor's decision on an UNCERTAIN job: ``printed`` or ``reprint``."""
    job = journal.job(job_id)
    _require(job, JobState.UNCERTAIN, to=decision)
    if decision == "printed":
        journal.done(job_id, resolved="printed", by=by)
        return JobState.DONE
    again = [o.seq for o in journal.outputs(job_id) if o.cups_state != "completed"]
    journal.print_again(job_id, again, JobState.SUBMITTING, by=by, why="resolved: reprint")
    return JobState.SUBMITTING
