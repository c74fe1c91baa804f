"""One daemon per state directory, and what ``labd status`` says about it.

Real processes and real signals: a second ``labd run`` or ``labd demo`` on a state
directory in use exits with code 11 and touches nothing; ``labd status`` tells a running
daemon, a queue stopped in CUPS, a clean stop and a killed daemon apart; a hot folder opened
to others between a drop and the claim gives nothing away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labd.demo.embedded import EmbeddedPrintServer
from labd.demo.processes import unix_socket_answers
from labd.running import LOCK_NAME, STATUS_NAME, read_status
from tests.imagegen import make_photo
from tests.system.conftest import REPO, Lab, demo_command
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

ALREADY_RUNNING = 11  # AlreadyRunning.exit_code, as the README documents it
FINAL = {"DONE", "HELD", "QUARANTINED"}


def drop(source: Path, folder: Path) -> bytes:
    """Copy a finished photo into a hot folder, as a technician's copy would; its bytes."""
    shutil.copy(source, folder / source.name)
    return source.read_bytes()


# -- a second `labd run` -------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_a_second_labd_run_exits_11_naming_the_first_and_the_first_prints_on(
    lab: Lab, tmp_path: Path
) -> None:
    lab.start()
    assert lab.proc is not None
    first = lab.proc.pid

    started = time.monotonic()
    second = lab.labd("run", check=False)  # it must end by itself: lab.labd times out at 60 s
    took = time.monotonic() - started
    said = second.stdout + second.stderr
    assert second.returncode == ALREADY_RUNNING, said
    assert f"PID {first}" in second.stderr
    assert "already running" in second.stderr
    assert "Traceback" not in said
    assert took < 30, f"the second labd took {took:.1f} s to give up"

    # The second one touched nothing: the first runs on, alone in its journal and lock.
    assert lab.proc.poll() is None
    assert lab.query("SELECT count(*) FROM events WHERE kind = 'daemon.started'") == [(1,)]
    assert (lab.root / "state" / LOCK_NAME).read_text().split()[0] == str(first)
    assert lab.labd("status").stdout.startswith(f"labd: running, PID {first},")

    make_photo(tmp_path / "after.jpg", size=(1200, 800))
    drop(tmp_path / "after.jpg", lab.hot)
    [job_id] = lab.wait_for_jobs(1, timeout=60)
    assert lab.wait_for_state(job_id, FINAL, timeout=120) == "DONE"
    assert lab.stop() == 0


# -- a second `labd demo` ------------------------------------------------------------------------


def demo_status(base: Path) -> list[str]:
    """``labd status`` of the demo under ``base`` (``--base``, as its banner says)."""
    config = str(REPO / "config" / "labd.toml")
    return subprocess.run(
        [sys.executable, "-m", "labd", "--config", config, "--base", str(base), "status"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=REPO,
    ).stdout.splitlines()


def job_states(journal: Path) -> dict[int, str]:
    """The demo's jobs, read as a supervisor's tool would: read-only, a connection of its own."""
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return {int(i): str(s) for i, s in conn.execute("SELECT id, state FROM jobs")}
    finally:
        conn.close()


def answers(sock: Path) -> bool:
    """True when something listens on the AF_UNIX stream socket ``sock``."""
    return unix_socket_answers(sock, timeout=5)


@pytest.mark.timeout(600)
def test_a_second_demo_exits_11_and_leaves_the_first_ones_cups_alone(
    demo_dir: Path, tmp_path: Path
) -> None:
    missing = EmbeddedPrintServer.missing_tools()
    if missing:
        pytest.skip("; ".join(missing))
    base = demo_dir
    output = tmp_path / "first-demo.out"
    with output.open("wb") as out:
        # A session of its own: a Ctrl-C (SIGINT to the foreground process group) can be
        # sent to the demo and its conversion workers alone.
        first = subprocess.Popen(
            demo_command(base),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            start_new_session=True,
        )

    def said() -> str:
        return output.read_text(errors="replace")

    try:
        wait_until(
            lambda: "labd demo is running" in said() or first.poll() is not None,
            timeout=180,
            what="the first demo to say it is running",
        )
        assert first.poll() is None, said()
        journal = base / "state" / "journal.sqlite"
        wait_until(journal.exists, timeout=60, what=f"the first demo's journal {journal}")
        # EmbeddedPrintServer(<dir>/printer): cupsd listens on printer/cups/run/cups.sock.
        cups_socket = base / "printer" / "cups" / "run" / "cups.sock"
        assert cups_socket.is_socket(), said()
        before = cups_socket.stat()

        second = subprocess.run(
            demo_command(base),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        both = second.stdout + second.stderr
        assert second.returncode == ALREADY_RUNNING, both
        assert f"PID {first.pid}" in second.stderr
        assert "already running" in second.stderr
        assert "Traceback" not in both
        # It started nothing: no CUPS of its own, no daemon, no "running" banner.
        assert "labd demo is running" not in both
        assert "embedded_cups" not in both
        assert "daemon.ready" not in both
        # The first demo's CUPS socket is the very same file, still answering.
        assert cups_socket.is_socket(), "the second demo took the first one's CUPS socket"
        after = cups_socket.stat()
        assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
        assert answers(cups_socket)
        assert first.poll() is None, said()

        # `labd status` as the banner says to run it: the first demo, its CUPS' queues.
        def published() -> list[str] | None:
            lines = demo_status(base)
            return lines if any("loops' last heartbeat" in x for x in lines) else None

        lines = wait_until(published, timeout=60, what="the first demo to publish its status")
        assert lines[0].startswith(f"labd: running, PID {first.pid}, since ")
        assert any(x.startswith("printer minilab: queue minilab: idle") for x in lines), lines

        # The first demo still prints.
        printed = base / "printer" / "ipp" / "out"
        printed_before = set(printed.iterdir()) if printed.is_dir() else set()
        make_photo(tmp_path / "IMG_0001.jpg", size=(1200, 800))
        drop(tmp_path / "IMG_0001.jpg", base / "hot" / "prints-10x15")
        [job_id] = wait_until(
            lambda: list(job_states(journal)), timeout=120, what="the demo to take the photo"
        )
        wait_until(
            lambda: job_states(journal)[job_id] in FINAL,
            timeout=180,
            what=f"job {job_id} to finish",
        )
        assert job_states(journal)[job_id] == "DONE", said()[-6000:]
        documents = wait_until(
            lambda: [
                p
                for p in printed.iterdir()
                if p not in printed_before
                and not p.name.startswith(".")
                and not p.name.endswith(".env")
            ],
            timeout=60,
            what="a document at the demo's virtual printer",
        )
        assert len(documents) == 1

        # Ctrl-C: SIGINT to the demo's process group, as a terminal sends it.
        os.killpg(first.pid, signal.SIGINT)
        code = first.wait(timeout=120)
        assert code == 0, said()[-6000:]
        assert "Traceback" not in said()
        assert not answers(cups_socket), "the demo's cupsd outlived the demo"
        stopped = demo_status(base)[0]
        assert stopped.startswith(f"labd: NOT RUNNING (last run: PID {first.pid}, "), stopped
    finally:
        if first.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=60)


# -- labd status -------------------------------------------------------------------------------


def status(lab: Lab) -> list[str]:
    return lab.labd("status").stdout.splitlines()


def printer_line(lines: list[str], lab: Lab) -> str:
    [line] = [x for x in lines if x.startswith("printer virtual:")]
    assert f"queue {lab.queue}:" in line
    return line


def cups_admin(lab: Lab, *args: str) -> None:
    """Run a CUPS administration command against the lab's private server."""
    subprocess.run(
        [*args, "-h", lab.server.server, lab.queue],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


def running_status(lab: Lab) -> list[str]:
    """``labd status`` once the running daemon has published its loops' heartbeats."""

    def published() -> list[str] | None:
        lines = status(lab)
        beats = [x for x in lines if "loops' last heartbeat:" in x]
        if beats and all(loop in beats[0] for loop in ("intake", "work", "follow")):
            return lines
        return None

    return wait_until(published, timeout=60, what="labd status to show the loops' heartbeats")


@pytest.mark.timeout(300)
def test_status_running_printer_stopped_clean_stop_and_killed(lab: Lab) -> None:
    state = lab.root / "state"
    lab.start()
    assert lab.proc is not None
    pid = lab.proc.pid

    lines = running_status(lab)
    assert lines[0].startswith(f"labd: running, PID {pid}, since ")
    [beats] = [x for x in lines if "loops' last heartbeat:" in x]
    assert "STALLED" not in beats
    line = printer_line(lines, lab)
    assert "accepting jobs" in line
    assert "STOPPED" not in line
    assert line.endswith("0 of labd's jobs waiting")

    # The printer is out of ink: a technician (or CUPS) stops the queue, with a reason.
    cups_admin(lab, "cupsdisable", "-r", "ink empty")
    try:
        line = printer_line(status(lab), lab)
        assert "STOPPED" in line
        assert "ink empty" in line
        assert line.endswith("0 of labd's jobs waiting")
    finally:
        cups_admin(lab, "cupsenable")
    line = printer_line(status(lab), lab)
    assert "STOPPED" not in line
    assert "ink empty" not in line

    # A clean stop: not running, and nothing to worry about.
    assert lab.stop(signal.SIGTERM) == 0
    assert not (state / STATUS_NAME).exists()
    lines = status(lab)
    assert lines[0].startswith(f"labd: NOT RUNNING (last run: PID {pid}, started ")
    assert "did not stop cleanly" not in "\n".join(lines)

    # Killed: the lock file and the status file stay behind; status says what happened.
    lab.start()
    assert lab.proc is not None
    killed = lab.proc.pid
    assert running_status(lab)[0].startswith(f"labd: running, PID {killed}, since ")
    assert lab.stop(signal.SIGKILL) == -signal.SIGKILL
    lock = state / LOCK_NAME
    assert lock.read_text().split()[0] == str(killed)
    assert (state / STATUS_NAME).exists()
    lines = status(lab)
    assert lines[0].startswith(f"labd: NOT RUNNING; the last one (PID {killed}, started ")
    assert "did not stop cleanly" in lines[0]

    # The stale lock stops nobody: the kernel let go of it when the process died.
    lab.start()
    assert lab.proc is not None
    again = lab.proc.pid
    lines = running_status(lab)
    assert lines[0].startswith(f"labd: running, PID {again}, since ")
    assert lock.read_text().split()[0] == str(again)
    assert lab.stop() == 0
    assert "did not stop cleanly" not in "\n".join(status(lab))


# -- a hot folder opened to others between drop and claim ---------------------------------------


@pytest.mark.timeout(300)
def test_nothing_is_taken_from_a_folder_opened_to_others_before_the_claim(
    lab: Lab, tmp_path: Path
) -> None:
    lab.stability = 3.0  # time to open the folder up between the drop and the claim
    lab.rescan = 3.0  # the rescan that finds the folder private again (not 30 s)
    lab.write_config()
    lab.start()
    photo = make_photo(tmp_path / "a.jpg", size=(1200, 800))
    content = drop(photo, lab.hot)
    lab.hot.chmod(0o777)  # at once: long before the photo has been quiet for 3 s

    def refused() -> list[dict[str, object]]:
        return [e for e in lab.events("intake.hotfolder_refused") if e["hotfolder"] == lab.hot.name]

    [refusal] = wait_until(refused, timeout=60, what="labd to refuse the open hot folder")
    assert "0777" in str(refusal["problem"])
    seen = time.time()

    # The intake loop goes on turning; by the time it has looked at its folders again,
    # later than the photo's stability period after the refusal, still nothing is taken.
    # Its heartbeat (in the status file, written every 2 s) says when it last turned.
    def looked_again() -> bool:
        assert lab.job_states() == {}, "a job was taken from a hot folder open to others"
        last = read_status(lab.root / "state")
        return (
            last is not None
            and last.written_at > seen + lab.stability + 1.0
            and last.beats.get("intake", float("inf")) < 1.5
        )

    wait_until(looked_again, timeout=60, what="the intake loop to turn again after the refusal")
    assert lab.job_states() == {}
    assert sorted(p.name for p in lab.hot.iterdir()) == ["a.jpg"]
    assert (lab.hot / "a.jpg").read_bytes() == content
    assert not any(p.is_file() for p in (lab.root / "spool").rglob("*"))

    # Private again: the next rescan finds the folder fine and the photo is taken and
    # printed.
    lab.hot.chmod(0o770)
    [job_id] = lab.wait_for_jobs(1, timeout=120)
    assert lab.wait_for_state(job_id, FINAL, timeout=120) == "DONE"
    assert not (lab.hot / "a.jpg").exists()
    assert lab.stop() == 0
