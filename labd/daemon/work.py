"""The work loop: convert and submit one job at a time, each job its own failure boundary.

Jobs come from intake (claimed), from the follow loop (retries due, jobs a command moved
back into the life cycle) and from the disk guard (jobs a storage error interrupted);
each is queued once however many times it is offered.  A job's unforeseen error holds
that job (``internal.error``) and the loop goes on; storage trouble defers it until the
disk guard releases it.
"""

from __future__ import annotations

import queue
import threading

import structlog

from labd import faults
from labd.daemon.disk import DiskGuard
from labd.daemon.loops import LOOP_WAKE_SECONDS, Loops
from labd.errors import IllegalTransition, JournalUnusable, is_jobs_fault, transient_problem
from labd.pipeline import Pipeline

__all__ = ["Work"]

log = structlog.get_logger(__name__)


class Work:
    """The queue of jobs to convert and submit, and the loop that works through it."""

    def __init__(self, loops: Loops, disk: DiskGuard) -> None:
        self.loops = loops
        self.disk = disk
        self.queue: queue.Queue[int] = queue.Queue()
        self._queued: set[int] = set()
        self._queued_lock = threading.Lock()

    def enqueue(self, job_id: int) -> None:
        """Queue a job for conversion and submission, once."""
        with self._queued_lock:
            if job_id in self._queued:
                return
            self._queued.add(job_id)
        self.queue.put(job_id)

    def queued(self) -> int:
        """How many jobs wait in the queue."""
        return self.queue.qsize()

    def run(self, pipeline: Pipeline) -> None:
        """The loop, until labd stops."""
        beat = self.loops.beat_of("work")
        hang = faults.should_hang()
        stop = self.loops.stop
        while not stop.is_set():
            beat()
            try:
                job_id = self.queue.get(timeout=LOOP_WAKE_SECONDS)
            except queue.Empty:
                continue
            with self._queued_lock:
                self._queued.discard(job_id)
            if hang:
                log.warning("daemon.fault_injected", fault=faults.HANG, job_id=job_id)
                threading.Event().wait()  # never returns: no more beats from this loop
            with structlog.contextvars.bound_contextvars(job_id=job_id):
                self.one(pipeline, job_id)

    def one(self, pipeline: Pipeline, job_id: int) -> None:
        """Convert and submit one job: its failure is its own, never the loop's."""
        try:
            pipeline.process(job_id)
        except IllegalTransition as e:
            # A technician moved the job (labd cancel ...) while it was worked on.
            log.info("pipeline.changed_elsewhere", problem=e.get_message())
        except Exception as e:
            problem = transient_problem(e)
            if problem is not None:
                # The job stays in its last journaled state; it goes on once the disk
                # (or the journal's lock) is free again.
                self.disk.defer(job_id, f"work: {problem}")
                return
            if not is_jobs_fault(e):
                raise
            try:
                pipeline.fail_job(job_id, e, doing="converting and submitting it")
            except Exception as again:
                problem = transient_problem(again)
                if problem is not None:
                    self.disk.defer(job_id, f"work: {problem}")
                elif isinstance(again, JournalUnusable):
                    raise
                else:
                    # Not even held (the job vanished?): it stays where the journal has it.
                    self.loops.error("work", again)
