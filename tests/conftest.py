"""Fixtures shared by the test suites: real components, started once per session."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.demo.embedded import EmbeddedPrintServer
from labd.store import StoreLocation
from tests.pgserver import PostgresServer, running_server


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (an observer, a loop, a reader not stopped).

    A thread that is still winding down gets a short deadline to end.  Threads of C
    libraries that call back into Python (libvips' workers, logging a damaged JPEG) show
    up as dummy threads: not Python's to start or stop, so not counted.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # polling, with the deadline above
    assert not leaked, f"threads left running: {sorted(t.name for t in leaked)}"


@pytest.fixture(scope="session")
def print_server() -> Iterator[EmbeddedPrintServer]:
    """A private CUPS whose queue ``labd-virtual`` prints to a virtual IPP Everywhere printer.

    Its root is made under the system temp dir, not pytest's: CUPS runs filters and
    backends as user lp, who cannot enter pytest's 0700 base directory.
    """
    missing = EmbeddedPrintServer.missing_tools()
    if missing:
        pytest.skip("; ".join(missing))
    root = Path(tempfile.mkdtemp(prefix="labd-cups-"))
    try:
        with EmbeddedPrintServer(root).start(("labd-virtual",)) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (tests/pgserver.py): each test that asks
    for a journal location in it gets a schema of its own."""
    with running_server() as server:
        yield server


# The two stores labd's journal can live in: the suites that use ``store_location`` (and
# the ``journal`` built on it) run once on each.
BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    """Where a test's journal is: a SQLite file under tmp_path, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return tmp_path / "state" / "journal.sqlite"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.location()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many kill points and runs the crash test covered (issue 5 asks for it)."""
    module = sys.modules.get("tests.system.test_crash_kill_points")
    covered: dict[str, int] = getattr(module, "COVERED", {})
    if covered:
        terminalreporter.write_line(
            f"kill points covered: {len(covered)} points, {sum(covered.values())} runs "
            f"({', '.join(f'{p} x{n}' for p, n in covered.items())})"
        )
