"""The steps that carry a claimed job to paper: convert, submit, follow.

Each step reads the job's state from the journal, does one side effect, and commits the
new state; a state change is committed before the side effect that depends on it (the
submit intent before the IPP request).  So a step may be cut off at any point and run
again after a restart without printing anything twice.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import structlog

from labd import faults
from labd.clock import Clock
from labd.config import Config
from labd.convert import (
    RULE_LOW_RESOLUTION,
    SharedPool,
    convert_job,
    is_low_resolution,
    join_reasons,
    low_resolution_note,
)
from labd.errors import InputRejected, Interrupted, is_jobs_fault
from labd.journal import Journal, fail_job
from labd.model import Job, JobState, LowResolution, Product
from labd.printing import CupsClient
from labd.printing.context import PrintContext
from labd.printing.follow import STOPPED_RULE, Follower
from labd.printing.reconcile import Reconciler
from labd.printing.submit import RETRY_FIRST_SECONDS, RETRYABLE, Submitter
from labd.quarantine import quarantine
from labd.spool import entry_of, inbox, outbox

log = structlog.get_logger(__name__)

__all__ = ["RETRYABLE", "RETRY_FIRST_SECONDS", "STOPPED_RULE", "Pipeline", "is_jobs_fault"]


class Pipeline:
    """Convert, submit and follow jobs, recording every step in the journal.

    Conversion is here; submitting, following and reconciling are
    :class:`~labd.printing.submit.Submitter`, :class:`~labd.printing.follow.Follower`
    and :class:`~labd.printing.reconcile.Reconciler`, sharing one
    :class:`~labd.printing.context.PrintContext`.
    """

    def __init__(
        self,
        *,
        config: Config,
        journal: Journal,
        cups: CupsClient,
        clock: Clock,
        stop: threading.Event | None = None,
        progress: Callable[[], None] = lambda: None,
        pool: SharedPool | None = None,
    ) -> None:
        self.ctx = PrintContext(config, journal, cups, clock, stop or threading.Event())
        self.progress = progress  # the work loop's heartbeat
        self.pool = pool  # conversion processes; None: convert in this process
        self.submitter = Submitter(self.ctx)
        self.follower = Follower(self.ctx)
        self.reconciler = Reconciler(self.ctx, self.submitter)

    @property
    def journal(self) -> Journal:
        """The journal every step records in."""
        return self.ctx.journal

    @property
    def clock(self) -> Clock:
        """The injected clock."""
        return self.ctx.clock

    @property
    def stop(self) -> threading.Event:
        """Set when labd stops: a conversion is abandoned between files."""
        return self.ctx.stop

    @property
    def config(self) -> Config:
        """The configuration in force (a reload replaces it)."""
        return self.ctx.config

    @config.setter
    def config(self, config: Config) -> None:
        self.ctx.config = config

    @property
    def cups(self) -> CupsClient:
        """The CUPS client (a reload that names another server replaces it)."""
        return self.ctx.cups

    @cups.setter
    def cups(self, cups: CupsClient) -> None:
        self.ctx.cups = cups

    # -- the steps -----------------------------------------------------------------------------

    def process(self, job_id: int) -> None:
        """Take a job as far as it goes now: convert and submit.  Following is separate."""
        job, outputs, files = self.journal.job_for_print(job_id)
        bound = log.bind(job_id=job_id, hotfolder=job.hotfolder)
        if job.state is JobState.CLAIMED:
            faults.crash_point("claimed")
            if not self.convert(job):
                return
            faults.crash_point("converted")
            job, outputs, files = self.journal.job_for_print(job_id)
        if job.state in (JobState.CONVERTED, JobState.SUBMITTING) and not self.stop.is_set():
            self.submitter.submit(job, self.progress, known=(outputs, files))
        bound.debug("pipeline.step_done")

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
                seconds=self.ctx.age(job),
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
        ppi = {files[i].seq: p for c in converted for i, p in c.resolutions()}
        low = [(seq, p) for seq, p in sorted(ppi.items()) if is_low_resolution(product, p)]
        hold = bool(low) and product.low_resolution is LowResolution.HOLD
        # One commit: a crash never leaves a job CONVERTED that its policy holds.
        with self.journal.batch():
            self.journal.converted(job.id, outputs, queue, data=_resolution_data(product, ppi))
            if low:
                names = {f.seq: f.name for f in files}
                notes = [low_resolution_note(product, names[seq], p) for seq, p in low]
                self.journal.notes.low_resolution(
                    job.id,
                    policy=product.low_resolution.value,
                    min_ppi=product.required_ppi,
                    files=low,
                    detail="; ".join(notes),
                )
            if hold:
                # The reason names the files; `labd explain` and README say what to do.
                self.journal.held(job.id, rule=RULE_LOW_RESOLUTION, reason=join_reasons(notes))
        log.info(
            "convert.job_converted",
            job_id=job.id,
            product=product.name,
            outputs=len(outputs),
            seconds=round(self.clock.monotonic() - started, 3),
        )
        if low:
            log.warning(
                "convert.low_resolution",
                job_id=job.id,
                policy=product.low_resolution.value,
                files=len(low),
                lowest_ppi=min(p for _, p in low),
                min_ppi=product.required_ppi,
            )
        return not hold

    def _between_files(self) -> None:
        self.progress()
        if self.stop.is_set():
            raise Interrupted("the conversion")

    def submit(self, job: Job) -> None:
        """CONVERTED/SUBMITTING → SUBMITTED: hand every output to CUPS exactly once."""
        self.submitter.submit(job, self.progress)

    def due_retries(self) -> list[int]:
        """Held jobs whose back-off has passed, moved back into the life cycle."""
        return self.submitter.due_retries()

    def follow(self, beat: Callable[[], None] = lambda: None) -> None:
        """One pass over the jobs in CUPS (the follow loop's heartbeat: ``beat``)."""
        self.follower.follow(beat)

    def recover(self) -> list[int]:
        """Jobs to carry on after a restart, oldest first, reconciled with CUPS first."""
        return self.reconciler.recover()

    def reconcile(self) -> None:
        """Match every submitting or submitted job against CUPS' whole job history."""
        self.reconciler.reconcile()

    def fail_job(self, job_id: int, error: Exception, *, doing: str) -> None:
        """An error nobody foresaw stopped this job: see :func:`labd.journal.fail_job`."""
        fail_job(self.journal, job_id, error, doing=doing)


def _resolution_data(product: Product, ppi: Mapping[int, int]) -> dict[str, object]:
    """What the CONVERTED event keeps of the files' resolution (none for a PDF as it is)."""
    if not ppi:
        return {}
    return {
        "ppi": [ppi[seq] for seq in sorted(ppi)],
        "dpi": product.dpi,
        "min_ppi": product.required_ppi,
    }
