"""End-to-end fixtures: labd as a real subprocess, a real sd_notify socket, a real CUPS."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from labd.demo.embedded import EmbeddedPrintServer
from labd.store import PostgresLocation
from labd.store.postgres import pg_sql
from tests.factories import journal_table
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class NotifySocket:
    """A real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET.

    Like systemd, it reads all the time (a thread), so labd never finds the queue full.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.unlink(missing_ok=True)  # left by the labd run before a restart
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="notify-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                self.messages.append(data.decode())
                self._changed.notify_all()

    def wait_for(self, line: str, timeout: float = 30.0) -> list[str]:
        """Wait until a datagram carries ``line``; return every datagram seen so far."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: any(line in m.splitlines() for m in self.messages), timeout
            ):
                raise AssertionError(f"no {line!r} from labd within {timeout} s: {self.messages}")
            return list(self.messages)

    def close(self) -> None:
        self._closed.set()
        self._reader.join(5)
        self.sock.close()


@dataclass
class Lab:
    """A labd configuration in a temporary folder, and the labd process running it."""

    root: Path
    server: EmbeddedPrintServer
    queue: str
    stability: float = 0.5
    rescan: float = 30.0  # [labd] rescan_seconds: the full rescan behind inotify
    proc: subprocess.Popen[bytes] | None = None
    notify: NotifySocket | None = None
    hotfolder_settings: str = ""  # more TOML lines for [hotfolders.prints-10x15]
    more_config: str = ""  # more TOML tables, after the hot folder ("[metrics]\nlisten = ...")
    journal_at: PostgresLocation | None = None  # a shared journal; None: the SQLite file
    node: str | None = None  # [journal] node (default: the host name)

    @property
    def config_path(self) -> Path:
        return self.root / "labd.toml"

    @property
    def hot(self) -> Path:
        return self.root / "hot" / "prints-10x15"

    @property
    def journal_path(self) -> Path:
        return self.root / "state" / "journal.sqlite"

    @property
    def log_path(self) -> Path:
        return self.root / "labd.log"

    def write_config(self) -> None:
        self.config_path.write_text(
            textwrap.dedent(f"""\
            [labd]
            state_dir = "state"
            spool_dir = "spool"
            quarantine_dir = "quarantine"
            hotfolder_root = "hot"
            stability_seconds = {self.stability}
            rescan_seconds = {self.rescan}
            follow_seconds = 0.2

            [cups]
            server = "{self.server.server}"

            [printers.virtual]
            queue = "{self.queue}"

            [products.prints-10x15]
            format = "jpeg"
            size = "6x4 in"
            dpi = 300
            fit = "fill"
            jpeg_quality = 90

            [hotfolders.prints-10x15]
            product = "prints-10x15"
            printer = "virtual"
            """)
            + self.hotfolder_settings
            + "\n"
            + self.more_config
            + journal_table(self.journal_at, self.node)
        )
        self.hot.mkdir(parents=True, exist_ok=True)
        self.hot.chmod(0o770)  # labd refuses hot folders that others can reach

    def labd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a labd command against this lab's configuration."""
        return subprocess.run(
            [sys.executable, "-m", "labd", "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
            cwd=REPO,
        )

    def start(self, *options: str) -> None:
        """Start ``labd [OPTIONS] run`` and wait for READY=1 on the notify socket."""
        self.notify = NotifySocket(self.root / "notify.sock")
        env = dict(
            os.environ,
            NOTIFY_SOCKET=str(self.notify.path),
            WATCHDOG_USEC="2000000",
            LABD_LOG_LEVEL="DEBUG",
        )
        env.pop("WATCHDOG_PID", None)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "labd", "--config", str(self.config_path), *options, "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )
        try:
            self.notify.wait_for("READY=1")
        except AssertionError:
            self.stop()
            raise AssertionError(f"labd did not become ready; log:\n{self.log()}") from None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        if self.notify is not None:
            self.notify.close()
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self, name: str) -> list[dict[str, object]]:
        """labd's JSON log lines named ``name``, as data."""
        found = []
        for line in self.log().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == name:
                found.append(entry)
        return found

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Read the journal as a supervisor's tool would: a separate read-only connection."""
        if self.journal_at is not None:
            with psycopg.connect(self.journal_at.url, autocommit=True) as pg:
                return list(pg.execute(pg_sql(sql), args).fetchall())
        conn = sqlite3.connect(f"file:{self.journal_path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def job_states(self) -> dict[int, str]:
        return {int(str(i)): str(s) for i, s in self.query("SELECT id, state FROM jobs")}

    def wait_for_state(self, job_id: int, states: set[str], timeout: float = 60.0) -> str:
        def reached() -> str | None:
            state = self.job_states().get(job_id)
            return state if state in states else None

        try:
            return wait_until(reached, timeout=timeout, what=f"job {job_id} in {states}")
        except AssertionError:
            raise AssertionError(
                f"job {job_id} stuck in {self.job_states().get(job_id)}; log:\n{self.log()[-6000:]}"
            ) from None

    def wait_for_jobs(self, count: int, timeout: float = 30.0) -> list[int]:
        return sorted(
            wait_until(
                lambda: list(self.job_states()) if len(self.job_states()) >= count else None,
                timeout=timeout,
                what=f"{count} jobs in the journal",
            )
        )


_queues = itertools.count(1)


@pytest.fixture
def virtual_queue(print_server: EmbeddedPrintServer) -> str:
    """A queue of this test's own, printing to a virtual IPP printer.

    Every test's journal numbers its jobs from 1, so CUPS job names (labd-<job>-<n>) repeat
    across tests: a queue per test keeps each test's CUPS history its own.
    """
    name = f"lab-{next(_queues)}"
    print_server.add_printer_queue(name)
    return name


@pytest.fixture
def lab(
    tmp_path_factory: pytest.TempPathFactory, print_server: EmbeddedPrintServer, virtual_queue: str
) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    lab = Lab(root=root, server=print_server, queue=virtual_queue)
    lab.write_config()
    yield lab
    if lab.proc is not None and lab.proc.poll() is None:
        lab.proc.kill()
        lab.proc.wait()
    if lab.notify is not None:
        # After a failed test too: its reader thread would be reported as leaked,
        # hiding the real failure.
        lab.notify.close()


# -- labd demo -------------------------------------------------------------------------------


@pytest.fixture
def demo_dir() -> Iterator[Path]:
    """A folder for ``labd demo --dir``: outside pytest's 0700 tmp base, as CUPS' filters
    run as user lp, and short, as the embedded cupsd's socket path must fit in sun_path."""
    base = Path(tempfile.mkdtemp(prefix="labd-demo-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        _kill_leftovers(base)
        shutil.rmtree(base, ignore_errors=True)


def _kill_leftovers(base: Path) -> None:
    """SIGKILL, by PID, any process still running on ``base`` (a demo's cupsd, printers and
    bus when a failed test had to kill the demo itself); each names ``base`` in its
    command line, and ``base`` is this test's own folder."""
    mine = os.fsencode(base)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if mine in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def demo_command(base: Path, config: Path = REPO / "config" / "labd.toml") -> list[str]:
    """``labd demo`` on ``config`` (the shipped one unless given), everything under ``base``."""
    return [sys.executable, "-m", "labd", "--config", str(config), "demo", "--dir", str(base)]
