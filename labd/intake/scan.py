"""Which entries of the hot folders are ready to be claimed now.

:class:`Scanner` is intake's eyes: it keeps the hot folders watched at this moment, each
one's safety check, stability tracker and next rescan, and the entries set aside after an
unexpected error.  It decides nothing about jobs: :class:`~labd.intake.Intake` claims what
it reports, and contains what fails.  A reload replaces the folders between two looks, so a
look never sees half of an old configuration and half of a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

import structlog

from labd.clock import Clock
from labd.intake.safety import FolderCheck, check_folder, folder_problem
from labd.intake.stability import Signature, StabilityTracker, is_ignored, signature
from labd.model import HotFolder, WatchMode
from labd.names import safe_name

log = structlog.get_logger(__name__)


class Scanner:
    """Looks at the hot folders: checks, rescans, stability; says what may be claimed."""

    def __init__(
        self, hotfolders: Mapping[str, HotFolder], *, rescan_seconds: float, clock: Clock
    ) -> None:
        self.hotfolders = dict(hotfolders)
        self.rescan_seconds = rescan_seconds
        self.clock = clock
        self.trackers = {name: _tracker(hf, clock) for name, hf in self.hotfolders.items()}
        self.checks: dict[str, FolderCheck] = {}
        # The first look scans everything; after that each folder on its own rhythm.
        self._next_scan = dict.fromkeys(self.hotfolders, clock.monotonic())
        # Set by other threads, applied by the intake loop between ticks (see Intake.run).
        self._replacement: tuple[dict[str, HotFolder], threading.Event] | None = None
        self._lock = threading.Lock()
        # Entries an unexpected error stopped, by (hot folder, name): left where they are,
        # untouched, until they change (their signature then).
        self.set_aside: dict[tuple[str, str], Signature | None] = {}

    def replace_hotfolders(self, hotfolders: Mapping[str, HotFolder]) -> threading.Event:
        """Watch ``hotfolders`` instead, from the next loop turn; the event is set once done.

        Entries of a removed folder already claimed are jobs and go on; nothing more is
        taken from it.  A new folder is checked and scanned at once.
        """
        done = threading.Event()
        with self._lock:
            self._replacement = (dict(hotfolders), done)
        return done

    def apply_replacement(self) -> threading.Event | None:
        """Take the folders :meth:`replace_hotfolders` asked for; their event, or None."""
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
                self.trackers[name] = _tracker(hf, self.clock)
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

    def rescan_soon(self) -> None:
        """Look at every hot folder afresh at the next look (after intake was held)."""
        self._next_scan = dict.fromkeys(self.hotfolders, self.clock.monotonic())

    def stable(self, touched: Iterable[tuple[str, str]] = ()) -> dict[str, list[str]]:
        """Look at what changed and what is due a rescan; the stable entries by hot folder."""
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
        return stable

    def still_safe(self, hotfolder: str, ready: list[str]) -> bool:
        """Look at a folder again right before its entries ``ready`` are claimed.

        Nothing is taken from a folder that is open to others at this moment, even if it
        was fine at the last scan.  Its modes only (one lstat); the full check, logged,
        when they are wrong.
        """
        hf = self.hotfolders[hotfolder]
        if folder_problem(hf) is None or self._check(hotfolder, hf).ok:
            return True
        # Not taken, not forgotten: looked at again (a new quiet period) once fixed.
        for name in ready:
            self.trackers[hotfolder].observe(name)
        return False

    def seconds_to_next_look(self) -> float:
        """How long until an entry may have become stable, or a rescan is due."""
        pending = [w for t in self.trackers.values() if (w := t.seconds_to_next()) is not None]
        until_scan = max(0.0, min(self._next_scan.values()) - self.clock.monotonic())
        # Re-check pending entries at least a few times a second: a copy that ends is only
        # seen by its signature staying the same.
        return min([until_scan, *[max(w, 0.05) for w in pending], *([0.25] if pending else [])])

    def put_aside(self, hf: HotFolder, name: str, error: Exception) -> None:
        """Leave an entry an unexpected error stopped alone until it changes."""
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


def _tracker(hf: HotFolder, clock: Clock) -> StabilityTracker:
    """A stability tracker with the hot folder's rules."""
    return StabilityTracker(
        hf.path, hf.stability_seconds, hf.ignore, clock, order_ready=hf.order_ready
    )
