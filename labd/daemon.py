"""The composition root: wires journal, intake, pipeline and CUPS into threads.

Three loops, each a thread: intake (events and rescans → claimed jobs), work (convert and
submit, one job at a time), follow (CUPS job states, retries of held jobs).  The main
thread owns signals and sd_notify: READY once the journal is open and the watches are live,
WATCHDOG only while every loop has made progress recently, STATUS with a one-line summary.
Nothing imports this module.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Final

import structlog

from labd.clock import Clock, SystemClock
from labd.config import Config, check_paths
from labd.errors import IllegalTransition, MediaError
from labd.intake import EventSink, Intake, Watcher
from labd.journal import Journal, ensure_private_dir
from labd.media import MediaLedger
from labd.media_detect import MediaDetector
from labd.model import JobState
from labd.notify import Notifier, watchdog_interval
from labd.pipeline import Pipeline, fault_from_env
from labd.printing import CupsClient

log = structlog.get_logger(__name__)

# A loop that has not reported progress for this long is stuck: the watchdog pings stop, and
# systemd restarts labd (which loses nothing: every step is journaled).
STALL_SECONDS: Final = 120.0
LOOP_WAKE_SECONDS: Final = 1.0
_WORK_STATES: Final = (JobState.CLAIMED, JobState.CONVERTED, JobState.SUBMITTING)


class Daemon:
    """labd running: call :meth:`run` from the main thread; it returns the exit code."""

    def __init__(
        self, config: Config, *, clock: Clock | None = None, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.notifier = notifier or Notifier()
        self.stop = threading.Event()
        self.work: queue.Queue[int] = queue.Queue()
        self._queued: set[int] = set()
        self._queued_lock = threading.Lock()
        self._heartbeats: dict[str, float] = {}
        self._errors: list[BaseException] = []

    # -- plumbing ------------------------------------------------------------------------------

    def _beat(self, loop: str) -> Callable[[], None]:
        def beat() -> None:
            self._heartbeats[loop] = self.clock.monotonic()

        return beat

    def enqueue(self, job_id: int) -> None:
        """Queue a job for conversion and submission, once."""
        with self._queued_lock:
            if job_id in self._queued:
                return
            self._queued.add(job_id)
        self.work.put(job_id)

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            log.warning(
                "daemon.reload_unsupported", hint="restart labd to apply configuration changes"
            )
            return
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        self.stop.set()

    def _thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            structlog.contextvars.bind_contextvars(loop=name)
            try:
                target()
            except BaseException as e:
                # A loop that dies must stop labd (systemd restarts it); never run on half.
                log.exception("daemon.loop_crashed", loop=name)
                self._errors.append(e)
                self.stop.set()

        thread = threading.Thread(target=run, name=f"labd-{name}", daemon=True)
        self._heartbeats[name] = self.clock.monotonic()
        thread.start()
        return thread

    # -- the loops ---------------------------------------------------------------------------

    def _intake_loop(self, intake: Intake, sink: EventSink, watcher: Watcher) -> None:
        intake.run(sink, watcher, self.stop, beat=self._beat("intake"), max_wait=LOOP_WAKE_SECONDS)

    def _work_loop(self, pipeline: Pipeline) -> None:
        beat = self._beat("work")
        while not self.stop.is_set():
            beat()
            try:
                job_id = self.work.get(timeout=LOOP_WAKE_SECONDS)
            except queue.Empty:
                continue
            with self._queued_lock:
                self._queued.discard(job_id)
            with structlog.contextvars.bound_contextvars(job_id=job_id):
                try:
                    pipeline.process(job_id)
                except IllegalTransition as e:
                    # A technician moved the job (labd cancel ...) while it was worked on.
                    log.info("pipeline.changed_elsewhere", problem=e.get_message())

    def _follow_loop(self, pipeline: Pipeline) -> None:
        beat = self._beat("follow")
        while not self.stop.is_set():
            beat()
            pipeline.follow()
            for job_id in pipeline.due_retries():
                self.enqueue(job_id)
            # Jobs a command moved back into the life cycle (labd retry, reprint, resolve)
            # are in the journal only; enqueue() skips those already queued.
            for job in pipeline.journal.jobs(_WORK_STATES):
                self.enqueue(job.id)
            self.stop.wait(self.config.follow_seconds)

    # -- running -------------------------------------------------------------------------------

    def status_line(self, journal: Journal) -> str:
        """One line for systemd's STATUS= and ``labd status``."""
        counts = journal.counts()
        active = sum(
            counts.get(s, 0)
            for s in (JobState.CLAIMED, JobState.CONVERTED, JobState.SUBMITTING, JobState.SUBMITTED)
        )
        parts = [f"{len(self.config.hotfolders)} hot folders", f"{active} jobs in progress"]
        for state in (JobState.HELD, JobState.UNCERTAIN, JobState.QUARANTINED):
            if counts.get(state):
                parts.append(f"{counts[state]} {state.value.lower()}")
        parts.append(f"{counts.get(JobState.DONE, 0)} done")
        return ", ".join(parts)

    @staticmethod
    def _start_detector(media: MediaLedger) -> MediaDetector | None:
        """USB media detection; labd runs on without it where udev cannot be reached."""
        detector = MediaDetector(media)
        try:
            detector.start()
        except MediaError as e:
            log.warning("media.detection_unavailable", problem=str(e))
            return None
        return detector

    def _healthy(self) -> bool:
        now = self.clock.monotonic()
        return all(now - t < STALL_SECONDS for t in self._heartbeats.values())

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit code."""
        config = self.config
        check_paths(config)
        for folder in (config.state_dir, config.spool_dir):
            ensure_private_dir(folder)
        config.quarantine_dir.mkdir(mode=0o770, parents=True, exist_ok=True)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._signal)

        journal = Journal.open(config.journal_path, self.clock)
        try:
            return self._run(journal)
        finally:
            journal.close()

    def _run(self, journal: Journal) -> int:
        config = self.config
        journal.record("daemon.started", {"hotfolders": sorted(config.hotfolders)})
        media = MediaLedger(journal, config.media)
        detector = self._start_detector(media) if config.media.detect else None
        pipeline = Pipeline(
            config=config,
            journal=journal,
            cups=CupsClient(config.cups_server),
            clock=self.clock,
            stop=self.stop,
            fault=fault_from_env(),
        )
        sink = EventSink()
        intake = Intake(
            config.hotfolders,
            journal,
            spool_dir=config.spool_dir,
            quarantine_dir=config.quarantine_dir,
            rescan_seconds=config.rescan_seconds,
            clock=self.clock,
            on_claimed=lambda job: self.enqueue(job.id),
            media=media,
        )
        intake.recover()
        for job_id in pipeline.recover():
            self.enqueue(job_id)
        watcher = Watcher(sink)
        watcher.start()
        intake.check_folders()
        watcher.sync(intake.inotify_folders())
        threads = [
            self._thread("intake", lambda: self._intake_loop(intake, sink, watcher)),
            self._thread("work", lambda: self._work_loop(pipeline)),
            self._thread("follow", lambda: self._follow_loop(pipeline)),
        ]
        pipeline.progress = self._beat("work")
        status = self.status_line(journal)
        self.notifier.ready(status)
        log.info(
            "daemon.ready",
            status=status,
            journal=str(config.journal_path),
            hotfolders={n: str(h.path) for n, h in config.hotfolders.items()},
        )

        ping = watchdog_interval()
        while not self.stop.wait(min(ping or 2.0, 2.0)):
            # Customer media whose orders are all done are ready to go back (or to the
            # shredder); the ledger says which.
            media.ready_for_done_jobs()
            if self._healthy():
                self.notifier.watchdog()
            else:
                log.error("daemon.stalled", heartbeats=self._heartbeats)
            line = self.status_line(journal)
            if line != status:
                status = line
                self.notifier.status(status)

        self.notifier.stopping()
        if detector is not None:
            detector.stop()
        watcher.stop()
        sink.wake.set()
        for thread in threads:
            thread.join(timeout=30)
        stuck = [t.name for t in threads if t.is_alive()]
        journal.record("daemon.stopped", {"clean": not stuck and not self._errors})
        log.info("daemon.stopped", stuck_threads=stuck)
        return 1 if self._errors or stuck else 0
