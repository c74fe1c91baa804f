"""Live events from the hot folders through watchdog (inotify where it works).

Events only say "look at this entry now"; the periodic rescan is what guarantees that
nothing is missed, so a lost or overflowed event costs latency, never a job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from labd.model import HotFolder

log = structlog.get_logger(__name__)


class _Handler(FileSystemEventHandler):
    def __init__(self, hotfolder: HotFolder, sink: EventSink) -> None:
        self.hotfolder = hotfolder
        self.root = hotfolder.path
        self.sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
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
    """One watchdog observer for all hot folders."""

    def __init__(self, hotfolders: Iterable[HotFolder], sink: EventSink) -> None:
        self.hotfolders = list(hotfolders)
        self.sink = sink
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Install the watches; live when this returns: watchdog schedules synchronously."""
        observer = Observer()
        for hf in self.hotfolders:
            observer.schedule(_Handler(hf, self.sink), str(hf.path), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        log.info("intake.watching", hotfolders=len(self.hotfolders))

    def alive(self) -> bool:
        """True while the observer thread runs."""
        return self._observer is not None and self._observer.is_alive()

    def stop(self) -> None:
        """Remove the watches and join the observer thread."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
