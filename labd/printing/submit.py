"""Handing a job's outputs to CUPS, each exactly once; holding and retrying on trouble.

The submit intent is committed before the IPP request; after a crash in between, CUPS'
history is asked by the output's job name before anything is sent again (:meth:`match`).
A job CUPS could not take is held with back-off, and retried by itself only when CUPS
never got it (``print.unavailable``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import structlog

from labd import faults
from labd.clock import epoch
from labd.errors import IllegalTransition, PrintError
from labd.journal.view import copies_of_outputs
from labd.model import Job, JobFile, JobOutput, JobState
from labd.printing.context import PrintContext
from labd.printing.cups import CupsJobStatus

log = structlog.get_logger(__name__)

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
class Submitter:
    """Submits outputs to CUPS once each; holds and retries jobs CUPS could not take."""

    ctx: PrintContext
    _backoff: dict[int, _Backoff] = field(default_factory=dict)

    def submit(
        self,
        job: Job,
        progress: Callable[[], None] = lambda: None,
        *,
        known: tuple[list[JobOutput], list[JobFile]] | None = None,
    ) -> None:
        """CONVERTED/SUBMITTING → SUBMITTED: hand every output to CUPS exactly once.

        ``known``: the job's outputs and files, read with ``job`` (else read here).
        """
        faults.raise_point("submit", job.entry)
        hf = self.ctx.config.hotfolders[job.hotfolder]
        printer = self.ctx.config.printers[hf.printer]
        product = self.ctx.config.products[hf.product]
        superseded: set[int] | None = None  # read when an intent was committed before
        outputs, files = known or self.ctx.journal.outputs_and_files(job.id)
        # The ticket's copies of each output's source file, else the product's.
        copies = copies_of_outputs(files, outputs, product.copies)
        # What this loop knows of the job as it goes: the journal checks it with each
        # step's writes instead of reading it first (PrintSteps' ``known``).
        state = job.state
        unsent = {o.seq for o in outputs if o.cups_job_id is None}
        for out in outputs:
            options = {**printer.options, **dict(product.options)}  # the product's win
            n = copies[out.seq]
            if n > 1:
                options["copies"] = str(n)
            if out.cups_job_id is not None:
                continue
            if self.ctx.stop.is_set():
                return  # the job stays SUBMITTING; the next start carries on
            try:
                cups_id = None
                if out.submit_intent_at:
                    if superseded is None:
                        superseded = self.ctx.journal.printing.superseded(job.id)
                    cups_id = self._already_in_cups(job, out, superseded)
                if cups_id is None:
                    seen = (state, out.cups_queue) if out.cups_queue else None
                    self.ctx.journal.printing.submit_intent(job.id, out.seq, known=seen)
                    state = JobState.SUBMITTING
                    faults.crash_point("submit_intent")
                    cups_id = self.ctx.cups.submit(
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
                others = len(unsent - {out.seq})
                with self.ctx.journal.relaxed():
                    self.ctx.journal.printing.submitted(
                        job.id, out.seq, cups_id, known=(state, others)
                    )
                unsent.discard(out.seq)
                state = JobState.SUBMITTED if not others else state
            except IllegalTransition:
                # Cancelled by a technician between the intent and CUPS' answer.
                log.warning("print.canceled_while_submitting", job_id=job.id, cups_job_id=cups_id)
                self.ctx.cups.cancel(cups_id)
                return
            progress()
        self._backoff.pop(job.id, None)

    def _already_in_cups(self, job: Job, out: JobOutput, superseded: set[int]) -> int | None:
        """After a crash between the submit intent and its result: did CUPS take it?"""
        return self.match(job, out, self.ctx.cups.find_jobs(out.cups_title), superseded)

    def match(
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
        backoff.next_try = self.ctx.clock.monotonic() + delay
        self.ctx.journal.held(job_id, rule=rule, reason=error.get_message())
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
        now = self.ctx.clock.monotonic()
        for job in self.ctx.journal.jobs([JobState.HELD]):
            if job.rule not in RETRYABLE:
                continue
            backoff = self._backoff.setdefault(job.id, _Backoff())
            if now < backoff.next_try:
                continue
            outputs = self.ctx.journal.outputs(job.id)
            to = (
                JobState.SUBMITTING
                if any(o.submit_intent_at for o in outputs)
                else JobState.CONVERTED
            )
            self.ctx.journal.resume(job.id, to)
            log.info("print.retrying", job_id=job.id, attempt=backoff.attempts + 1)
            due.append(job.id)
        return due
