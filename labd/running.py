"""Whether labd runs on a state directory, and what it says about itself while it does.

One daemon per journal: the daemon holds an exclusive POSIX record lock on
``<state_dir>/labd.lock`` for as long as it lives, taken before anything else is started
(the demo's private CUPS included).  The kernel releases it when the process ends, however
it ends, so a lock file left by a killed labd stops nobody.  A second daemon finds the lock
taken and exits, naming the first one's PID.

``labd status`` asks the kernel who holds the lock (``F_GETLK``: it takes nothing, so it
can never make a starting daemon fail), and reads ``<state_dir>/labd.status.json``, which
the daemon rewrites every few seconds: the age of each loop's last heartbeat, why intake
is held, the CUPS server in use.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from labd.errors import AccessDenied, AlreadyRunning

LOCK_NAME: Final = "labd.lock"
STATUS_NAME: Final = "labd.status.json"
# struct flock on Linux (x86_64, aarch64): l_type, l_whence (short); l_start, l_len
# (off_t); l_pid (pid_t); native alignment pads it as the kernel expects.
_FLOCK: Final = "hhqqi"


@dataclass(frozen=True)
class Holder:
    """The daemon holding a state directory's lock."""

    pid: int
    since: str  # when it took the lock (UTC, ISO 8601), or "" if it wrote none


class DaemonLock:
    """The exclusive lock of one state directory; ``with DaemonLock.acquire(dir): ...``."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> DaemonLock:
        """Take the lock, or raise AlreadyRunning naming the daemon that has it."""
        path = state_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except PermissionError as e:
            raise AccessDenied(str(path), "Run labd as the service's user or root.") from e
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = holder_of(state_dir)
            pid = holder.pid if holder is not None else "unknown"
            since = holder.since if holder is not None and holder.since else "unknown"
            raise AlreadyRunning(str(state_dir), pid, since) from None
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {since}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        """Let go of the lock (closing the file is what releases it)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def holder_of(state_dir: Path) -> Holder | None:
    """The daemon holding ``state_dir``'s lock, or None when no daemon runs on it."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except PermissionError as e:
        raise AccessDenied(str(path), "Run the command as the service's user or root.") from e
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        lock_type, _, _, _, pid = struct.unpack(_FLOCK, answer)
        if lock_type == fcntl.F_UNLCK:
            return None
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
    finally:
        os.close(fd)
    return Holder(pid=pid, since=text[1] if len(text) > 1 else "")


def last_run(state_dir: Path) -> Holder | None:
    """The PID and start of the daemon that last took the lock, running or not."""
    try:
        text = (state_dir / LOCK_NAME).read_text(errors="replace").split()
    except OSError:
        return None
    if not text or not text[0].isdigit():
        return None
    return Holder(pid=int(text[0]), since=text[1] if len(text) > 1 else "")


@dataclass(frozen=True)
class DaemonStatus:
    """What a running daemon says about itself (``labd.status.json``)."""

    pid: int
    written_at: float  # time.time() when written
    beats: dict[str, float] = field(default_factory=dict)  # loop -> seconds since its beat
    held: str | None = None  # why intake takes nothing now
    set_aside: int = 0  # hot-folder entries an unexpected error stopped
    cups_server: str | None = None  # the CUPS server labd prints through
    line: str = ""  # the one-line status systemd shows

    def beat_ages(self, now: float | None = None) -> dict[str, float]:
        """Each loop's seconds since its last heartbeat, as of ``now``."""
        late = max(0.0, (time.time() if now is None else now) - self.written_at)
        return {loop: age + late for loop, age in self.beats.items()}


def write_status(state_dir: Path, status: DaemonStatus) -> None:
    """Replace the status file (no fsync: it is rewritten every few seconds anyway)."""
    path = state_dir / STATUS_NAME
    tmp = path.with_name(f".{STATUS_NAME}.tmp")
    data = {
        "pid": status.pid,
        "written_at": status.written_at,
        "beats": status.beats,
        "held": status.held,
        "set_aside": status.set_aside,
        "cups_server": status.cups_server,
        "line": status.line,
    }
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def read_status(state_dir: Path) -> DaemonStatus | None:
    """The daemon's last status, or None (none written, or unreadable)."""
    try:
        data = json.loads((state_dir / STATUS_NAME).read_text())
        return DaemonStatus(
            pid=int(data["pid"]),
            written_at=float(data["written_at"]),
            beats={str(k): float(v) for k, v in dict(data["beats"]).items()},
            held=data.get("held"),
            set_aside=int(data.get("set_aside", 0)),
            cups_server=data.get("cups_server"),
            line=str(data.get("line", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_status(state_dir: Path) -> DaemonStatus | None:
    """The status of the daemon running on ``state_dir`` now, or None: none runs there,
    or it has not written its status yet (the file of an earlier, killed one is not its)."""
    holder = holder_of(state_dir)
    if holder is None:
        return None
    status = read_status(state_dir)
    return status if status is not None and status.pid == holder.pid else None
