"""Hot folders: watch, rescan, wait for stability, check, claim.

:class:`Intake` turns entries of the hot folders into CLAIMED jobs.  It is driven by
:meth:`Intake.tick`, which the daemon's intake thread calls whenever an event arrives or a
deadline passes, and which tests call directly with an injected clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final

import structlog

from labd import faults
from labd.clock import Clock
from labd.errors import (
    INTERNAL_RULE,
    InputRejected,
    is_jobs_fault,
    unexpected_reason,
)
from labd.intake.claim import claim_many, inspect, recover
from labd.intake.safety import FolderCheck, check_folder, folder_problem
from labd.intake.stability import Signature, StabilityTracker, is_ignored, signature
from labd.intake.ticket import read_ticket
from labd.intake.watch import EventSink, Watcher
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.model import HotFolder, Job, JobFile, JobKind, JobState, WatchMode
from labd.names import safe_name
from labd.quarantine import quarantine
from labd.spool import entry_of

__all__ = ["EventSink", "Intake", "Watcher"]

log = structlog.get_logger(__name__)

# Entries claimed per pair of journal commits in a burst: large enough that thousands of
# files cost a few commits, small enough that the loop reports progress in between.
CLAIM_BATCH: Final = 500


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
        media: MediaLedger | None = None,
    ) -> None:
        self.hotfolders = dict(hotfolders)
        self.media = media
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
        self.checks: dict[str, FolderCheck] = {}
        # The first tick scans everything; after that each folder on its own rhythm.
        self._next_scan = dict.fromkeys(self.hotfolders, clock.monotonic())
        # Set by other threads, applied by the intake loop between ticks (see run()).
        self._replacement: tuple[dict[str, HotFolder], threading.Event] | None = None
        self._lock = threading.Lock()
        self.held: str | None = None  # why no job is taken now (disk full, ...), or None
        # Entries an unexpected error stopped, by (hot folder, name): left where they are,
        # untouched, until they change (their signature then).
        self.set_aside: dict[tuple[str, str], Signature | None] = {}
        self._contained: set[tuple[str, str]] = set()  # (hot folder, entry) quarantined now
        self.beat: Callable[[], None] = lambda: None  # the intake loop's heartbeat

    def replace_hotfolders(self, hotfolders: Mapping[str, HotFolder]) -> threading.Event:
        """Watch ``hotfolders`` instead, from the next loop turn; the event is set once done.

        Entries of a removed folder already claimed are jobs and go on; nothing more is
        taken from it.  A new folder is checked and scanned at once.
        """
        done = threading.Event()
        with self._lock:
            self._replacement = (dict(hotfolders), done)
        return done

    def _apply_replacement(self) -> threading.Event | None:
        with self._lock:
            replacement, self._replacement = self._replacement, None
        if replacement is None:
            return None
        hotfolders, done = replacement
        now = self.clock.monotonic()
        for name in set(self.hotfolders) - set(hotfolders):
            log.info("intake.hotfolder_released", hotfolder=name)
        for name, hf in hotfolders.items():
            if self.hotfolders.get(name) != hf:
                # New or changed (path, stability, ignore list): track and scan it afresh.
                self.trackers[name] = StabilityTracker(
                    hf.path, hf.stability_seconds, hf.ignore, self.clock
                )
                self.checks.pop(name, None)
                self._next_scan[name] = now
        for name in set(self.hotfolders) - set(hotfolders):
            self.trackers.pop(name, None)
            self.checks.pop(name, None)
            self._next_scan.pop(name, None)
        self.hotfolders = hotfolders
        return done

    def check_folders(self) -> dict[str, FolderCheck]:
        """Check every hot folder's permissions and filesystem; log what changed."""
        for name, hf in self.hotfolders.items():
            self._check(name, hf)
        return self.checks

    def _check(self, name: str, hf: HotFolder) -> FolderCheck:
        check = check_folder(hf)
        before = self.checks.get(name)
        self.checks[name] = check
        self.trackers[name].trust_ctime = check.watch is WatchMode.INOTIFY
        if before is not None and (before.problem, before.watch) == (check.problem, check.watch):
            return check
        if check.problem is not None:
            # Refused: nothing in it is read or taken until the problem is fixed.
            log.error("intake.hotfolder_refused", hotfolder=name, problem=check.problem)
        else:
            log.info(
                "intake.hotfolder_watched",
                hotfolder=name,
                watch=check.watch.value,
                filesystem=check.filesystem,
            )
        return check

    def inotify_folders(self) -> list[HotFolder]:
        """The folders to watch with inotify: safe, and on a local filesystem."""
        return [
            self.hotfolders[n]
            for n, c in self.checks.items()
            if c.ok and c.watch is WatchMode.INOTIFY
        ]

    def run(
        self,
        sink: EventSink,
        watcher: Watcher,
        stop: threading.Event,
        *,
        beat: Callable[[], None] = lambda: None,
        max_wait: float = 1.0,
    ) -> None:
        """The intake loop: events and deadlines drive :meth:`tick` until ``stop`` is set."""
        self.beat = beat
        while not stop.is_set():
            beat()
            if not watcher.alive():
                log.error("intake.observer_died")
                watcher.stop()
                watcher.start()
            replaced = self._apply_replacement()
            if self.held is not None:
                # Nothing is taken; events stay in the sink, and the scan that follows the
                # release finds whatever arrived meanwhile.
                self.rescan_soon()
                if replaced is not None:
                    replaced.set()
                stop.wait(max_wait)  # not sink.wake: it stays set while events wait
                continue
            wait = self.tick(sink.drain())
            # Folders refused or unavailable at the last look lose their watch; fixed ones
            # get it back, without a restart.
            watcher.sync(self.inotify_folders())
            if replaced is not None:
                replaced.set()
            sink.wake.wait(min(wait, max_wait))

    def rescan_soon(self) -> None:
        """Look at every hot folder afresh at the next tick (after intake was held)."""
        self._next_scan = dict.fromkeys(self.hotfolders, self.clock.monotonic())

    def recover(self) -> list[Job]:
        """Finish what a crash interrupted; call once before the first tick.

        Claims cut in half are finished (and checked), and refused jobs whose files had
        not reached the quarantine yet are moved there.  No job is left DISCOVERED: one
        that fails is quarantined (internal.error).
        """
        jobs = recover(self.journal, self.hotfolders, vet=self._vet, contain=self._contain)
        for job in self.journal.jobs([JobState.QUARANTINED]):
            entry = entry_of(job)
            if job.entry and (entry.exists() or entry.is_symlink()):
                try:
                    self._to_quarantine(job, entry)
                except Exception as e:
                    if not is_jobs_fault(e):
                        raise
                    log.exception("intake.quarantine_failed", job_id=job.id)
        return jobs

    def _contain(self, job: Job, error: Exception) -> None:
        """Take a job an unexpected error stopped at intake out of the life cycle.

        It is journaled QUARANTINED (internal.error) with what failed, its files are moved
        into the quarantine with the reason beside them, and intake goes on with the rest.
        """
        log.error(
            "intake.job_failed",
            job_id=job.id,
            hotfolder=job.hotfolder,
            error=f"{type(error).__name__}: {error}",
            exc_info=error,
        )
        self._contained.add((job.hotfolder, job.entry))
        if job.state in (JobState.DISCOVERED, JobState.CLAIMED):
            reason = unexpected_reason(error, doing="taking it from the hot folder", job_id=job.id)
            self.journal.quarantined(job.id, rule=INTERNAL_RULE, reason=reason)
        entry = entry_of(job)
        if job.entry and (entry.exists() or entry.is_symlink()):
            try:
                self._to_quarantine(self.journal.job(job.id), entry)
            except Exception as e:
                if not is_jobs_fault(e):
                    raise
                # QUARANTINED is journaled: the next start moves the files.
                log.exception("intake.quarantine_failed", job_id=job.id)

    def tick(self, touched: Iterable[tuple[str, str]] = ()) -> float:
        """Look at what changed, claim what is stable; return seconds until the next look."""
        now = self.clock.monotonic()
        names: set[tuple[str, str]] = set()
        for hotfolder, name in touched:
            tracker = self.trackers.get(hotfolder)
            if tracker is not None:
                tracker.touch(name)
                names.add((hotfolder, name))
        for hotfolder, hf in self.hotfolders.items():
            if now >= self._next_scan[hotfolder]:
                check = self._check(hotfolder, hf)
                polled = check.watch is WatchMode.POLL
                self._next_scan[hotfolder] = now + (
                    hf.poll_seconds if polled else self.rescan_seconds
                )
                if check.ok:
                    names |= {(hotfolder, e) for e in self._scan(hf)}
        for hotfolder, tracker in self.trackers.items():
            names |= {(hotfolder, n) for n in tracker.pending()}
        stable: dict[str, list[str]] = {}
        for hotfolder, name in sorted(names):
            known = self.checks.get(hotfolder)
            if known is not None and known.ok and self._stable(self.hotfolders[hotfolder], name):
                stable.setdefault(hotfolder, []).append(name)
        for hotfolder, ready in stable.items():
            hf = self.hotfolders[hotfolder]
            # Looked at again right before the claim: nothing is taken from a folder that
            # is open to others at this moment, even if it was fine at the last scan.  Its
            # modes only (one lstat); the full check, logged, when they are wrong.
            if folder_problem(hf) is not None and not self._check(hotfolder, hf).ok:
                # Not taken, not forgotten: looked at again (a new quiet period) once fixed.
                for name in ready:
                    self.trackers[hotfolder].observe(name)
                continue
            for start in range(0, len(ready), CLAIM_BATCH):
                self._claim(hf, ready[start : start + CLAIM_BATCH])
                self.beat()
        pending = [w for t in self.trackers.values() if (w := t.seconds_to_next()) is not None]
        until_scan = max(0.0, min(self._next_scan.values()) - self.clock.monotonic())
        # Re-check pending entries at least a few times a second: a copy that ends is only
        # seen by its signature staying the same.
        return min([until_scan, *[max(w, 0.05) for w in pending], *([0.25] if pending else [])])

    def _claim(self, hf: HotFolder, names: list[str]) -> None:
        """Claim ``names``; an unexpected error is contained to the entry that causes it.

        A failed batch is finished job by job (a job that fails alone is quarantined), and
        entries not yet journaled are tried one by one; one that fails alone is set aside.
        Storage trouble is not an entry's fault: it is raised, and the loop holds intake.
        """
        try:
            claim_many(self.journal, hf, names, self.spool_dir, vet=self._vet)
        except Exception as e:
            if not is_jobs_fault(e):
                raise
            log.exception("intake.claim_failed", hotfolder=hf.name, entries=len(names))
            self._contained.clear()
            recover(self.journal, self.hotfolders, vet=self._vet, contain=self._contain)
            for name in names:
                contained = (hf.name, safe_name(name)) in self._contained
                if len(names) > 1 and not contained:
                    self._claim(hf, [name])
                elif (hf.path / name).exists() or (hf.path / name).is_symlink():
                    self._set_aside(hf, name, e)

    def _set_aside(self, hf: HotFolder, name: str, error: Exception) -> None:
        self.set_aside[(hf.name, name)] = signature(hf.path / name, hf.ignore)
        log.error(
            "intake.entry_set_aside",
            hotfolder=hf.name,
            entry=safe_name(name),
            error=f"{type(error).__name__}: {error}",
            hint="labd could not take this entry; it stays in the hot folder, untouched, "
            "until it changes: copy it again or rename it, or remove it",
        )

    def rescan(self) -> set[tuple[str, str]]:
        """Every non-ignored top-level entry of every safe hot folder."""
        return {
            (name, entry)
            for name, hf in self.hotfolders.items()
            if self._check(name, hf).ok
            for entry in self._scan(hf)
        }

    def _scan(self, hf: HotFolder) -> list[str]:
        try:
            entries = [p.name for p in hf.path.iterdir()]
        except OSError as e:
            log.warning("intake.hotfolder_unavailable", hotfolder=hf.name, error=e.strerror)
            return []
        return [e for e in entries if not is_ignored(e, hf.ignore)]

    def _stable(self, hf: HotFolder, name: str) -> bool:
        if is_ignored(name, hf.ignore):
            return False
        key = (hf.name, name)
        if key in self.set_aside:
            if signature(hf.path / name, hf.ignore) == self.set_aside[key]:
                return False
            del self.set_aside[key]  # changed (or gone): looked at afresh
        tracker = self.trackers[hf.name]
        if not tracker.observe(name):
            return False
        tracker.forget(name)
        return True

    def _vet(self, job: Job) -> Callable[[], None]:
        """Check a just-claimed job inside the claim's transaction; say what comes next.

        Refused or bad input is recorded QUARANTINED (its files move after the commit); a
        good job's ticket is recorded; either way in the same commit as CLAIMED.
        """
        faults.raise_point("intake", job.entry)
        hf = self.hotfolders.get(job.hotfolder)
        entry = entry_of(job)
        if hf is None:  # the hot folder left the configuration: no rules to check it by
            return lambda: self.on_claimed(job)
        refusal = inspect(entry, hf)
        if refusal is not None:
            self.journal.quarantined(job.id, rule=refusal.rule, reason=refusal.reason)
            self.journal.record("security.refused", {"rule": refusal.rule}, job_id=job.id)
            return lambda: self._to_quarantine(self.journal.job(job.id), entry)
        files = self.journal.files(job.id)
        if not files:
            reason = f"{job.entry} holds no files labd could print"
            self.journal.quarantined(job.id, rule="intake.empty", reason=reason)
            return lambda: self._to_quarantine(self.journal.job(job.id), entry)
        if job.kind is JobKind.ORDER:
            try:
                self._apply_ticket(job, entry, files)
            except InputRejected as e:
                self.journal.quarantined(job.id, rule=e.rule, reason=e.reason)
                return lambda: self._to_quarantine(self.journal.job(job.id), entry)
        return lambda: self.on_claimed(job)

    def _to_quarantine(self, job: Job, entry: Path) -> None:
        """Move a QUARANTINED job's files out of the spool, with the reason beside them."""
        faults.crash_point("refused")  # QUARANTINED committed, the files still in the spool
        quarantine(entry, self.quarantine_dir, hotfolder=job.hotfolder, job_id=job.id,
                   rule=job.rule or "intake.refused", reason=job.reason or "refused")  # fmt: skip

    def _apply_ticket(self, job: Job, entry: Path, files: list[JobFile]) -> None:
        """Record what the order's ticket says; InputRejected when it is bad."""
        prefix = f"{job.entry}/"
        inside = {f.name.removeprefix(prefix): f.seq for f in files}
        ticket = read_ticket(entry, list(inside))
        if ticket is None:
            return
        copies = {
            seq: n for name, seq in inside.items() if (n := ticket.copies_of(name)) is not None
        }
        self.journal.ticket(job.id, order_ref=ticket.order, copies=copies, media=len(ticket.media))
        for carrier in ticket.media:
            if self.media is None:
                log.warning("intake.ticket_media_ignored", job_id=job.id)
                break
            self.media.receive(
                carrier.kind,
                carrier.identifier,
                id_kind=carrier.id_kind,
                disposition=carrier.disposition,
                orders=[ticket.order] if ticket.order else [],
                job=job.id,
                by=job.technician,
            )
