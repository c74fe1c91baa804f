"""``labd journal``: the newest events by default, and ``--follow`` as events are written."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock
from labd.config import load
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from tests.factories import GOOD_CONFIG, job_in_state, write_config

REPO = Path(__file__).resolve().parents[2]
EXIT_INTERRUPTED = 130


@pytest.fixture
def config(tmp_path: Path, store_location: StoreLocation) -> Path:
    """A configuration and a journal holding one printed job (a dozen events), in each
    store (see tests/conftest.py)."""
    path = write_config(tmp_path, GOOD_CONFIG, journal=store_location)
    with open_journal(load(path).journal_location, ManualClock()) as journal:
        job_in_state(journal, JobState.DONE, tmp_path / "spool")
    return path


def seqs(config: Path, *argv: str) -> list[int]:
    out = io.StringIO()
    assert main(["--config", str(config), "journal", *argv, "--format", "json"], out=out) == 0
    return [json.loads(line)["seq"] for line in out.getvalue().splitlines()]


def test_limit_shows_the_newest_events_in_order(config: Path) -> None:
    every = seqs(config)
    assert len(every) > 5
    assert seqs(config, "--limit", "3") == every[-3:]
    assert seqs(config, "--limit", "3", "--oldest") == every[:3]
    assert (
        seqs(config, "--limit", "2", "--kind", "job.state_changed")
        == seqs(config, "--kind", "job.state_changed")[-2:]
    )
    out = io.StringIO()
    assert main(["--config", str(config), "journal", "--limit", "3"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "JOB", "EVENT", "DETAILS"]
    assert [int(line.split()[0]) for line in lines[1:]] == every[-3:]


class Lines:
    """The lines a subprocess writes, read by a thread; taken with a deadline, never a sleep."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), name="lines")
        self._thread.start()

    def _read(self, stream: io.TextIOBase) -> None:
        for line in stream:
            self._lines.put(line)

    def take(self, n: int, *, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while len(got) < n:
            try:
                got.append(self._lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"{len(got)} of {n} lines within {timeout} s: {got}") from None
        return got

    def join(self) -> None:
        self._thread.join(timeout=10)


@pytest.fixture
def follow(config: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """``labd journal --follow`` running in its own process, as a supervisor runs it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "labd", "--config", str(config), "journal", "--follow",
         "--format", "json"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    lines = Lines(proc)
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
        lines.join()


def test_follow_prints_new_events_as_they_come_and_stops_on_ctrl_c(
    config: Path, follow: tuple[subprocess.Popen[str], Lines]
) -> None:
    proc, lines = follow
    with open_journal(load(config).journal_location) as journal:
        newest = [e.seq for e in journal.events()][-10:]
        first = [json.loads(line)["seq"] for line in lines.take(10, timeout=30)]
        assert first == newest  # as tail -f: the newest ten first
        item = MediaLedger(journal).register(MediaKind.DVD, "TAG-5", by="anna", orders=["A-1"])
        journal.record("daemon.started", {"pid": 1})

    [registered, started] = [json.loads(line) for line in lines.take(2, timeout=30)]
    assert (registered["kind"], registered["data"]["item"]) == ("media.registered", item.id)
    assert (started["kind"], started["seq"]) == ("daemon.started", registered["seq"] + 1)

    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_INTERRUPTED
    assert "Traceback" not in err
