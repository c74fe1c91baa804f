"""One daemon per state directory: the lock a second process holds, and what is left of it.

A POSIX record lock belongs to a process, so the holder here is a real second process;
the test never sleeps: the child says "locked" once it holds the lock, and a killed
child is waited for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.errors import AlreadyRunning
from labd.running import (
    LOCK_NAME,
    STATUS_NAME,
    DaemonLock,
    DaemonStatus,
    Holder,
    holder_of,
    last_run,
    read_status,
    write_status,
)

HOLDER = """\
import sys
from pathlib import Path
from labd.running import DaemonLock
lock = DaemonLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()  # holds the lock until its stdin closes, or it is killed
"""


TRY = """\
import sys
from pathlib import Path
from labd.errors import AlreadyRunning
from labd.running import DaemonLock
try:
    DaemonLock.acquire(Path(sys.argv[1])).release()
except AlreadyRunning as e:
    print(e)
    sys.exit(1)
print("locked")
"""


def try_to_lock(state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TRY, str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


@pytest.fixture
def holder(state: Path) -> Iterator[subprocess.Popen[str]]:
    """A second process that holds ``state``'s lock once this fixture returns."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "locked\n"  # it holds the lock now
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def test_a_second_daemon_is_refused_naming_the_first(state: Path, holder) -> None:
    with pytest.raises(AlreadyRunning) as info:
        DaemonLock.acquire(state)
    message = str(info.value)
    assert f"labd is already running on {state} (PID {holder.pid}, since " in message
    assert "since unknown" not in message  # the holder wrote when it took the lock
    assert (state / LOCK_NAME).read_text().split()[0] == str(holder.pid)  # left as it was
    found = holder_of(state)
    assert found is not None
    assert found.pid == holder.pid


def test_a_killed_daemon_stops_nobody(state: Path, holder) -> None:
    taken = holder_of(state)
    assert taken is not None
    assert taken.pid == holder.pid
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=30) == -signal.SIGKILL
    # The kernel let go of the lock with the process; its file stays, naming it.
    assert (state / LOCK_NAME).exists()
    assert holder_of(state) is None
    assert last_run(state) == Holder(pid=holder.pid, since=taken.since)
    with DaemonLock.acquire(state) as lock:  # the stale file stops nobody
        assert lock.path == state / LOCK_NAME
        # Really held: another process is refused, naming this one.  (Not holder_of() from
        # here: closing any descriptor of the file would drop this process's own lock.)
        refused = try_to_lock(state)
        assert refused.returncode == 1
        assert f"(PID {os.getpid()}, since " in refused.stdout
    mine = last_run(state)
    assert mine is not None
    assert mine.pid == os.getpid()
    assert mine.since >= taken.since
    # Released: another process takes it now.
    taken_again = try_to_lock(state)
    assert taken_again.returncode == 0, taken_again.stderr
    assert taken_again.stdout == "locked\n"


def test_a_daemon_that_ends_releases_its_lock(state: Path, holder) -> None:
    assert holder.stdin is not None
    holder.stdin.close()  # it ends by itself
    assert holder.wait(timeout=30) == 0
    assert holder_of(state) is None
    DaemonLock.acquire(state).release()


def test_nobody_holds_a_lock_never_taken(state: Path) -> None:
    assert holder_of(state) is None
    assert last_run(state) is None
    assert not (state / LOCK_NAME).exists()  # asking creates nothing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("4242 2026-12-06T21:04:00Z\n", Holder(4242, "2026-12-06T21:04:00Z"), id="ok"),
        pytest.param("4242\n", Holder(4242, ""), id="no-time"),
        pytest.param("", None, id="empty"),
        pytest.param("not a pid\n", None, id="garbage"),
        pytest.param("-1 x\n", None, id="negative"),
    ],
)
def test_last_run_reads_the_lock_file(state: Path, text, expected) -> None:
    (state / LOCK_NAME).write_text(text)
    assert last_run(state) == expected
    assert holder_of(state) is None  # a file nobody locks: nobody runs


def test_status_round_trip(state: Path) -> None:
    status = DaemonStatus(
        pid=4242,
        written_at=1_000_000.5,
        beats={"intake": 0.5, "work": 12.25},
        held="the journal is locked by another process",
        set_aside=2,
        cups_server="/run/labd/cups.sock",
        line="printing 3 jobs",
    )
    write_status(state, status)
    assert read_status(state) == status
    assert [p.name for p in state.iterdir()] == [STATUS_NAME]  # no temporary file left
    back = read_status(state)
    assert back is not None
    assert back.beat_ages(now=1_000_010.5) == {"intake": 10.5, "work": 22.25}
    # A clock that went back makes nothing younger than it was when written.
    assert back.beat_ages(now=999_000.0) == {"intake": 0.5, "work": 12.25}
    assert back.beat_ages()["intake"] >= time.time() - 1_000_000.5


def test_status_defaults_round_trip(state: Path) -> None:
    status = DaemonStatus(pid=1, written_at=0.0)
    write_status(state, status)
    assert read_status(state) == status
    write_status(state, DaemonStatus(pid=2, written_at=1.0, line="replaced"))
    back = read_status(state)
    assert back is not None
    assert (back.pid, back.line) == (2, "replaced")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="cut-short"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[]", id="a-list"),
        pytest.param(json.dumps({"pid": 1}).encode(), id="missing-keys"),
        pytest.param(json.dumps({"pid": "x", "written_at": 0, "beats": {}}).encode(), id="type"),
        pytest.param(json.dumps({"pid": 1, "written_at": 0, "beats": "ab"}).encode(), id="beats"),
    ],
)
def test_an_unreadable_status_is_none(state: Path, content) -> None:
    (state / STATUS_NAME).write_bytes(content)
    assert read_status(state) is None
    assert (state / STATUS_NAME).read_bytes() == content  # left for a technician to see


def test_no_status_is_none(state: Path) -> None:
    assert read_status(state) is None
