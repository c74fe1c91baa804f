"""Live events from the hot folders through watchdog (inotify where it works).

Events only say "look at this entry now"; the periodic rescan is what guarantees that
nothing is missed, so a lost or overflowed event costs latency, never a job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from labd.model import HotFolder

log = structlog.get_logger(__name__)

# A reader (a thumbnailer, a virus scanner, labd's own look) is no change to wait for.
_NOT_A_CHANGE: Final = frozenset({"opened", "closed_no_write"})


class _StopRace(logging.Filter):
    """Drop watchdog's error line about a race of its own at observer stop.

    watchdog 7 logs "queue_events() called when the thread is inactive" at ERROR when an
    inotify read returns while the observer is being stopped; nothing is lost (labd stops,
    or the rescan catches up), and an ERROR at every clean stop would hide real ones.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_StopRace())


class _Handler(FileSystemEventHandler):
    def __init__(self, hotfolder: HotFolder, sink: EventSink) -> None:
        self.hotfolder = hotfolder
        self.root = hotfolder.path
        self.sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _NOT_A_CHANGE:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = Path(raw.decode() if isinstance(raw, bytes) else raw)
            try:
                rel = path.relative_to(self.root)
            except ValueError:
                continue
            if rel.parts:
                self.sink.touched(self.hotfolder.name, rel.parts[0])


class EventSink:
    """Collects which top-level entries were touched, and wakes the intake loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._touched: set[tuple[str, str]] = set()
        self.wake = threading.Event()

    def touched(self, hotfolder: str, name: str) -> None:
        with self._lock:
            self._touched.add((hotfolder, name))
        self.wake.set()

    def drain(self) -> set[tuple[str, str]]:
        """Take the touched entries collected since the last drain."""
        with self._lock:
            touched, self._touched = self._touched, set()
        self.wake.clear()
        return touched


class Watcher:
    """One watchdog observer; :meth:`sync` keeps its watches equal to the folders given."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self._observer: BaseObserver | None = None
        self._watches: dict[Path, ObservedWatch] = {}

    def start(self) -> None:
        """Start the observer thread (no watches yet: see :meth:`sync`)."""
        observer = Observer()
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._watches = {}

    def sync(self, hotfolders: Iterable[HotFolder]) -> list[str]:
        """Watch exactly ``hotfolders``; return the names that could not be watched.

        Watches are live when this returns: watchdog schedules synchronously.
        """
        if self._observer is None:
            raise RuntimeError("Watcher.sync() before start()")
        wanted = {hf.path: hf for hf in hotfolders}
        for path in set(self._watches) - set(wanted):
            self._observer.unschedule(self._watches.pop(path))
            log.info("intake.unwatched", path=str(path))
        failed = []
        for path in set(wanted) - set(self._watches):
            hf = wanted[path]
            try:
                self._watches[path] = self._observer.schedule(
                    _Handler(hf, self.sink), str(path), recursive=True
                )
            except OSError as e:
                # The rescan still finds its jobs; the next sync tries again.
                log.warning("intake.watch_failed", hotfolder=hf.name, error=str(e))
                failed.append(hf.name)
        return failed

    def watched(self) -> int:
        """How many folders have a live watch."""
        return len(self._watches)

    def alive(self) -> bool:
        """True while the observer thread runs."""
        return self._observer is not None and self._observer.is_alive()

    def stop(self) -> None:
        """Remove the watches and join the observer thread."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
            self._watches = {}
