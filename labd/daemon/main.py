"""labd running: the journal, intake, pipeline and CUPS wired into three loops.

The main thread owns signals and sd_notify: READY once the journal is open and the
watches are live, WATCHDOG only while every loop has made progress recently, STATUS with
a one-line summary.  It also does the few chores of the whole house: the disk guard, the
customer media whose orders are done, the status file ``labd status`` reads.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Final

import structlog

from labd import faults
from labd.alerts.conditions import DaemonState
from labd.alerts.service import AlertService, verify_apart
from labd.clock import Clock, SystemClock
from labd.config import Config, check_paths
from labd.convert import SharedPool
from labd.daemon import reload
from labd.daemon.alerts_loop import run_alerts
from labd.daemon.chores import Chores
from labd.daemon.disk import DiskGuard
from labd.daemon.intake_loop import run_intake
from labd.daemon.loops import Loops
from labd.daemon.work import Work
from labd.errors import LabdError, MediaError, is_jobs_fault
from labd.intake import EventSink, Intake, Watcher
from labd.journal import Journal, ensure_private_dir
from labd.journal.summary import summarize
from labd.media.detect import MediaDetector
from labd.media.ledger import MediaLedger
from labd.metrics import Live, Metrics
from labd.model import JobState
from labd.notify import Notifier, watchdog_interval
from labd.pipeline import Pipeline
from labd.printing import CupsClient
from labd.privacy.retention import Retention
from labd.running import STATUS_NAME, DaemonLock, DaemonStatus, write_status
from labd.schemas import open_configured

__all__ = ["Daemon"]

log = structlog.get_logger(__name__)

# Overdue customer media are logged at start and then this often, until resolved.
# Jobs the work loop takes up when the journal has them there (a command moved them).
_WORK_STATES: Final = (JobState.CLAIMED, JobState.CONVERTED, JobState.SUBMITTING)


class Daemon:
    """labd running: call :meth:`run` from the main thread; it returns the exit code."""

    def __init__(
        self,
        config: Config,
        *,
        adapt: reload.Adapt = reload.as_read,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        """``config`` is the file's configuration after ``adapt``, which a reload applies
        again to the file it rereads (``--base``, the demo's CUPS)."""
        self.config = config
        self.adapt = adapt
        self.clock = clock or SystemClock()
        self.notifier = notifier or Notifier()
        self.stop = threading.Event()
        self.disk = DiskGuard()
        self.loops = Loops(self.clock, self.stop, self.disk)
        self.work = Work(self.loops, self.disk)
        self._reload = threading.Event()
        self._metrics: Metrics | None = None  # made once the journal is open

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            # Handled by the main loop: a signal handler must not take locks or do I/O.
            self._reload.set()
            return
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        self.stop.set()

    def handle_signals(self) -> None:
        """SIGTERM and SIGINT (Ctrl-C) stop labd cleanly, SIGHUP reloads; main thread only."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._signal)

    # -- the follow loop (intake's is labd.daemon.intake_loop, work's labd.daemon.work) ------

    def _follow_loop(self, pipeline: Pipeline) -> None:
        beat = self.loops.beat_of("follow")
        next_retention = self.clock.monotonic()
        while not self.stop.is_set():
            beat()
            if self.clock.monotonic() >= next_retention:
                next_retention = self.clock.monotonic() + pipeline.config.retention.check_seconds
                self.loops.guarded("retention", lambda: self._retention(pipeline, beat))
            self.loops.guarded("follow", lambda: self._follow_once(pipeline, beat))
            self.stop.wait(pipeline.config.follow_seconds)

    def _follow_once(self, pipeline: Pipeline, beat: Callable[[], None]) -> None:
        pipeline.follow(beat)
        for job_id in pipeline.due_retries():
            self.work.enqueue(job_id)
        # Jobs a command moved back into the life cycle (labd retry, reprint, resolve)
        # are in the journal only; enqueue() skips those already queued.
        for job in pipeline.journal.jobs(_WORK_STATES):
            if job.id not in self.disk.deferred:
                self.work.enqueue(job.id)

    def _retention(self, pipeline: Pipeline, beat: Callable[[], None]) -> None:
        """Delete what is past its retention period; a failure waits for the next round."""
        try:
            # Built each round from the configuration in force: a reload changes periods.
            Retention(pipeline.journal, pipeline.config, self.clock, pipeline.cups).run_due(beat)
        except LabdError as e:
            if not is_jobs_fault(e):
                raise
            log.warning("retention.run_failed", error=e.get_message())

    # -- the main thread -----------------------------------------------------------------------

    def status_line(self, journal: Journal) -> str:
        """One line for systemd's STATUS= and ``labd status``."""
        return summarize(journal).line(
            hotfolders=len(self.config.hotfolders),
            queued=self.work.queued(),
            not_taking=self.disk.held,
        )

    def _status_or_trouble(self, journal: Journal) -> str:
        lines: list[str] = []
        if not self.loops.guarded("main", lambda: lines.append(self.status_line(journal))):
            # The journal locked or its disk full: the loops hold; say so, keep pinging.
            lines.append(f"NOT TAKING JOBS: {self.disk.error or 'the journal cannot be read'}")
        return lines[0]

    def _publish(self, intake: Intake, line: str) -> None:
        """What ``labd status`` reads while labd runs: the loops' beats, holds, the line."""
        status = DaemonStatus(
            pid=os.getpid(),
            written_at=time.time(),
            beats=self.loops.ages(),
            held=self.disk.held,
            set_aside=len(intake.set_aside),
            cups_server=self.config.cups_server,
            line=line,
        )
        try:
            write_status(self.config.state_dir, status)
        except OSError as e:
            self.loops.error("main", e)

    def _check_disk(self, intake: Intake) -> None:
        for job_id in self.disk.check(self.config, intake):
            self.work.enqueue(job_id)

    def _reload_now(self, intake: Intake, pipeline: Pipeline, journal: Journal) -> str:
        """SIGHUP: RELOADING=1, the new configuration or the old one, READY=1; the status."""
        self.notifier.reloading()
        log.info("daemon.reloading", file=str(self.config.source))
        new = reload.reread_or_keep(self.config, self.adapt)
        if new is not None:
            reload.apply(self.config, new, intake, pipeline)
            self.config = new
        if self._metrics is not None:
            # Also with the configuration kept: an endpoint that could not start tries again.
            self._metrics.apply(self.config.metrics)
        # READY=1 ends the reload either way: labd runs, on the new or the old settings.
        status = self.status_line(journal)
        self.notifier.ready(status)
        return status

    def run(self, lock: DaemonLock | None = None) -> int:
        """Run until SIGTERM/SIGINT; return the exit code.

        The state directory's lock is taken first (or given, by ``labd demo``, which
        takes it before it starts its CUPS): a second daemon on the same journal stops
        here with AlreadyRunning, having touched nothing.
        """
        config = self.config
        check_paths(config)
        ensure_private_dir(config.state_dir)
        own = lock is None
        lock = lock or DaemonLock.acquire(config.state_dir)
        try:
            ensure_private_dir(config.spool_dir)
            reload.private_quarantine(config)
            faults.arm(faults.fault_from_env())
            self.handle_signals()
            # Every component's tables, migrated here (only the daemon migrates).
            journal = open_configured(config, self.clock, own_jobs=True)
            try:
                return self._run(journal)
            finally:
                if self._metrics is not None:
                    self._metrics.close()
                journal.close()
        finally:
            if own:
                lock.release()

    def _parts(self, journal: Journal) -> tuple[MediaLedger, Pipeline, Intake]:
        config = self.config
        media = MediaLedger(journal, config.media)
        workers = config.convert_workers or os.cpu_count() or 1
        pipeline = Pipeline(
            config=config,
            journal=journal,
            cups=CupsClient(config.cups_server),
            clock=self.clock,
            stop=self.stop,
            # The files of an order are converted in parallel, one process per core; each
            # is a fresh interpreter, so a decoder crash cannot take labd down with it.
            pool=SharedPool(workers) if workers > 1 else None,
        )
        intake = Intake(
            config.hotfolders,
            journal,
            spool_dir=config.spool_dir,
            quarantine_dir=config.quarantine_dir,
            rescan_seconds=config.rescan_seconds,
            clock=self.clock,
            on_claimed=lambda job: self.work.enqueue(job.id),
            media=media,
        )
        return media, pipeline, intake

    def _start_alerts(self, journal: Journal) -> threading.Thread:
        """The alerts loop (labd.alerts): it sends nothing until [alerts] names a channel."""
        alerts = AlertService(
            journal,
            self.clock,
            config=lambda: self.config,  # the one in force: a reload changes channels
            daemon=DaemonState(beat_ages=self.loops.ages, intake_held=lambda: self.disk.held),
            verify=lambda: verify_apart(self.config.journal_location, self.clock),
        )
        return self.loops.start("alerts", lambda: run_alerts(self.loops, alerts))

    def _run(self, journal: Journal) -> int:
        config = self.config
        journal.record("daemon.started", {"hotfolders": sorted(config.hotfolders)})
        media, pipeline, intake = self._parts(journal)
        self._metrics = Metrics(
            config.journal_location,
            self.clock,
            config=lambda: pipeline.config,  # with the hot folders a reload removed
            live=Live(beat_ages=self.loops.ages, intake_held=lambda: self.disk.held),
            scope=journal.scope,
        )
        # Before the recovery: what it finishes (a job printed while labd was down) counts.
        self._metrics.apply(config.metrics)
        detector = _start_detector(media) if config.media.detect else None
        try:
            intake.recover()  # each job contained on its own; this is for the rest
        except Exception as e:
            if not is_jobs_fault(e):
                raise  # at start: systemd starts labd again a few seconds later
            self.loops.error("intake", e)
        for job_id in pipeline.recover():
            self.work.enqueue(job_id)
        self._publish(intake, "starting")
        sink = EventSink()
        watcher = Watcher(sink)
        watcher.start()
        intake.check_folders()
        watcher.sync(intake.inotify_folders())
        threads = [
            self.loops.start("intake", lambda: run_intake(self.loops, intake, sink, watcher)),
            self.loops.start("work", lambda: self.work.run(pipeline)),
            self.loops.start("follow", lambda: self._follow_loop(pipeline)),
            self._start_alerts(journal),
        ]
        pipeline.progress = self.loops.beat_of("work")
        status = self.status_line(journal)
        self.notifier.ready(status)
        log.info(
            "daemon.ready",
            status=status,
            journal=journal.name,
            node=config.journal.node,
            hotfolders={n: str(h.path) for n, h in config.hotfolders.items()},
        )

        ping = watchdog_interval()
        chores = Chores(
            journal, media, loops=self.loops, clock=self.clock, config=lambda: self.config
        )
        while not self.stop.wait(min(ping or 2.0, 2.0)):
            if self._reload.is_set():
                self._reload.clear()
                status = self._reload_now(intake, pipeline, journal)
            self._check_disk(intake)
            chores.run()
            line = self._status_or_trouble(journal)
            self._publish(intake, line)
            if self.loops.healthy(self.config.stall_seconds):
                self.notifier.watchdog()
            else:
                log.error("daemon.stalled", heartbeats=self.loops.heartbeats)
            if line != status:
                status = line
                self.notifier.status(status)

        self.notifier.stopping()
        if detector is not None:
            detector.stop()
        watcher.stop()
        sink.wake.set()
        return self._shut_down(journal, threads, pipeline)

    def _shut_down(
        self, journal: Journal, threads: list[threading.Thread], pipeline: Pipeline
    ) -> int:
        """Stop the loops (the current step ends or is abandoned safely); the exit code."""
        for thread in threads:
            thread.join(timeout=30)
        if pipeline.pool is not None:
            pipeline.pool.shutdown()  # after the work loop: it may still wait on the pool
        stuck = [t.name for t in threads if t.is_alive()]
        errors = self.loops.errors
        clean = not stuck and not errors
        journal.record("daemon.stopped", {"clean": clean})
        if clean:
            # Gone after a clean stop only: a status file without a daemon tells `labd
            # status` of one that was killed, crashed or stopped on an error.
            (self.config.state_dir / STATUS_NAME).unlink(missing_ok=True)
        log.info("daemon.stopped", stuck_threads=stuck)
        # An unusable journal says so with its own exit code (4); any other loop's end, 1.
        codes = [e.exit_code for e in errors if isinstance(e, LabdError)]
        return codes[0] if codes else (1 if errors or stuck else 0)


def _start_detector(media: MediaLedger) -> MediaDetector | None:
    """USB media detection; labd runs on without it where udev cannot be reached."""
    detector = MediaDetector(media)
    try:
        detector.start()
    except MediaError as e:
        log.warning("media.detection_unavailable", problem=str(e))
        return None
    return detector
