"""When is an entry of a hot folder completely copied?  Signatures and a quiet period.

An entry (a file, or an order folder and everything in it) is stable once its signature
(inode, sizes and modification times of everything in it) has not changed, and no event
has touched it, for the hot folder's stability period.  A hot folder with
``order_ready = "marker"`` takes an order folder only once a marker (READY or the job
ticket) is in it, however long it stays quiet: technicians who build orders by hand pause.
The clock is injected so tests make time pass without sleeping.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from labd.clock import Clock
from labd.intake.ticket import TICKET_NAME
from labd.model import OrderReady

# A file by this name in an order folder says "the copy is complete, take it now".
READY_MARKER: Final = "READY"
# What says an order folder is complete where order_ready = "marker": READY, or the ticket.
ORDER_MARKERS: Final = (READY_MARKER, TICKET_NAME)

Signature = tuple[object, ...]


def is_ignored(name: str, patterns: Iterable[str]) -> str | None:
    """The glob in ``patterns`` that ``name`` matches, or None.  Case-sensitive, like Samba.

    A name of dots alone (``...``) is no hidden or temporary file of any tool: it is never
    ignored, so a technician's file of that name is taken (and refused with a reason).
    """
    if not name.strip("."):
        return None
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


def signature(path: Path, ignore: Iterable[str]) -> Signature | None:
    """What must stay the same for ``path`` to be quiet; None when it is gone.

    Links are never followed: a symlink's signature is that of the link itself.
    """
    patterns = tuple(ignore)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    top: Signature = (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if not stat.S_ISDIR(st.st_mode):
        return top
    parts: list[Signature] = [top]
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d, patterns))
        for name in sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]):
            if is_ignored(name, patterns):
                continue
            inner = Path(dirpath, name)
            try:
                fst = inner.lstat()
            except FileNotFoundError:
                continue  # removed while we looked: the next look sees the new state
            rel = str(inner.relative_to(path))
            parts.append(
                (rel, fst.st_ino, fst.st_mode, fst.st_size, fst.st_mtime_ns, fst.st_ctime_ns)
            )
    return tuple(parts)


def last_change_ns(sig: Signature) -> int:
    """The newest inode change time in a signature (ctime: a writer cannot set it back)."""
    if sig and isinstance(sig[0], tuple):
        return max(int(part[-1]) for part in sig if isinstance(part, tuple))
    return int(str(sig[-1]))


def has_ready_marker(path: Path) -> bool:
    """True when an order folder carries the READY marker."""
    return (path / READY_MARKER).is_file()


def has_order_marker(path: Path) -> bool:
    """True when an order folder carries READY or its ticket (``order_ready = "marker"``)."""
    return any((path / name).is_file() for name in ORDER_MARKERS)


def is_folder(sig: Signature) -> bool:
    """True when a signature is an order folder's (a folder's has one part per file)."""
    return bool(sig) and isinstance(sig[0], tuple)


@dataclass
class _Watch:
    signature: Signature
    quiet_since: float  # monotonic: first sight of this signature, or the last event


@dataclass
class StabilityTracker:
    """Tracks the entries of one hot folder until each has been quiet long enough."""

    root: Path
    stability_seconds: float
    ignore: tuple[str, ...]
    clock: Clock
    # On a local filesystem the kernel's ctime says when an entry last changed, so a file
    # moved in after a finished copy is taken one stability period after the move, not
    # after labd first saw it.  Off for network filesystems: their clocks are not ours.
    trust_ctime: bool = False
    order_ready: OrderReady = OrderReady.STABLE
    _entries: dict[str, _Watch] = field(default_factory=dict)

    def touch(self, name: str) -> None:
        """An event touched ``name``: its quiet period starts again."""
        watch = self._entries.get(name)
        if watch is not None:
            watch.quiet_since = self.clock.monotonic()

    def observe(self, name: str) -> bool:
        """Look at ``name`` now; True when it is stable and may be claimed."""
        path = self.root / name
        sig = signature(path, self.ignore)
        now = self.clock.monotonic()
        if sig is None:
            self._entries.pop(name, None)
            return False
        watch = self._entries.get(name)
        if watch is None or watch.signature != sig:
            self._entries[name] = _Watch(sig, now)
            return False
        # Only once two looks in a row saw the same entry.  A READY marker says "take it
        # now", but a copy tool that copies the marker early must not get its order taken
        # half-copied.
        if self.order_ready is OrderReady.MARKER and is_folder(sig):
            if has_order_marker(path):
                return True
            # Quiet, but not marked complete: not taken, and not looked at again and again
            # either.  The next event in it, or the next rescan, brings it back.
            self._entries.pop(name, None)
            return False
        return self._wait(watch, now) <= 0 or has_ready_marker(path)

    def _wait(self, watch: _Watch, now: float) -> float:
        """Seconds until ``watch`` has been quiet for the stability period."""
        wait = watch.quiet_since + self.stability_seconds - now
        if self.trust_ctime:
            changed = last_change_ns(watch.signature) / 1e9
            wait = min(wait, changed + self.stability_seconds - self.clock.now().timestamp())
        return wait

    def forget(self, name: str) -> None:
        """Stop tracking ``name`` (claimed, or gone)."""
        self._entries.pop(name, None)

    def pending(self) -> list[str]:
        """Names being tracked, not yet stable."""
        return list(self._entries)

    def seconds_to_next(self) -> float | None:
        """How long until the earliest tracked entry could become stable; None if none."""
        if not self._entries:
            return None
        now = self.clock.monotonic()
        return max(0.0, min(self._wait(w, now) for w in self._entries.values()))
