"""Hot folders: watch, rescan, wait for stability, check, claim.

:class:`Intake` turns entries of the hot folders into CLAIMED jobs.  It is driven by
:meth:`Intake.tick`, which the daemon's intake thread calls whenever an event arrives or a
deadline passes, and which tests call directly with an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import structlog

from labd.clock import Clock
from labd.intake.claim import INBOX, claim, inspect, recover
from labd.intake.stability import StabilityTracker, is_ignored
from labd.intake.watch import EventSink, Watcher
from labd.journal import Journal
from labd.model import HotFolder, Job
from labd.quarantine import quarantine

__all__ = ["EventSink", "Intake", "Watcher"]

log = structlog.get_logger(__name__)


class Intake:
    """Finds complete entries in the hot folders and claims them as jobs."""

    def __init__(
        self,
        hotfolders: Mapping[str, HotFolder],
        journal: Journal,
        *,
        spool_dir: Path,
        quarantine_dir: Path,
        rescan_seconds: float,
        clock: Clock,
        on_claimed: Callable[[Job], None],
    ) -> None:
        self.hotfolders = dict(hotfolders)
        self.journal = journal
        self.spool_dir = spool_dir
        self.quarantine_dir = quarantine_dir
        self.rescan_seconds = rescan_seconds
        self.clock = clock
        self.on_claimed = on_claimed
        self.trackers = {
            name: StabilityTracker(hf.path, hf.stability_seconds, hf.ignore, clock)
            for name, hf in self.hotfolders.items()
        }
        self._next_rescan = clock.monotonic()  # the first tick scans everything

    def recover(self) -> list[Job]:
        """Finish claims a crash interrupted; call once before the first tick."""
        jobs = recover(self.journal, self.hotfolders)
        for job in jobs:
            self._claimed(job, self.hotfolders[job.hotfolder])
        return jobs

    def tick(self, touched: Iterable[tuple[str, str]] = ()) -> float:
        """Look at what changed, claim what is stable; return seconds until the next look."""
        now = self.clock.monotonic()
        names: set[tuple[str, str]] = set()
        for hotfolder, name in touched:
            tracker = self.trackers.get(hotfolder)
            if tracker is not None:
                tracker.touch(name)
                names.add((hotfolder, name))
        if now >= self._next_rescan:
            names |= self.rescan()
            self._next_rescan = now + self.rescan_seconds
        for hotfolder, tracker in self.trackers.items():
            names |= {(hotfolder, n) for n in tracker.pending()}
        for hotfolder, name in sorted(names):
            self._look(self.hotfolders[hotfolder], name)
        waits = [t.seconds_to_next() for t in self.trackers.values()]
        pending = [w for w in waits if w is not None]
        until_rescan = max(0.0, self._next_rescan - self.clock.monotonic())
        # Re-check pending entries at least a few times a second: a copy that ends is only
        # seen by its signature staying the same.
        return min([until_rescan, *[max(w, 0.05) for w in pending], *([0.25] if pending else [])])

    def rescan(self) -> set[tuple[str, str]]:
        """Every non-ignored top-level entry of every hot folder."""
        found = set()
        for name, hf in self.hotfolders.items():
            try:
                entries = [p.name for p in hf.path.iterdir()]
            except OSError as e:
                log.warning("intake.hotfolder_unavailable", hotfolder=name, error=e.strerror)
                continue
            found |= {(name, e) for e in entries if not is_ignored(e, hf.ignore)}
        return found

    def _look(self, hf: HotFolder, name: str) -> None:
        if is_ignored(name, hf.ignore):
            return
        tracker = self.trackers[hf.name]
        if not tracker.observe(name):
            return
        tracker.forget(name)
        job = claim(self.journal, hf, name, self.spool_dir)
        if job is not None:
            self._claimed(job, hf)

    def _claimed(self, job: Job, hf: HotFolder) -> None:
        entry = Path(job.spool) / INBOX / job.entry
        refusal = inspect(entry, hf.ignore)
        if refusal is not None:
            quarantine(
                entry,
                self.quarantine_dir,
                hotfolder=hf.name,
                job_id=job.id,
                rule=refusal.rule,
                reason=refusal.reason,
            )
            self.journal.quarantined(job.id, rule=refusal.rule, reason=refusal.reason)
            self.journal.record("security.refused", {"rule": refusal.rule}, job_id=job.id)
            return
        if not self.journal.files(job.id):
            reason = f"{job.entry} holds no files labd could print"
            quarantine(
                entry,
                self.quarantine_dir,
                hotfolder=hf.name,
                job_id=job.id,
                rule="intake.empty",
                reason=reason,
            )
            self.journal.quarantined(job.id, rule="intake.empty", reason=reason)
            return
        self.on_claimed(job)
