"""labd's threads: each loop's heartbeat, its failure boundary, the watchdog's verdict.

A loop beats whenever it makes progress; one whose last beat is older than
``[labd] stall_seconds`` is stuck, the watchdog pings stop and systemd restarts labd
(which loses nothing: every step is journaled).  A step of a loop runs inside
:meth:`Loops.guarded`: transient storage trouble is handed to the disk guard, an unusable
journal stops labd, anything else is logged (in full once, then once a minute while it
repeats) and the loop goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

import structlog

from labd.clock import Clock
from labd.daemon.disk import DiskGuard
from labd.errors import JournalUnusable, LabdError, transient_problem

__all__ = ["LOOP_WAKE_SECONDS", "REPEAT_LOG_SECONDS", "Loops"]

log = structlog.get_logger(__name__)

# How often a waiting loop wakes to beat and look at the stop event.
LOOP_WAKE_SECONDS: Final = 1.0
# A loop's error that repeats is logged in full once, then at most this often.
REPEAT_LOG_SECONDS: Final = 60.0


class Loops:
    """The loops' threads and heartbeats; errors that ended a loop."""

    def __init__(self, clock: Clock, stop: threading.Event, disk: DiskGuard) -> None:
        self.clock = clock
        self.stop = stop
        self.disk = disk
        self.heartbeats: dict[str, float] = {}
        self.errors: list[BaseException] = []  # what ended a loop (labd stops)
        self._logged: dict[tuple[str, str], float] = {}  # loop errors: when last logged

    def beat_of(self, loop: str) -> Callable[[], None]:
        """The function ``loop`` calls whenever it makes progress."""

        def beat() -> None:
            self.heartbeats[loop] = self.clock.monotonic()

        return beat

    def start(self, name: str, target: Callable[[], None]) -> threading.Thread:
        """Run ``target`` as loop ``name`` in its own thread; its end stops labd."""

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
                self.errors.append(e)
                self.stop.set()

        thread = threading.Thread(target=run, name=f"labd-{name}", daemon=True)
        self.heartbeats[name] = self.clock.monotonic()
        thread.start()
        return thread

    def guarded(self, loop: str, step: Callable[[], object]) -> bool:
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
                if self.disk.error is None:
                    log.error("daemon.storage_trouble", loop=loop, problem=problem)  # noqa: TRY400  # the problem says it all
                self.disk.error = f"{loop}: {problem}"
                return False
            if isinstance(e, JournalUnusable):
                raise
            self.error(loop, e)
            return False
        return True

    def error(self, loop: str, error: Exception) -> None:
        """Log a loop's unexpected error: in full once, then once a minute while it repeats."""
        key = (loop, f"{type(error).__name__}: {error}")
        now = self.clock.monotonic()
        last = self._logged.get(key)
        if last is not None and now - last < REPEAT_LOG_SECONDS:
            return
        self._logged[key] = now
        log.error("daemon.loop_error", loop=loop, error=key[1], repeated=last is not None,
                  exc_info=error)  # fmt: skip

    def ages(self) -> dict[str, float]:
        """Seconds since each loop's last beat."""
        now = self.clock.monotonic()
        return {loop: round(now - t, 3) for loop, t in self.heartbeats.items()}

    def healthy(self, stall_seconds: float) -> bool:
        """Every loop has beaten within ``stall_seconds``."""
        now = self.clock.monotonic()
        return all(now - t < stall_seconds for t in self.heartbeats.values())
