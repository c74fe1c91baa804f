"""One bad file or one bad moment never stops the lab: a real labd, real CUPS, real signals.

Hostile names dropped while labd runs are each printed or quarantined with a reason; an
unexpected error injected into one job's step (LABD_FAULT=raise_<step>, see labd.faults)
holds or quarantines that job alone; a conversion that hangs while a printer is stopped
still stops the watchdog's pings.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from labd.faults import FAULT_ENV, FAULT_MARK, RAISE_STEPS
from labd.names import safe_name
from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

EXTRA = """
[hotfolders.extra]
product = "prints-10x15"
printer = "virtual"
"""
FINAL = {"DONE", "QUARANTINED"}

# Names customers' files really come with, and worse.  (name, prints?): a name whose file
# holds a photo must print; one whose file is text must be quarantined with a reason.
HOSTILE: list[tuple[bytes, bool]] = [
    ("IMG_²1.jpg".encode(), True),  # a superscript: a digit to str.isdigit(), not to int()
    ("foto①.jpg".encode(), True),  # a circled number
    ("foto\u0661\u0662.jpg".encode(), True),  # Arabic-Indic digits
    ("फोटो१२.jpg".encode(), True),  # Devanagari digits
    ("\uff26\uff35\uff2c\uff2c\uff11\uff12.jpg".encode(), True),  # fullwidth digits
    ("e\u0301te\u0301.jpg".encode(), True),  # combining marks
    ("\u200frtl\u202egpj.jpg".encode(), True),  # right-to-left mark and override
    ("zero\u200bwidth\u200d.jpg".encode(), True),
    ("emoji 👨\u200d👩\u200d👧.jpg".encode(), True),
    (b"new\nline\n.jpg", True),
    (b"tab\tand\x7fdel.jpg", True),
    (b"\x1b[31mred.jpg", True),  # a terminal escape sequence
    (b"latin1-\xe9t\xe9.jpg", True),  # not UTF-8
    (b"\xff\xfe\xfd.jpg", True),
    (b"half-\xe2\x82.jpg", True),  # a UTF-8 sequence cut short
    (b"-rf.jpg", True),  # names starting with "-"
    (b"--help", True),
    (b"-", False),
    (b"...", False),  # only dots
    (b"....", True),
    (b"a" * 251 + b".jpg", True),  # 255 bytes
    ("é".encode() * 125 + b".jpg", False),  # 254 bytes, two-byte characters
    ("😀".encode() * 63 + b".jp", True),  # 254 bytes, four-byte characters
    (b" leading space.jpg", True),
    (b"trailing space.jpg ", False),
    (b"trailing dot.jpg.", True),
    (b"no extension", True),
    (b"semi;colon&pipe|$(rm -rf).jpg", True),
    (b"quote'\"back\\slash.jpg", False),
    (b"star*question?.jpg", True),
    (b"percent%s%n%d.jpg", True),
    (b"{brace}[bracket].jpg", True),
    (b"CON.jpg", True),
    (b"ticket.toml", False),  # a lone ticket, with no order around it
]


def _add_extra_hotfolder(lab: Lab) -> Path:
    extra = lab.root / "hot" / "extra"
    extra.mkdir(mode=0o770, parents=True, exist_ok=True)
    extra.chmod(0o770)
    lab.config_path.write_text(lab.config_path.read_text() + EXTRA)
    return extra


def _drop(folder: Path, name: bytes, data: bytes) -> None:
    """Copy then rename, as a careful tool does; the name as raw bytes."""
    tmp = os.fsencode(folder.parent / ".incoming")
    with open(tmp, "wb") as f:  # noqa: PTH123  # a bytes path: the name may not be UTF-8
        f.write(data)
    os.rename(tmp, os.path.join(os.fsencode(folder), name))  # noqa: PTH104, PTH118


def _no_crash(lab: Lab, pid: int) -> None:
    assert lab.proc is not None
    assert lab.proc.poll() is None, f"labd ended: {lab.log()[-4000:]}"
    assert lab.proc.pid == pid
    assert not lab.events("daemon.loop_crashed")


def test_hostile_names_are_each_printed_or_quarantined_and_labd_never_stops(
    lab: Lab, tmp_path: Path
) -> None:
    extra = _add_extra_hotfolder(lab)
    lab.start()
    assert lab.proc is not None
    pid = lab.proc.pid
    make_photo(tmp_path / "photo.jpg", size=(600, 400))
    photo = (tmp_path / "photo.jpg").read_bytes()
    text = b"this is not a photo\n"

    dropped: dict[str, bool] = {}  # journaled entry name -> should print
    for n, (name, prints) in enumerate(HOSTILE):
        folder = lab.hot if n % 2 else extra
        _drop(folder, name, photo if prints else text)
        dropped[safe_name(os.fsdecode(name))] = prints

    # An order 40 folders deep, and an order of 5,000 tiny files that are no photos.
    deep = tmp_path / "deep-order"
    inner = deep.joinpath(*(f"level-{i:02d}" for i in range(40)))
    inner.mkdir(parents=True)
    (inner / "IMG_0001.jpg").write_bytes(photo)
    deep.rename(lab.hot / "deep-order")
    dropped["deep-order"] = True
    tiny = tmp_path / "tiny-order"
    tiny.mkdir()
    for i in range(5000):
        (tiny / f"t{i:04d}.jpg").write_bytes(b"x")
    tiny.rename(extra / "tiny-order")
    dropped["tiny-order"] = False

    lab.wait_for_jobs(len(dropped), timeout=120)
    wait_until(
        lambda: all(s in FINAL | {"HELD", "UNCERTAIN"} for s in lab.job_states().values()),
        timeout=300,
        what="every hostile job finished",
    )
    rows = lab.query(
        "SELECT j.id, j.state, p.entry, j.rule FROM jobs j JOIN job_personal p ON p.job_id = j.id"
    )
    by_entry = {str(entry): (int(str(i)), str(state), rule) for i, state, entry, rule in rows}
    assert sorted(by_entry) == sorted(dropped), "one job per entry, none lost, none doubled"
    for entry, prints in dropped.items():
        job_id, state, rule = by_entry[entry]
        assert state == ("DONE" if prints else "QUARANTINED"), (entry, state, rule)
        if not prints:
            assert rule != "internal.error", entry
            quarantine = lab.root / "quarantine"
            kept = [p for p in quarantine.rglob(f"{job_id}-*") if not p.name.endswith(".txt")]
            notes = list(quarantine.rglob(f"{job_id}-*.reason.txt"))
            assert kept, f"{entry!r}: nothing in the quarantine"
            assert notes, f"{entry!r}: no reason file"
            assert all(len(os.fsencode(p.name)) <= 255 for p in kept + notes)
    # Nothing left behind in either hot folder; the tiny order is whole in the quarantine.
    assert list(lab.hot.iterdir()) == []
    assert list(extra.iterdir()) == []
    tiny_id = by_entry["tiny-order"][0]
    [kept_tiny] = (lab.root / "quarantine" / "extra").glob(f"{tiny_id}-tiny-order")
    assert len(list(kept_tiny.iterdir())) == 5000
    note = kept_tiny.with_name(kept_tiny.name + ".reason.txt").read_text()
    assert "5000 of 5000 files cannot be printed" in note
    assert len(note) < 4000, "the reason names a few files and counts the rest"
    _no_crash(lab, pid)

    # Afterwards a normal photo prints from every hot folder.
    before = len(lab.job_states())
    for folder in (lab.hot, extra):
        shutil.copy(tmp_path / "photo.jpg", folder / "after.jpg")
    new = [j for j in lab.wait_for_jobs(before + 2) if j > max(by_entry.values())[0]]
    for job_id in new:
        assert lab.wait_for_state(job_id, FINAL | {"HELD"}) == "DONE"
    _no_crash(lab, pid)
    assert lab.stop() == 0


# Where each step's injected error leaves the marked job, and its rule.
OUTCOME = {
    "intake": ("QUARANTINED", "internal.error"),
    "claim": ("QUARANTINED", "internal.error"),
    "convert": ("HELD", "internal.error"),
    "submit": ("HELD", "internal.error"),
    "follow": ("HELD", "internal.error"),
    "retention": ("DONE", None),  # not purged, journaled as failed; the others are purged
}


@pytest.mark.parametrize("step", RAISE_STEPS)
def test_an_unexpected_error_in_one_job_holds_that_job_and_the_others_print(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    if step == "retention":
        text = lab.config_path.read_text()
        lab.config_path.write_text(text + "\n[retention]\ndays = 0\ncheck_seconds = 0.2\n")
    monkeypatch.setenv(FAULT_ENV, f"raise_{step}")
    lab.start()
    assert lab.proc is not None
    pid = lab.proc.pid
    make_photo(tmp_path / "p.jpg", size=(600, 400))
    names = ["before.jpg", f"{FAULT_MARK}.jpg", "after.jpg"]
    entries: dict[str, int] = {}
    for n, name in enumerate(names, 1):
        shutil.copy(tmp_path / "p.jpg", tmp_path / name)
        (tmp_path / name).rename(lab.hot / name)
        entries[name] = max(lab.wait_for_jobs(n))
    marked = entries[f"{FAULT_MARK}.jpg"]
    state, rule = OUTCOME[step]
    others = {"PURGED"} if step == "retention" else {"DONE"}
    for name in ("before.jpg", "after.jpg"):
        assert lab.wait_for_state(entries[name], others | {"HELD", "QUARANTINED"}) in others
    if step == "retention":
        wait_until(
            lambda: lab.query(
                "SELECT count(*) FROM events WHERE kind = 'retention.failed' AND job_id = ?",
                marked,
            )[0][0],
            timeout=60,
            what="the marked job's purge to fail",
        )
    assert lab.wait_for_state(marked, {state, "PURGED"}) == state
    [(got_rule, reason)] = lab.query(
        "SELECT j.rule, p.reason FROM jobs j JOIN job_personal p ON p.job_id = j.id WHERE j.id = ?",
        marked,
    )
    assert got_rule == rule
    if rule is not None:
        # The reason says what failed and where to look; the log has the traceback.
        assert "InjectedFault" in str(reason)
        assert f"job_id {marked}" in str(reason)
        failures = lab.events("job.failed") + lab.events("intake.job_failed")
        assert any(e.get("job_id") == marked and "Traceback" in str(e) for e in failures)
    if step in ("intake", "claim"):
        # Nothing lost: the photo is in the quarantine with the reason beside it.
        kept = lab.root / "quarantine" / "prints-10x15" / f"{marked}-{FAULT_MARK}.jpg"
        assert kept.read_bytes() == (tmp_path / "p.jpg").read_bytes()
        assert "internal.error" in kept.with_name(kept.name + ".reason.txt").read_text()
    _no_crash(lab, pid)
    assert lab.stop() == 0


def test_a_hung_conversion_stops_the_pings_while_a_printer_is_stopped(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The follow loop, busy with a job held for a stopped printer, must not beat for the
    work loop: a hung conversion is noticed whatever else labd is doing."""
    text = lab.config_path.read_text()
    lab.config_path.write_text(text.replace("[labd]\n", "[labd]\nstall_seconds = 2\n", 1))
    server = lab.server.server

    def cups(tool: str) -> None:
        subprocess.run([tool, "-h", server, lab.queue], check=True, capture_output=True)

    cups("cupsdisable")
    try:
        lab.start()
        make_photo(tmp_path / "a.jpg", size=(600, 400))
        (tmp_path / "a.jpg").rename(lab.hot / "a.jpg")
        [held] = lab.wait_for_jobs(1)
        assert lab.wait_for_state(held, {"HELD", "DONE"}) == "HELD"
        assert lab.stop() == 0

        monkeypatch.setenv(FAULT_ENV, "hang_convert")
        lab.start()
        assert lab.notify is not None
        lab.notify.wait_for("WATCHDOG=1")
        # The held job is followed all along: the follow loop beats.
        make_photo(tmp_path / "b.jpg", size=(600, 400))
        (tmp_path / "b.jpg").rename(lab.hot / "b.jpg")
        lab.wait_for_jobs(2)
        wait_until(lambda: lab.events("daemon.stalled"), timeout=30, what="the stall seen")
        assert "work" in str(lab.events("daemon.stalled")[-1]["heartbeats"])
        pings = sum("WATCHDOG=1" in m.splitlines() for m in list(lab.notify.messages))
        wait_until(lambda: len(lab.events("daemon.stalled")) >= 4, timeout=30, what="more looks")
        after = sum("WATCHDOG=1" in m.splitlines() for m in list(lab.notify.messages))
        assert after == pings, "no watchdog ping while the work loop hangs"
        assert lab.job_states()[held] == "HELD"
        assert lab.stop(signal.SIGKILL) == -signal.SIGKILL
    finally:
        cups("cupsenable")


def test_a_locked_journal_holds_intake_and_the_photo_prints_once_it_is_free(
    lab: Lab, tmp_path: Path
) -> None:
    """Another program (a supervisor's sqlite3 shell) holds the journal's write lock."""
    lab.start()
    assert lab.proc is not None
    pid = lab.proc.pid
    blocker = sqlite3.connect(lab.journal_path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        make_photo(tmp_path / "a.jpg", size=(600, 400))
        (tmp_path / "a.jpg").rename(lab.hot / "a.jpg")
        wait_until(lambda: lab.events("daemon.intake_held"), timeout=60, what="intake held")
        [held] = lab.events("intake.held_by_error")
        assert "database is locked" in str(held["problem"])
        # The commands still answer: labd runs, and says why it takes nothing.
        status = lab.labd("status", check=False)
        assert status.returncode == 0, status.stderr
        assert f"labd: running, PID {pid}" in status.stdout
        assert (lab.hot / "a.jpg").exists()  # not taken, not lost
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Free again: taken at once (not at the next periodic rescan, 30 s away) and printed.
    [job_id] = lab.wait_for_jobs(1, timeout=20)
    assert lab.wait_for_state(job_id, FINAL | {"HELD"}, timeout=30) == "DONE"
    _no_crash(lab, pid)
    assert lab.stop() == 0
