"""``labd demo`` as a newcomer uses it: every product of the shipped configuration has a
hot folder, the banner's commands work (CUPS' own tools, ``labd doctor``), and SIGHUP
rereads the configuration, moved under the demo's folder as at start.

The demo runs as a real subprocess with its embedded CUPS; everything is judged from what
a person sees: the banner, the log lines, the journal, the virtual printer's output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from labd.config import load
from labd.demo.embedded import EmbeddedPrintServer
from tests.imagegen import a4_pdf, make_photo
from tests.system.conftest import REPO, demo_command
from tests.waiting import wait_until
from tests.webconsole import try_login

pytestmark = pytest.mark.cups

FINAL = {"DONE", "HELD", "QUARANTINED"}


@dataclass
class Demo:
    """A running ``labd demo`` and what it printed."""

    base: Path
    config: Path
    proc: subprocess.Popen[bytes]
    output: Path

    def said(self) -> str:
        return self.output.read_text(errors="replace")

    def banner(self) -> list[str]:
        text = self.said()
        start = text.index("labd demo is running.")
        return text[start : text.index("Stop with Ctrl-C.", start)].splitlines()

    def events(self, name: str) -> list[dict[str, object]]:
        """The demo's JSON log lines named ``name``."""
        found = []
        for line in self.said().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("event") == name:
                    found.append(entry)
        return found

    def jobs(self) -> dict[int, tuple[str, str]]:
        """Job id -> (hot folder, state), read as a supervisor's tool would."""
        conn = sqlite3.connect(f"file:{self.base / 'state' / 'journal.sqlite'}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT id, hotfolder, state FROM jobs").fetchall()
        finally:
            conn.close()
        return {int(i): (str(h), str(s)) for i, h, s in rows}

    def events_in_journal(self) -> list[tuple[str, dict[str, object]]]:
        """The chained events (kind, data), read as a supervisor's tool would."""
        conn = sqlite3.connect(f"file:{self.base / 'state' / 'journal.sqlite'}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT kind, data FROM events ORDER BY seq").fetchall()
        finally:
            conn.close()
        return [(str(k), json.loads(d)) for k, d in rows]

    def finished(self, hotfolder: str) -> str:
        """Wait for the one job of ``hotfolder`` to finish; its state."""

        def state() -> str | None:
            states = [s for h, s in self.jobs().values() if h == hotfolder]
            return states[0] if states and states[0] in FINAL else None

        try:
            return wait_until(state, timeout=180, what=f"the job of {hotfolder} to finish")
        except AssertionError:
            raise AssertionError(f"{self.jobs()}\n{self.said()[-6000:]}") from None

    def printed(self) -> list[Path]:
        """The documents the demo's virtual printers received."""
        out = self.base / "printer" / "ipp" / "out"
        if not out.is_dir():
            return []
        return [
            p for p in out.iterdir() if not p.name.startswith(".") and not p.name.endswith(".env")
        ]


@pytest.fixture
def demo(demo_dir: Path, tmp_path: Path) -> Iterator[Demo]:
    """``labd demo`` on a copy of the shipped configuration (the test edits it to reload)."""
    missing = EmbeddedPrintServer.missing_tools()
    if missing:
        pytest.skip("; ".join(missing))
    config = tmp_path / "labd.toml"
    shutil.copy(REPO / "config" / "labd.toml", config)
    output = tmp_path / "demo.out"
    with output.open("wb") as out:
        # A session of its own: Ctrl-C (SIGINT to the process group) reaches the demo and
        # its conversion workers alone.
        proc = subprocess.Popen(
            demo_command(demo_dir, config),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            start_new_session=True,
        )
    running = Demo(base=demo_dir, config=config, proc=proc, output=output)
    try:
        wait_until(
            lambda: "Stop with Ctrl-C." in running.said() or proc.poll() is not None,
            timeout=180,
            what="the demo's banner",
        )
        assert proc.poll() is None, running.said()
        yield running
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


def banner_value(lines: list[str], label: str) -> str:
    """The text after ``label`` on the banner's line that starts with it."""
    [line] = [x.strip() for x in lines if x.strip().startswith(label)]
    return line[len(label) :].strip()


@pytest.mark.timeout(900)
def test_the_demo_prints_every_product_its_banner_commands_work_and_it_reloads(
    demo: Demo, tmp_path: Path
) -> None:
    lines = demo.banner()
    shipped = load(demo.config).rebased(demo.base)

    # Every hot folder of the configuration is listed, with its path and what it takes;
    # the PDF products have theirs.
    start = lines.index("  Drop a file, or a folder of files (one order), into a hot folder:")
    end = next(i for i, x in enumerate(lines) if x.startswith("  Printed output appears in:"))
    listed = {x.split()[0]: x for x in lines[start + 1 : end]}
    assert set(listed) == set(shipped.hotfolders)
    for hf in shipped.hotfolders.values():
        assert listed[hf.name].split()[1] == str(hf.path)
        assert hf.path.is_dir()
    assert listed["photobooks-a4"].endswith("a folder of photos -> one photobook (PDF)")
    assert listed["pdf-a4"].endswith("print-ready PDFs, printed as they are")
    assert listed["prints-10x15"].endswith("photos -> prints")

    # CUPS' own tools reach the demo's CUPS with the line the banner gives.
    export = shlex.split(banner_value(lines, "For lpstat, cupsdisable:"))
    assert export[0] == "export"
    socket = export[1].removeprefix("CUPS_SERVER=")
    assert socket == str(demo.base / "printer" / "cups" / "run" / "cups.sock")
    lpstat = subprocess.run(
        ["lpstat", "-p"],
        env={**os.environ, "CUPS_SERVER": socket},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert re.search(r"^printer minilab is idle", lpstat.stdout, re.MULTILINE), lpstat.stdout
    assert re.search(r"^printer wideformat is idle", lpstat.stdout, re.MULTILINE)

    # `labd doctor` as the banner says to run it checks the demo's CUPS, not the system's
    # (the configuration names none): the one the running demo prints through.
    command = shlex.split(banner_value(lines, "Check the set-up:"))
    assert command[0].endswith("labd")
    assert "doctor" in command
    doctor = subprocess.run(
        [sys.executable, "-m", "labd", *command[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )
    said = doctor.stdout + doctor.stderr
    assert f"ok   CUPS at {socket} (the running labd's, PID {demo.proc.pid}) answers" in said
    assert "ok   PreserveJobFiles is off" in said
    assert "ok   queue 'minilab': error policy abort-job" in said
    assert "ok   queue 'wideformat': error policy abort-job" in said
    assert "FIX " not in said, said
    assert doctor.returncode == 0, said

    # The console answers where the banner says, and the login printed beside it works.
    url = banner_value(lines, "The console in a browser:")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
    user, password, role = banner_value(lines, "Its login, for this run:").split()
    assert (user, role) == ("demo", "(admin)")
    with httpx.Client(base_url=url, timeout=30) as browser:
        assert try_login(browser, user, password).status_code == 303
        board = browser.get("/")
        assert board.status_code == 200
        assert "prints-10x15" in board.text  # the board's hot folder filter: the demo's
        users = browser.get("/users")  # an admin's page
        assert users.status_code == 200
        assert "demo" in users.text
        printers = browser.get("/printers")
        row = re.search(r'<tr data-queue="minilab".*?</tr>', printers.text, re.S)
        assert row is not None, printers.text  # the demo's own CUPS, which has the queue
        assert 'data-state="idle"' in row.group(0), row.group(0)
    with httpx.Client(base_url=url, timeout=30) as stranger:
        assert try_login(stranger, user, "not the password").status_code == 401

    # A newcomer tries the PDF products: a print-ready PDF, and a photobook order.
    a4_pdf(tmp_path / "flyer.pdf", pages=1)
    shutil.copy(tmp_path / "flyer.pdf", demo.base / "hot" / "pdf-a4" / "flyer.pdf")
    order = tmp_path / "book"
    order.mkdir()
    for n in (1, 2):
        make_photo(order / f"page{n}.jpg", size=(2400, 1600))
    shutil.copytree(order, demo.base / "hot" / "photobooks-a4" / "book")
    (demo.base / "hot" / "photobooks-a4" / "book" / "READY").touch()
    assert demo.finished("pdf-a4") == "DONE"
    assert demo.finished("photobooks-a4") == "DONE"
    wait_until(lambda: len(demo.printed()) == 2, timeout=60, what="two documents printed")

    # A hot folder and a printer added to the file, then SIGHUP: the file is reread with
    # the demo's folder and CUPS, not refused for the configured /srv/labd paths.
    with demo.config.open("a") as f:
        f.write(
            '\n[printers.office]\nqueue = "office"\n'
            '\n[hotfolders.extra]\nproduct = "prints-10x15"\nprinter = "office"\n'
        )
    demo.proc.send_signal(signal.SIGHUP)
    [reloaded] = wait_until(
        lambda: demo.events("daemon.reloaded") or demo.events("daemon.reload_rejected"),
        timeout=120,
        what="the demo to reload",
    )
    assert reloaded["event"] == "daemon.reloaded", reloaded
    assert reloaded["added"] == ["extra"]
    assert demo.events("daemon.reload_rejected") == []
    extra = demo.base / "hot" / "extra"
    assert extra.is_dir()
    assert extra.stat().st_mode & 0o777 == 0o770
    make_photo(tmp_path / "after.jpg", size=(1800, 1200))
    shutil.copy(tmp_path / "after.jpg", extra / "after.jpg")
    assert demo.finished("extra") == "DONE"
    wait_until(lambda: len(demo.printed()) == 3, timeout=60, what="the new queue's print")
    queues = subprocess.run(
        ["lpstat", "-W", "completed", "-o", "office"],
        env={**os.environ, "CUPS_SERVER": socket},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert queues.stdout.startswith("office-"), queues.stdout

    # Ctrl-C, as the banner says: a clean stop, the console's too, and its login with it.
    os.killpg(demo.proc.pid, signal.SIGINT)
    assert demo.proc.wait(timeout=120) == 0, demo.said()[-6000:]
    assert "Traceback" not in demo.said()
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "login", timeout=5)
    demo_logins = [(k, d) for k, d in demo.events_in_journal() if d.get("user") == "demo"]
    assert [k for k, _ in demo_logins] == ["web.user_added", "web.login", "web.login_failed",
                                          "web.user_disabled"]  # fmt: skip
    assert demo_logins[-1][1] == {"user": "demo", "by": "labd demo"}
