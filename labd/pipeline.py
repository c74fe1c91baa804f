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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

import structlog

from labd.clock import Clock
from labd.config import Config
from labd.convert import convert_job
from labd.errors import InputRejected, Interrupted, PrintError
from labd.intake.claim import INBOX
from labd.journal import Journal
from labd.model import Job, JobOutput, JobState
from labd.printing import CupsClient, CupsJobState
from labd.quarantine import quarantine

log = structlog.get_logger(__name__)

OUTBOX: Final = "out"
RETRY_FIRST_SECONDS: Final = 5.0
RETRY_MAX_SECONDS: Final = 300.0
# Held for these reasons, a job is retried by itself: CUPS never took it, so trying again
# cannot print it twice.  Anything else waits for a technician.
RETRYABLE: Final = frozenset({"print.unavailable"})
# How far CUPS' clock may be behind labd's when matching CUPS' history to a job.
CLOCK_SKEW_SECONDS: Final = 300.0


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
    _backoff: dict[int, _Backoff] = field(default_factory=dict)

    # -- the steps -----------------------------------------------------------------------------

    def process(self, job_id: int) -> None:
        """Take a job as far as it goes now: convert and submit.  Following is separate."""
        job = self.journal.job(job_id)
        bound = log.bind(job_id=job_id, hotfolder=job.hotfolder)
        if job.state is JobState.CLAIMED:
            if not self.convert(job):
                return
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
        product = self.config.products[hf.product]
        spool = Path(job.spool)
        files = self.journal.files(job.id)
        out_dir = spool / OUTBOX
        out_dir.mkdir(mode=0o700, exist_ok=True)
        started = self.clock.monotonic()
        try:
            converted = convert_job(
                product,
                [spool / INBOX / f.name for f in files],
                out_dir,
                after_each=self._between_files,
            )
        except Interrupted:
            log.info("convert.interrupted", job_id=job.id)
            return False  # stays CLAIMED: converted again at the next start
        except InputRejected as e:
            shutil.rmtree(out_dir, ignore_errors=True)
            quarantine(
                spool / INBOX / job.entry,
                self.config.quarantine_dir,
                hotfolder=job.hotfolder,
                job_id=job.id,
                rule=e.rule,
                reason=e.reason,
            )
            self.journal.quarantined(job.id, rule=e.rule, reason=e.reason)
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
        outputs = [
            (str(c.output.relative_to(spool)), f.seq) for f, c in zip(files, converted, strict=True)
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
        return round(self.clock.now().timestamp() - _epoch(job.created_at), 3)

    def submit(self, job: Job) -> None:
        """CONVERTED/SUBMITTING → SUBMITTED: hand every output to CUPS exactly once."""
        hf = self.config.hotfolders[job.hotfolder]
        printer = self.config.printers[hf.printer]
        product = self.config.products[hf.product]
        options = dict(printer.options)
        if product.copies > 1:
            options["copies"] = str(product.copies)
        for out in self.journal.outputs(job.id):
            if out.cups_job_id is not None:
                continue
            if self.stop.is_set():
                return  # the job stays SUBMITTING; the next start carries on
            try:
                cups_id = self._already_in_cups(job, out) if out.submit_intent_at else None
                if cups_id is None:
                    self.journal.submit_intent(job.id, out.seq)
                    cups_id = self.cups.submit(
                        out.cups_queue,
                        Path(job.spool) / out.path,
                        title=out.cups_title,
                        options=options,
                    )
            except PrintError as e:
                self._hold(job.id, e)
                return
            self.journal.submitted(job.id, out.seq, cups_id)
            self.progress()
        self._backoff.pop(job.id, None)

    def _already_in_cups(self, job: Job, out: JobOutput) -> int | None:
        """After a crash between the submit intent and its result: did CUPS take it?

        Only a CUPS job of this output's name, on its queue, created after the labd job was
        claimed counts: CUPS keeps its history when a journal is replaced, and job ids of a
        new journal start again at 1.
        """
        claimed = _epoch(job.created_at) - CLOCK_SKEW_SECONDS
        found = [
            s
            for s in self.cups.find_jobs(out.cups_title)
            if s.queue in ("", out.cups_queue) and (s.created is None or s.created >= claimed)
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

    def follow(self) -> None:
        """One pass over submitted jobs: record CUPS' states; finish or hold each job."""
        for job in self.journal.jobs([JobState.SUBMITTED]):
            if self.stop.is_set():
                return
            try:
                self._follow(job)
            except PrintError as e:
                log.warning("print.follow_failed", job_id=job.id, problem=e.problem)
                return  # CUPS is unreachable: every other job would fail the same way
            self.progress()

    def _follow(self, job: Job) -> None:
        states: list[CupsJobState] = []
        for out in self.journal.outputs(job.id):
            if out.cups_job_id is None:
                continue
            status = self.cups.status(out.cups_job_id)
            self.journal.cups_state(
                job.id, out.seq, status.state.value, impressions=status.impressions
            )
            states.append(status.state)
            if status.state in (CupsJobState.ABORTED, CupsJobState.CANCELED):
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
        if states and all(s is CupsJobState.COMPLETED for s in states):
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

    # -- after a restart ---------------------------------------------------------------------

    def recover(self) -> list[int]:
        """Jobs to carry on after a restart, oldest first; PRINTED jobs are finished here."""
        for job in self.journal.jobs([JobState.PRINTED]):
            self.journal.done(job.id)
        pending = self.journal.jobs([JobState.CLAIMED, JobState.CONVERTED, JobState.SUBMITTING])
        return sorted(j.id for j in pending)


def _epoch(timestamp: str) -> float:
    """Seconds since the epoch of a journal timestamp."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
