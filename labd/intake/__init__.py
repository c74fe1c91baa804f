"""Hot folders: watch, rescan, wait for stability, check, claim.

:class:`Intake` turns entries of the hot folders into CLAIMED jobs.  It is driven by
:meth:`Intake.tick`, which the daemon's intake thread calls whenever an event arrives or a
deadline passes, and which tests call directly with an injected clock.  Its
:class:`~labd.intake.scan.Scanner` says which entries are complete; the claim, the checks
of a claimed job and the boundaries that keep an unexpected error to one entry or one job
are here.
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
from labd.intake.related import relate
from labd.intake.safety import FolderCheck
from labd.intake.scan import Scanner
from labd.intake.stability import Signature
from labd.intake.ticket import read_ticket
from labd.intake.watch import EventSink, Watcher
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.model import HotFolder, Job, JobFile, JobKind, JobState
from labd.names import safe_name
from labd.quarantine import quarantine
from labd.spool import entry_of

__all__ = ["EventSink", "Intake", "Watcher"]

log = structlog.get_logger(__name__)

# Entries claimed per pair of journal commits in a burst: large enough that thousands of
# files cost a few commits, small enough that the loop reports progress in between.
CLAIM_BATCH: Final = 500


class Intake:
    """Takes the entries its :class:`Scanner` finds complete and claims them as jobs."""

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
        self.scanner = Scanner(hotfolders, rescan_seconds=rescan_seconds, clock=clock)
        self.media = media
        self.journal = journal
        self.spool_dir = spool_dir
        self.quarantine_dir = quarantine_dir
        self.clock = clock
        self.on_claimed = on_claimed
        self.held: str | None = None  # why no job is taken now (disk full, ...), or None
        self._contained: set[tuple[str, str]] = set()  # (hot folder, entry) quarantined now
        self.beat: Callable[[], None] = lambda: None  # the intake loop's heartbeat

    @property
    def hotfolders(self) -> dict[str, HotFolder]:
        """The hot folders watched now."""
        return self.scanner.hotfolders

    @property
    def checks(self) -> dict[str, FolderCheck]:
        """What the last look found about each hot folder."""
        return self.scanner.checks

    @property
    def set_aside(self) -> dict[tuple[str, str], Signature | None]:
        """Entries an unexpected error stopped, left alone until they change."""
        return self.scanner.set_aside

    @property
    def rescan_seconds(self) -> float:
        """Seconds between two full looks at a hot folder watched by inotify."""
        return self.scanner.rescan_seconds

    @rescan_seconds.setter
    def rescan_seconds(self, seconds: float) -> None:
        self.scanner.rescan_seconds = seconds

    def replace_hotfolders(self, hotfolders: Mapping[str, HotFolder]) -> threading.Event:
        """Watch ``hotfolders`` instead, from the next loop turn (see :class:`Scanner`)."""
        return self.scanner.replace_hotfolders(hotfolders)

    def check_folders(self) -> dict[str, FolderCheck]:
        """Check every hot folder's permissions and filesystem; log what changed."""
        return self.scanner.check_folders()

    def inotify_folders(self) -> list[HotFolder]:
        """The folders to watch with inotify: safe, and on a local filesystem."""
        return self.scanner.inotify_folders()

    def rescan_soon(self) -> None:
        """Look at every hot folder afresh at the next tick (after intake was held)."""
        self.scanner.rescan_soon()

    def rescan(self) -> set[tuple[str, str]]:
        """Every non-ignored top-level entry of every safe hot folder."""
        return self.scanner.rescan()

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
            replaced = self.scanner.apply_replacement()
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
        for hotfolder, ready in self.scanner.stable(touched).items():
            if not self.scanner.still_safe(hotfolder, ready):
                continue
            hf = self.hotfolders[hotfolder]
            for start in range(0, len(ready), CLAIM_BATCH):
                self._claim(hf, ready[start : start + CLAIM_BATCH])
                self.beat()
        return self.scanner.seconds_to_next_look()

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
                    self.scanner.put_aside(hf, name, e)

    def _vet(self, job: Job) -> Callable[[], None]:
        """Check a just-claimed job inside the claim's transaction; say what comes next.

        Refused or bad input is recorded QUARANTINED (its files move after the commit); a
        good job's ticket is recorded, and how it relates to earlier jobs of its name (the
        rest of an order, the fixed files of a quarantined job: :mod:`labd.intake.related`);
        all in the same commit as CLAIMED.
        """
        faults.raise_point("intake", job.entry)
        hf = self.hotfolders.get(job.hotfolder)
        entry = entry_of(job)
        if hf is None:  # the hot folder left the configuration: no rules to check it by
            return lambda: self.on_claimed(job)
        refusal = inspect(entry, hf)
        if refusal is not None:
            # Refused unread: nothing of it is trusted enough to replace or continue a job.
            self.journal.quarantined(job.id, rule=refusal.rule, reason=refusal.reason)
            self.journal.record("security.refused", {"rule": refusal.rule}, job_id=job.id)
            return lambda: self._to_quarantine(self.journal.job(job.id), entry)
        rejected: InputRejected | None = None
        files = self.journal.files(job.id)
        if not files:
            reason = f"{job.entry} holds no files labd could print"
            rejected = InputRejected(reason, rule="intake.empty")
        elif job.kind is JobKind.ORDER:
            try:
                self._apply_ticket(job, entry, files)
            except InputRejected as e:
                rejected = e
        late = relate(self.journal, self.journal.job(job.id), hf)  # also for bad input
        rejected = rejected or late
        if rejected is not None:
            self.journal.quarantined(job.id, rule=rejected.rule, reason=rejected.reason)
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
        self.journal.notes.ticket(
            job.id, order_ref=ticket.order, copies=copies, media=len(ticket.media)
        )
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
