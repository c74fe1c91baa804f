"""The disk guard: intake takes nothing while the spool or journal disk is in trouble.

Trouble is a spool or journal file system below ``min_free_mb``, a spool that cannot be
written (a read-only mount), or storage trouble a loop ran into (disk full, journal
locked).  Intake is held until the trouble clears; the jobs it interrupted stay in their
last journaled state and are taken up again once it has.
"""

from __future__ import annotations

import os
import tempfile

import structlog

from labd.config import Config
from labd.intake import Intake

__all__ = ["DiskGuard", "disk_problem"]

log = structlog.get_logger(__name__)


def disk_problem(config: Config) -> str | None:
    """Why no job should be taken now (spool or journal disk full, spool unwritable)."""
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


class DiskGuard:
    """Whether intake is held, why, and the jobs to take up again once it is released."""

    def __init__(self) -> None:
        self.held: str | None = None  # why intake takes nothing now
        self.error: str | None = None  # the last storage trouble a loop ran into
        self.deferred: set[int] = set()  # jobs a storage error interrupted

    def defer(self, job_id: int, problem: str) -> None:
        """A job stopped by storage trouble: it goes on once the trouble has cleared."""
        log.error("pipeline.deferred", problem=problem)
        self.error = problem
        self.deferred.add(job_id)

    def check(self, config: Config, intake: Intake) -> list[int]:
        """Hold intake while the disk is in trouble; on release, the jobs to take up again."""
        problem = disk_problem(config)
        if problem is None and self.error is not None:
            problem, self.error = self.error, None  # seen once; probe again next
        if problem == self.held:
            return []
        if problem is not None:
            if self.held is None:
                log.error("daemon.intake_held", problem=problem)
            self.held = problem
            intake.held = problem
            return []
        log.info("daemon.intake_resumed", was=self.held)
        self.held = None
        intake.held = None
        deferred, self.deferred = self.deferred, set()
        return sorted(deferred)
