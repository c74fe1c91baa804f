"""The composition root: wires journal, intake, pipeline and CUPS into threads.

Three loops, each a thread: intake (events and rescans → claimed jobs), work (convert and
submit, one job at a time), follow (CUPS job states, retries of held jobs).  The main
thread owns signals and sd_notify: READY once the journal is open and the watches are live,
WATCHDOG only while every loop has made progress recently, STATUS with a one-line summary.
SIGHUP rereads the configuration (a bad one is refused, the old one runs on); a full or
unwritable spool holds intake until it clears.  Nothing imports this module.
"""

from __future__ import annotations

import os
import queue
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType
from typing import Final

import structlog

from labd import faults
from labd.clock import Clock, SystemClock
from labd.config import Config, check_paths, load
from labd.convert import SharedPool
from labd.errors import (
    ConfigError,
    IllegalTransition,
    JournalUnusable,
    LabdError,
    MediaError,
    is_jobs_fault,
    transient_problem,
)
from labd.intake import EventSink, Intake, Watcher
from labd.journal import Journal, ensure_private_dir
from labd.media.detect import MediaDetector
from labd.media.ledger import MediaLedger
from labd.model import JobState
from labd.notify import Notifier, watchdog_interval
from labd.pipeline import Pipeline
from labd.printing import CupsClient
from labd.privacy.retention import Retention
from labd.running import STATUS_NAME, DaemonLock, DaemonStatus, write_status
from labd.schemas import open_journal

log = structlog.get_logger(__name__)

# A loop that has not reported progress for `[labd] stall_seconds` is stuck: the watchdog
# pings stop, and systemd restarts labd (which loses nothing: every step is journaled).
LOOP_WAKE_SECONDS: Final = 1.0
# How long a reload waits for the intake loop to take the new hot folders.
RELOAD_WAIT_SECONDS: Final = 30.0
# Overdue customer media are logged at start and then this often, until resolved.
OVERDUE_LOG_SECONDS: Final = 3600.0
# A loop's error that repeats is logged in full once, then at most this often.
REPEAT_LOG_SECONDS: Final = 60.0
# Settings a running labd cannot change: they name where its jobs and journal are.
_RESTART_ONLY: Final = (("state_dir", "labd.state_dir"), ("spool_dir", "labd.spool_dir"))
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
        self._reload = threading.Event()
        self._held: str | None = None  # why intake takes nothing now
        self._deferred: set[int] = set()  # jobs a disk error interrupted: again once clear
        self._disk_error: str | None = None  # the last disk error a loop ran into
        self._logged: dict[tuple[str, str], float] = {}  # loop errors: when last logged
        self._cups_server: str | None = config.cups_server

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
            # Handled by the main loop: a signal handler must not take locks or do I/O.
            self._reload.set()
            return
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        self.stop.set()

    def handle_signals(self) -> None:
        """SIGTERM and SIGINT (Ctrl-C) stop labd cleanly, SIGHUP reloads; main thread only."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._signal)

    def _thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            structlog.contextvars.bind_contextvars(loop=name)
            try:
                target()
            except BaseException as e:
                # A loop that dies must stop labd (systemd restarts it); never run on half.
                # Every loop contains what one job or entry does: only an unusable journal
                # (or a bug in a loop's own plumbing) gets here.
                log.exception(
                    "daemon.loop_crashed",
                    loop=name,
                    problem=e.get_message() if isinstance(e, LabdError) else repr(e),
                )
                self._errors.append(e)
                self.stop.set()

        thread = threading.Thread(target=run, name=f"labd-{name}", daemon=True)
        self._heartbeats[name] = self.clock.monotonic()
        thread.start()
        return thread

    # -- the loops ---------------------------------------------------------------------------

    def _intake_loop(self, intake: Intake, sink: EventSink, watcher: Watcher) -> None:
        beat = self._beat("intake")
        while not self.stop.is_set():
            try:
                intake.run(sink, watcher, self.stop, beat=beat, max_wait=LOOP_WAKE_SECONDS)
            except Exception as e:
                problem = transient_problem(e)
                if problem is None:
                    if isinstance(e, JournalUnusable):
                        raise
                    # Not one entry's fault (those are contained in Intake): the loop
                    # itself.  Logged, and the loop starts again after a pause.
                    self._loop_error("intake", e)
                    self.stop.wait(LOOP_WAKE_SECONDS)
                    continue
            else:
                return
            # Disk full or journal locked mid-claim: hold intake until the main loop sees it
            # clear, then finish the interrupted claim as at a start.
            log.error("intake.held_by_error", problem=problem)
            intake.held = self._disk_error = f"intake: {problem}"
            while intake.held is not None and not self.stop.wait(LOOP_WAKE_SECONDS):
                beat()  # waiting on purpose is progress: no watchdog restart for a full disk
            if not self.stop.is_set():
                self._guarded("intake", intake.recover)
                # The entries of the claim that failed are taken at once, not at the next
                # periodic rescan.
                intake.rescan_soon()

    def _guarded(self, loop: str, step: Callable[[], object]) -> bool:
        """Run one step of a loop: True if it ran; False after trouble, logged and noted.

        Transient storage trouble is noted as the disk problem (intake holds until it
        clears); a fatal one is raised (labd stops); anything else is logged, at most once
        a minute while it repeats.  The loop goes on either way.
        """
        try:
            step()
        except Exception as e:
            problem = transient_problem(e)
            if problem is not None:
                if self._disk_error is None:
                    log.error("daemon.storage_trouble", loop=loop, problem=problem)  # noqa: TRY400  # the problem says it all
                self._disk_error = f"{loop}: {problem}"
                return False
            if isinstance(e, JournalUnusable):
                raise
            self._loop_error(loop, e)
            return False
        return True

    def _loop_error(self, loop: str, error: Exception) -> None:
        key = (loop, f"{type(error).__name__}: {error}")
        now = self.clock.monotonic()
        last = self._logged.get(key)
        if last is not None and now - last < REPEAT_LOG_SECONDS:
            return
        self._logged[key] = now
        log.error("daemon.loop_error", loop=loop, error=key[1], repeated=last is not None,
                  exc_info=error)  # fmt: skip

    def _work_loop(self, pipeline: Pipeline) -> None:
        beat = self._beat("work")
        hang = faults.should_hang()
        while not self.stop.is_set():
            beat()
            try:
                job_id = self.work.get(timeout=LOOP_WAKE_SECONDS)
            except queue.Empty:
                continue
            with self._queued_lock:
                self._queued.discard(job_id)
            if hang:
                log.warning("daemon.fault_injected", fault=faults.HANG, job_id=job_id)
                threading.Event().wait()  # never returns: no more beats from this loop
            with structlog.contextvars.bound_contextvars(job_id=job_id):
                self._work_one(pipeline, job_id)

    def _work_one(self, pipeline: Pipeline, job_id: int) -> None:
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
                self._defer(job_id, f"work: {problem}")
                return
            if not is_jobs_fault(e):
                raise
            try:
                pipeline.fail_job(job_id, e, doing="converting and submitting it")
            except Exception as again:
                problem = transient_problem(again)
                if problem is not None:
                    self._defer(job_id, f"work: {problem}")
                elif isinstance(again, JournalUnusable):
                    raise
                else:
                    # Not even held (the job vanished?): it stays where the journal has it.
                    self._loop_error("work", again)

    def _defer(self, job_id: int, problem: str) -> None:
        log.error("pipeline.deferred", problem=problem)
        self._disk_error = problem
        self._deferred.add(job_id)

    def _follow_loop(self, pipeline: Pipeline) -> None:
        beat = self._beat("follow")
        next_retention = self.clock.monotonic()
        while not self.stop.is_set():
            beat()
            if self.clock.monotonic() >= next_retention:
                next_retention = self.clock.monotonic() + pipeline.config.retention.check_seconds
                self._guarded("retention", lambda: self._retention(pipeline, beat))
            self._guarded("follow", lambda: self._follow_once(pipeline, beat))
            self.stop.wait(self.config.follow_seconds)

    def _follow_once(self, pipeline: Pipeline, beat: Callable[[], None]) -> None:
        pipeline.follow(beat)
        for job_id in pipeline.due_retries():
            self.enqueue(job_id)
        # Jobs a command moved back into the life cycle (labd retry, reprint, resolve)
        # are in the journal only; enqueue() skips those already queued.
        for job in pipeline.journal.jobs(_WORK_STATES):
            if job.id not in self._deferred:
                self.enqueue(job.id)

    def _retention(self, pipeline: Pipeline, beat: Callable[[], None]) -> None:
        """Delete what is past its retention period; a failure waits for the next round."""
        try:
            # Built each round from the configuration in force: a reload changes periods.
            Retention(pipeline.journal, pipeline.config, self.clock, pipeline.cups).run_due(beat)
        except LabdError as e:
            if not is_jobs_fault(e):
                raise
            log.warning("retention.run_failed", error=e.get_message())

    # -- running -------------------------------------------------------------------------------

    def status_line(self, journal: Journal) -> str:
        """One line for systemd's STATUS= and ``labd status``."""
        counts = journal.counts()
        active = sum(
            counts.get(s, 0)
            for s in (JobState.CLAIMED, JobState.CONVERTED, JobState.SUBMITTING, JobState.SUBMITTED)
        )
        parts = [
            f"{len(self.config.hotfolders)} hot folders",
            f"{self.work.qsize()} jobs queued",
            f"{active} jobs in progress",
        ]
        if self._held is not None:
            parts.insert(0, f"NOT TAKING JOBS: {self._held}")
        for state in (JobState.HELD, JobState.UNCERTAIN, JobState.QUARANTINED):
            if counts.get(state):
                parts.append(f"{counts[state]} {state.value.lower()}")
        if counts.get(JobState.HELD):
            # Printer or queue trouble, once per rule and reason: what a technician fixes.
            trouble = {f"{j.rule}: {j.reason}" for j in journal.jobs([JobState.HELD])}
            parts.extend(sorted(trouble)[:3])
        parts.append(f"{counts.get(JobState.DONE, 0)} done")
        return ", ".join(parts)

    @staticmethod
    def _log_overdue(media: MediaLedger) -> None:
        """Customer media still in the house past their deadline: in the log until resolved."""
        for item in media.overdue():
            log.warning(
                "media.overdue",
                item=item.id,
                kind=item.kind.value,
                disposition=item.disposition.value,
                ready_since=item.ready_at,
                jobs=list(item.jobs),
            )

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

    def _status_or_trouble(self, journal: Journal) -> str:
        lines: list[str] = []
        if not self._guarded("main", lambda: lines.append(self.status_line(journal))):
            # The journal locked or its disk full: the loops hold; say so, keep pinging.
            lines.append(f"NOT TAKING JOBS: {self._disk_error or 'the journal cannot be read'}")
        return lines[0]

    def _publish(self, intake: Intake, line: str) -> None:
        """What ``labd status`` reads while labd runs: the loops' beats, holds, the line."""
        now = self.clock.monotonic()
        status = DaemonStatus(
            pid=os.getpid(),
            written_at=time.time(),
            beats={loop: round(now - t, 3) for loop, t in self._heartbeats.items()},
            held=self._held,
            set_aside=len(intake.set_aside),
            cups_server=self._cups_server,
            line=line,
        )
        try:
            write_status(self.config.state_dir, status)
        except OSError as e:
            self._loop_error("main", e)

    def _healthy(self) -> bool:
        now = self.clock.monotonic()
        stall = self.config.stall_seconds
        return all(now - t < stall for t in self._heartbeats.values())

    def _disk_problem(self) -> str | None:
        """Why no job should be taken now (spool or journal disk full, spool unwritable)."""
        config = self.config
        for what, folder in (("spool", config.spool_dir), ("journal", config.state_dir)):
            try:
                st = os.statvfs(folder)
            except OSError as e:
                return f"{what} {folder}: {e.strerror}"
            free = st.f_bavail * st.f_frsize
            if free < config.min_free_bytes:
                return (
                    f"{what} {folder}: {free // 1024**2} MB free, below min_free_mb "
                    f"({config.min_free_bytes // 1024**2})"
                )
        try:
            # os.access() says yes on a read-only mount; only a write proves it.
            with tempfile.TemporaryFile(dir=config.spool_dir, prefix=".labd-probe-"):
                pass
        except OSError as e:
            return f"spool {config.spool_dir} is not writable: {e.strerror}"
        return None

    def _check_disk(self, intake: Intake) -> None:
        """Hold intake while the disk is in trouble; release it, and deferred jobs, after."""
        problem = self._disk_problem()
        if problem is None and self._disk_error is not None:
            problem, self._disk_error = self._disk_error, None  # seen once; probe again next
        if problem == self._held:
            return
        if problem is not None:
            if self._held is None:
                log.error("daemon.intake_held", problem=problem)
            self._held = problem
            intake.held = problem
            return
        log.info("daemon.intake_resumed", was=self._held)
        self._held = None
        intake.held = None
        deferred, self._deferred = self._deferred, set()
        for job_id in sorted(deferred):
            self.enqueue(job_id)

    def _reread(self) -> Config | None:
        """The configuration file read again and checked, or None (logged) when it is bad."""
        try:
            return _reread(self.config)
        except ConfigError as e:
            error = e
        log.error(
            "daemon.reload_rejected",
            file=error.file,
            key=error.key,
            problem=error.problem,
            hint="the configuration labd started with runs on; fix the file and reload",
        )
        return None

    def _apply(self, new: Config, intake: Intake, pipeline: Pipeline) -> None:
        """Switch to ``new``: hot folders watched or released, in-flight jobs unharmed."""
        old = self.config
        removed = {n: hf for n, hf in old.hotfolders.items() if n not in new.hotfolders}
        # Jobs already claimed from a removed hot folder finish with its product and printer.
        pipeline.config = replace(
            new,
            hotfolders={**removed, **new.hotfolders},
            products={**pipeline.config.products, **new.products},
            printers={**pipeline.config.printers, **new.printers},
        )
        if new.cups_server != old.cups_server:
            pipeline.cups = CupsClient(new.cups_server)
            self._cups_server = new.cups_server
        intake.rescan_seconds = new.rescan_seconds
        intake.quarantine_dir = new.quarantine_dir
        self.config = new
        done = intake.replace_hotfolders(new.hotfolders)
        if not done.wait(RELOAD_WAIT_SECONDS):
            log.warning("daemon.reload_slow", waited=RELOAD_WAIT_SECONDS)
        log.info(
            "daemon.reloaded",
            file=str(new.source),
            added=sorted(set(new.hotfolders) - set(old.hotfolders)),
            removed=sorted(removed),
        )

    def _reload_now(self, intake: Intake, pipeline: Pipeline, journal: Journal) -> str:
        """SIGHUP: RELOADING=1, the new configuration or the old one, READY=1; the status."""
        self.notifier.reloading()
        log.info("daemon.reloading", file=str(self.config.source))
        new = self._reread()
        if new is not None:
            self._apply(new, intake, pipeline)
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
            _private_quarantine(config)
            faults.arm(faults.fault_from_env())
            self.handle_signals()
            # Every component's tables, migrated here (only the daemon migrates).
            journal = open_journal(config.journal_path, self.clock)
            try:
                return self._run(journal)
            finally:
                journal.close()
        finally:
            if own:
                lock.release()

    def _pipeline(self, journal: Journal) -> Pipeline:
        config = self.config
        workers = config.convert_workers or os.cpu_count() or 1
        return Pipeline(
            config=config,
            journal=journal,
            cups=CupsClient(config.cups_server),
            clock=self.clock,
            stop=self.stop,
            # The files of an order are converted in parallel, one process per core; each
            # is a fresh interpreter, so a decoder crash cannot take labd down with it.
            pool=SharedPool(workers) if workers > 1 else None,
        )

    def _run(self, journal: Journal) -> int:
        config = self.config
        journal.record("daemon.started", {"hotfolders": sorted(config.hotfolders)})
        media = MediaLedger(journal, config.media)
        detector = self._start_detector(media) if config.media.detect else None
        pipeline = self._pipeline(journal)
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
        try:
            intake.recover()  # each job contained on its own; this is for the rest
        except Exception as e:
            if not is_jobs_fault(e):
                raise  # at start: systemd starts labd again a few seconds later
            self._loop_error("intake", e)
        for job_id in pipeline.recover():
            self.enqueue(job_id)
        self._publish(intake, "starting")
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
        next_overdue = self.clock.monotonic()
        while not self.stop.wait(min(ping or 2.0, 2.0)):
            if self._reload.is_set():
                self._reload.clear()
                status = self._reload_now(intake, pipeline, journal)
            self._check_disk(intake)
            # Customer media whose orders are all done are ready to go back (or to the
            # shredder); the ledger says which.
            self._guarded("main", media.ready_for_done_jobs)
            if self.clock.monotonic() >= next_overdue:
                next_overdue = self.clock.monotonic() + OVERDUE_LOG_SECONDS
                self._guarded("main", lambda: self._log_overdue(media))
            line = self._status_or_trouble(journal)
            self._publish(intake, line)
            if self._healthy():
                self.notifier.watchdog()
            else:
                log.error("daemon.stalled", heartbeats=self._heartbeats)
            if line != status:
                status = line
                self.notifier.status(status)

        return self._shut_down(
            journal, threads, watcher=watcher, sink=sink, pipeline=pipeline, detector=detector
        )

    def _shut_down(
        self,
        journal: Journal,
        threads: list[threading.Thread],
        *,
        watcher: Watcher,
        sink: EventSink,
        pipeline: Pipeline,
        detector: MediaDetector | None,
    ) -> int:
        """Stop every part, loops first (the current step ends or is abandoned safely)."""
        self.notifier.stopping()
        if detector is not None:
            detector.stop()
        watcher.stop()
        sink.wake.set()
        for thread in threads:
            thread.join(timeout=30)
        if pipeline.pool is not None:
            pipeline.pool.shutdown()  # after the work loop: it may still wait on the pool
        stuck = [t.name for t in threads if t.is_alive()]
        clean = not stuck and not self._errors
        journal.record("daemon.stopped", {"clean": clean})
        if clean:
            # Gone after a clean stop only: a status file without a daemon tells `labd
            # status` of one that was killed, crashed or stopped on an error.
            (self.config.state_dir / STATUS_NAME).unlink(missing_ok=True)
        log.info("daemon.stopped", stuck_threads=stuck)
        # An unusable journal says so with its own exit code (4); any other loop's end, 1.
        codes = [e.exit_code for e in self._errors if isinstance(e, LabdError)]
        return codes[0] if codes else (1 if self._errors or stuck else 0)


def _private_quarantine(config: Config) -> None:
    """Quarantine folders technicians (the hot folders' group) can reach, whatever the umask.

    The unit's UMask=0077 would make them 0700; chmod is not subject to the umask.
    """
    folders = [config.quarantine_dir, *(config.quarantine_dir / n for n in config.hotfolders)]
    for folder in folders:
        folder.mkdir(mode=0o770, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o777 != 0o770:
            folder.chmod(0o770)


def _reread(old: Config) -> Config:
    """``old``'s file read and checked again; ConfigError when labd cannot switch to it."""
    new = load(old.source)
    check_paths(new)
    for attr, key in _RESTART_ONLY:
        if getattr(new, attr) != getattr(old, attr):
            raise ConfigError(str(old.source), key, "changes only with a restart of labd")
    try:
        _private_quarantine(new)
    except OSError as e:
        raise ConfigError(
            str(old.source), "labd.quarantine_dir", f"{new.quarantine_dir}: {e.strerror}"
        ) from e
    return new
