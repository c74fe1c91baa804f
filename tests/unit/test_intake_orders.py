"""Orders as technicians build them, through the intake rig's real folders and the CLI.

Hot folders that take order folders only with a marker (READY or the ticket), late files of
an order taken too early (their own job, linked to the order), a ticket's every mistake,
the fixed files of a quarantined job dropped in again (which closes it), and ``labd close``
for a quarantined job whose files will not come again.
"""

from __future__ import annotations

import io
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock
from labd.config import load
from labd.daemon import Daemon
from labd.intake.related import LATE_RULE
from labd.journal import Journal
from labd.model import Event, JobKind, JobState, OrderReady
from labd.privacy.retention import Retention
from labd.store import StoreLocation
from tests.factories import DAY, GOOD_CONFIG, STABLE, Rig, job_in_state, make_rig, write_config

ME = pwd.getpwuid(os.getuid()).pw_name  # the technician of every file the tests drop
HOTFOLDER_END = 'printer = "minilab"\n'  # the last line of GOOD_CONFIG's [hotfolders.prints]


@pytest.fixture
def rig(tmp_path: Path, clock: ManualClock, store_location: StoreLocation) -> Iterator[Rig]:
    """Intake on a journal in each store (see tests/conftest.py)."""
    with make_rig(tmp_path, clock, journal_at=store_location) as r:
        yield r


@pytest.fixture
def marker_rig(tmp_path: Path, clock: ManualClock, store_location: StoreLocation) -> Iterator[Rig]:
    with make_rig(tmp_path, clock, order_ready=OrderReady.MARKER, journal_at=store_location) as r:
        yield r


def order(rig: Rig, name: str, files: dict[str, bytes]) -> Path:
    """An order folder ``name`` in the rig's hot folder with ``files`` (name: bytes)."""
    folder = rig.hot / name
    folder.mkdir(exist_ok=True)
    for file, data in files.items():
        (folder / file).write_bytes(data)
    return folder


def look(rig: Rig) -> float:
    """A look at the hot folder after a change, as the watcher's events make labd look."""
    return rig.intake.tick([("prints", p.name) for p in rig.hot.iterdir()])


def settle(rig: Rig) -> None:
    """A look at what changed, and one a quiet period later: what is complete is taken."""
    look(rig)
    rig.clock.advance(STABLE + 0.1)
    rig.intake.tick()


def mark(rig: Rig, marker: Path, data: bytes) -> None:
    """Put a marker into an order folder; two looks in a row see it."""
    marker.write_bytes(data)
    look(rig)
    rig.clock.advance(0.3)
    rig.intake.tick()


def labd(rig: Rig, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run a labd command on the rig's journal: (exit code, output, errors)."""
    config = rig.root / "labd.toml"
    if not config.exists():
        write_config(
            rig.root, GOOD_CONFIG, journal=rig.journal_at
        )  # the rig's layout: state/, hot/prints, quarantine/
    out = io.StringIO()
    capsys.readouterr()
    code = main(["--config", str(config), *args], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def events_of(journal: Journal, job_id: int, kind: str) -> list[Event]:
    return [e for e in journal.events(job_id=job_id) if e.kind == kind]


# -- hot folders that wait for a marker --------------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "data", "order_ref"),
    [
        pytest.param("READY", b"", None, id="READY"),
        pytest.param("ticket.toml", b'order = "A-7"\n', "A-7", id="ticket"),
    ],
)
def test_a_marker_hot_folder_waits_for_the_marker_through_any_pause(
    marker_rig: Rig, clock: ManualClock, marker: str, data: bytes, order_ref: str | None
) -> None:
    rig = marker_rig
    folder = order(rig, "Hansen", {"a.jpg": b"a"})
    settle(rig)
    clock.advance(STABLE * 20)  # the technician is called away
    rig.intake.tick()
    assert rig.claimed == []
    order(rig, "Hansen", {"b.jpg": b"b"})  # ... comes back and copies the next photo
    settle(rig)
    clock.advance(600)
    rig.intake.tick()
    assert rig.claimed == []
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.jpg"]  # nothing taken
    mark(rig, folder / marker, data)  # the last thing copied
    [job] = rig.claimed
    assert [f.name for f in rig.journal.files(job.id)] == ["Hansen/a.jpg", "Hansen/b.jpg"]
    assert rig.journal.job(job.id).order_ref == order_ref
    assert not folder.exists()
    # A single file in the same hot folder is no order: taken once stable, as always.
    (rig.hot / "c.jpg").write_bytes(b"c")
    settle(rig)
    assert [j.entry for j in rig.claimed] == ["Hansen", "c.jpg"]


def test_an_order_waiting_for_its_marker_is_not_looked_at_again_and_again(
    marker_rig: Rig, clock: ManualClock
) -> None:
    rig = marker_rig
    order(rig, "Hansen", {"a.jpg": b"a"})
    assert rig.intake.tick() <= 0.25  # first sight: looked at again soon, to see it settle
    clock.advance(0.3)
    # Quiet, and no marker: nothing to wait for but an event in it, or the next rescan.
    assert rig.intake.tick() > 50
    assert rig.claimed == []


def test_order_ready_is_a_hot_folder_setting_with_a_default_in_labd(tmp_path: Path) -> None:
    marker = GOOD_CONFIG.replace("stability_seconds = 2", 'order_ready = "marker"')
    config = load(write_config(tmp_path, marker))
    assert config.hotfolders["prints"].order_ready is OrderReady.MARKER
    assert config.hotfolders["prints"].late_files_seconds == 3600
    own = GOOD_CONFIG.replace(
        'printer = "minilab"\n', 'printer = "minilab"\norder_ready = "stable"\n'
    )
    assert load(write_config(tmp_path, own)).hotfolders["prints"].order_ready is OrderReady.STABLE


def test_a_wrong_order_ready_names_the_key_and_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = GOOD_CONFIG.replace(
        'printer = "minilab"\n', 'printer = "minilab"\norder_ready = "READY"\n'
    )
    path = write_config(tmp_path, text)
    assert main(["--config", str(path), "check-config"], out=io.StringIO()) == 3
    err = capsys.readouterr().err
    assert "hotfolders.prints.order_ready: 'READY' is not one of: stable, marker" in err
    assert path.read_text() == text  # the file is left as it was


def test_explain_says_an_order_waits_for_its_marker(
    marker_rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = marker_rig
    folder = order(rig, "Hansen", {"a.jpg": b"a"})
    write_config(
        rig.root,
        GOOD_CONFIG.replace("stability_seconds = 2", 'order_ready = "marker"'),
        journal=rig.journal_at,
    )
    code, out, _ = labd(rig, capsys, "explain", str(folder))
    assert code == 0
    assert "waiting for its READY file (or ticket.toml)" in out
    assert "hot folder prints takes an order folder only once one is in it" in out


# -- late files: the rest of an order taken too early ------------------------------------------


def test_late_files_of_an_order_become_a_job_linked_to_it(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    order(rig, "Hansen", {"a.jpg": b"a", "ticket.toml": b'order = "A-1001"\n'})
    settle(rig)  # the technician paused: the order was taken with its first photo
    order(rig, "Hansen", {"b.jpg": b"b"})  # the next cp re-creates the folder
    settle(rig)
    first, late = rig.claimed
    assert (first.state, late.state) == (JobState.CLAIMED, JobState.CLAIMED)  # both print
    assert [f.name for f in rig.journal.files(late.id)] == ["Hansen/b.jpg"]
    assert rig.journal.job(late.id).order_ref == "A-1001"  # the order's, from the first ticket
    [link] = events_of(rig.journal, late.id, "job.late_files")
    assert {k: link.data[k] for k in ("first_job", "files", "repeated", "order_ref")} == {
        "first_job": first.id, "files": 1, "repeated": 0, "order_ref": True,
    }  # fmt: skip
    assert "A-1001" not in str(link.data)  # the chain holds a salted hash, not the reference
    [back] = events_of(rig.journal, first.id, "job.late_files_arrived")
    assert back.data["late_job"] == late.id
    assert rig.journal.jobs_of_order("A-1001") == [first.id, late.id]

    code, out, _ = labd(rig, capsys, "jobs", str(late.id))
    assert code == 0
    assert f"late files  of the order taken as job {first.id}\n" in out
    code, out, _ = labd(rig, capsys, "jobs", str(first.id))
    assert f"late files  of this order came later as job {late.id}\n" in out


def test_an_order_copied_again_whole_is_linked_and_its_repeated_files_counted(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    order(rig, "Hansen", {"a.jpg": b"a"})
    settle(rig)
    order(rig, "Hansen", {"a.jpg": b"a", "b.jpg": b"b"})  # the technician copied all again
    settle(rig)
    first, again = rig.claimed
    [link] = events_of(rig.journal, again.id, "job.late_files")
    assert (link.data["first_job"], link.data["files"], link.data["repeated"]) == (first.id, 2, 1)
    _, out, _ = labd(rig, capsys, "jobs", str(again.id))
    assert "1 of its file names were in that order already" in out


def test_a_third_part_links_to_the_orders_first_job(rig: Rig) -> None:
    for photo in ("a.jpg", "b.jpg", "c.jpg"):
        order(rig, "Hansen", {photo: b"x"})
        settle(rig)
    first, second, third = rig.claimed
    [link] = events_of(rig.journal, third.id, "job.late_files")
    assert link.data["first_job"] == first.id
    arrived = events_of(rig.journal, first.id, "job.late_files_arrived")
    assert [e.data["late_job"] for e in arrived] == [second.id, third.id]


def test_late_files_of_a_quarantined_order_are_quarantined_too_and_the_whole_order_closes_both(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    ticket = b'order = "A-9"\n[copies_per_file]\n"b.jpg" = 2\n'
    order(rig, "Dahl", {"a.jpg": b"a", "ticket.toml": ticket})
    settle(rig)  # taken before b.jpg came: its ticket names a file not there
    first = rig.job("Dahl")
    assert (first.state, first.rule) == (JobState.QUARANTINED, "intake.bad_ticket")
    order(rig, "Dahl", {"b.jpg": b"b"})
    settle(rig)
    late = max(rig.journal.jobs(), key=lambda j: j.id)
    assert (late.state, late.rule) == (JobState.QUARANTINED, LATE_RULE)
    assert f"after order job {first.id} was taken" in str(late.reason)
    assert "nothing of an order is printed in part" in str(late.reason)
    assert rig.claimed == []  # nothing of the order prints
    kept, note = rig.quarantined(late)
    assert (kept / "b.jpg").read_bytes() == b"b"  # nothing lost
    assert "nothing of an order is printed in part" in note.read_text()
    _, out, _ = labd(rig, capsys, "status")
    assert f"needs attention: job {late.id} QUARANTINED {LATE_RULE}" in out
    assert f"needs attention: job {first.id} QUARANTINED intake.bad_ticket" in out

    # The technician puts the whole order together and drops it in again: both close.
    order(rig, "Dahl", {"a.jpg": b"a", "b.jpg": b"b", "ticket.toml": ticket})
    settle(rig)
    [whole] = rig.claimed
    for old in (first, late):
        closed = rig.journal.closing(old.id)
        assert closed is not None
        assert closed.data == {"by": ME, "replaced_by": whole.id}
        assert rig.journal.job(old.id).state is JobState.QUARANTINED  # retention's to delete
    replaces = {e.data["closed"] for e in events_of(rig.journal, whole.id, "job.replaces")}
    assert replaces == {first.id, late.id}
    assert events_of(rig.journal, whole.id, "job.late_files") == []  # a replacement, not late
    _, out, _ = labd(rig, capsys, "status")
    assert "needs attention" not in out


def test_an_order_of_the_same_name_after_the_late_files_window_is_a_new_order(
    rig: Rig, clock: ManualClock
) -> None:
    order(rig, "Hansen", {"a.jpg": b"a"})
    settle(rig)
    clock.advance(3601)
    order(rig, "Hansen", {"b.jpg": b"b"})
    settle(rig)
    _, new = rig.claimed
    assert events_of(rig.journal, new.id, "job.late_files") == []


def test_a_folder_whose_own_ticket_names_another_order_is_a_new_order(rig: Rig) -> None:
    order(rig, "New folder", {"a.jpg": b"a", "ticket.toml": b'order = "A-1"\n'})
    settle(rig)
    order(rig, "New folder", {"b.jpg": b"b", "ticket.toml": b'order = "B-2"\n'})
    settle(rig)
    _, new = rig.claimed
    assert events_of(rig.journal, new.id, "job.late_files") == []
    assert rig.journal.job(new.id).order_ref == "B-2"


def test_the_link_is_made_when_a_claim_a_crash_cut_short_is_finished(
    rig: Rig, tmp_path: Path
) -> None:
    order(rig, "Hansen", {"a.jpg": b"a"})
    settle(rig)
    folder = order(rig, "Hansen", {"b.jpg": b"b"})
    # labd died right after journaling the intent to claim the new folder.
    intent = rig.journal.discover(
        hotfolder="prints", kind=JobKind.ORDER, entry="Hansen", technician=ME,
        source_inode=folder.stat().st_ino, spool_root=tmp_path / "spool",
    )  # fmt: skip
    rig.intake.recover()
    assert rig.journal.job(intent.id).state is JobState.CLAIMED
    [link] = events_of(rig.journal, intent.id, "job.late_files")
    assert link.data["first_job"] == rig.claimed[0].id


# -- a ticket's every mistake ------------------------------------------------------------------


def test_a_ticket_with_several_mistakes_names_them_all(rig: Rig) -> None:
    ticket = b'order = "A-1"\ncopies = 0\ncopys = 2\n[copies_per_file]\n"nope.jpg" = 2\n'
    order(rig, "Berg", {"a.jpg": b"a", "ticket.toml": ticket})
    settle(rig)
    job = rig.job("Berg")
    assert (job.state, job.rule) == (JobState.QUARANTINED, "intake.bad_ticket")
    expected = (
        "ticket.toml has 3 mistakes: [1] copies: 0 is out of range; expected 1 to 99 (line 2) "
        "[2] copys: unknown setting; this table takes: copies, copies_per_file, media, order "
        "(line 3) [3] copies_per_file.nope.jpg: no such file in the order (line 5)"
    )
    assert job.reason == expected
    [kept, note] = rig.quarantined(job)
    assert expected in note.read_text()
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == {
        "a.jpg": b"a", "ticket.toml": ticket,
    }  # fmt: skip


# -- fixed files dropped in again; closing by hand ---------------------------------------------


def quarantined_file(rig: Rig, name: str = "IMG_7.jpg") -> int:
    """A single photo of the rig's technician that conversion refused (QUARANTINED)."""
    return job_in_state(
        rig.journal, JobState.QUARANTINED, rig.root / "spool", entry=name, kind=JobKind.FILE,
        technician=ME, files=[(name, 5)],
    ).id  # fmt: skip


def test_dropping_the_fixed_file_again_closes_the_quarantined_job(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    old = quarantined_file(rig)
    _, out, _ = labd(rig, capsys, "status")
    assert f"needs attention: job {old} QUARANTINED input.truncated: IMG_7.jpg is cut short" in out
    assert f"labd close {old}" in out  # what to do about it

    (rig.hot / "IMG_7.jpg").write_bytes(b"the whole photo")
    settle(rig)
    [new] = rig.claimed
    closed = rig.journal.closing(old)
    assert closed is not None
    assert closed.data == {"by": ME, "replaced_by": new.id}
    assert rig.journal.job(old).state is JobState.QUARANTINED
    _, out, _ = labd(rig, capsys, "status")
    assert "needs attention" not in out
    _, out, _ = labd(rig, capsys, "jobs", str(old))
    assert f"closed      replaced by job {new.id}, by {ME} at " in out
    _, out, _ = labd(rig, capsys, "jobs", str(new.id))
    assert f"replaces    quarantined job {old}, closed by this one\n" in out


def test_a_folder_of_the_same_name_with_other_photos_closes_nothing(
    rig: Rig, clock: ManualClock
) -> None:
    old = job_in_state(
        rig.journal, JobState.QUARANTINED, rig.root / "spool", entry="New folder",
        technician=ME, files=[("New folder/a.jpg", 1)],
    ).id  # fmt: skip
    clock.advance(2 * 3600)  # another day's order in a folder of the same name
    order(rig, "New folder", {"x.jpg": b"x"})
    settle(rig)
    [new] = rig.claimed
    assert rig.journal.closing(old) is None
    assert events_of(rig.journal, new.id, "job.late_files") == []
    assert [j.id for j in rig.journal.open_quarantined()] == [old]


def test_the_status_line_counts_the_quarantined_jobs_nobody_closed(
    rig: Rig, clock: ManualClock
) -> None:
    config = load(write_config(rig.root, GOOD_CONFIG, journal=rig.journal_at))
    daemon = Daemon(config, clock=clock)
    old = quarantined_file(rig)
    assert ", 1 quarantined, " in daemon.status_line(rig.journal)
    rig.journal.notes.close_quarantined(old, by="anna", reason="customer withdrew the order")
    line = daemon.status_line(rig.journal)
    assert "quarantined" not in line
    assert line.endswith("0 done")


def test_a_closed_quarantined_job_is_deleted_when_its_retention_ends_from_quarantine(
    rig: Rig, clock: ManualClock
) -> None:
    config = load(
        write_config(rig.root, GOOD_CONFIG, journal=rig.journal_at)
    )  # [retention] days: 14
    (rig.hot / "IMG_7.jpg").write_bytes(b"")
    os.link(rig.hot / "IMG_7.jpg", rig.root / "elsewhere.jpg")  # refused: two links
    settle(rig)
    old = rig.job("IMG_7.jpg")
    assert old.state is JobState.QUARANTINED
    kept = rig.quarantined(old)
    assert [p.name for p in kept] == [f"{old.id}-IMG_7.jpg", f"{old.id}-IMG_7.jpg.reason.txt"]
    clock.advance(10 * DAY)
    (rig.hot / "IMG_7.jpg").write_bytes(b"the fixed photo")
    settle(rig)
    assert rig.journal.closing(old.id) is not None
    assert all(p.exists() for p in kept)  # the quarantine copy stays until retention ends

    retention = Retention(rig.journal, config, clock)
    clock.advance(4 * DAY - 60)  # 14 days after it was quarantined, not after it was closed
    assert retention.run_due().purged == []
    clock.advance(120)
    assert retention.run_due().purged == [old.id]
    assert not any(p.exists() for p in kept)
    assert rig.journal.job(old.id).state is JobState.PURGED
    assert rig.journal.verify().first_bad is None


def test_labd_close_takes_a_quarantined_job_out_of_needs_attention(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    old = quarantined_file(rig)
    code, out, _ = labd(rig, capsys, "close", str(old), "--reason", "sent by e-mail instead")
    assert code == 0
    assert out == (
        f"job {old}: QUARANTINED, closed; its files stay in the quarantine until its "
        "retention period ends (labd retention due)\n"
    )
    _, out, _ = labd(rig, capsys, "status")
    assert "needs attention" not in out
    _, out, _ = labd(rig, capsys, "jobs", str(old))
    assert f"closed      by hand, by {ME} at " in out
    assert ": sent by e-mail instead\n" in out


def test_labd_close_names_the_job_that_replaced_it(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    old = quarantined_file(rig, "IMG_7.jpg")
    (rig.hot / "IMG_7-fixed.jpg").write_bytes(b"the whole photo")  # fixed under a new name
    settle(rig)
    [new] = rig.claimed
    code, out, _ = labd(rig, capsys, "close", str(old), "--replaced-by", str(new.id),
                        "--reason", "renamed")  # fmt: skip
    assert code == 0
    assert f"closed, replaced by job {new.id};" in out
    assert [e.data["closed"] for e in events_of(rig.journal, new.id, "job.replaces")] == [old]


@pytest.mark.parametrize(
    ("target", "args", "exit_code", "message"),
    [
        pytest.param(
            "done", ["--reason", "x"], 12,
            "is DONE: it has printed, and only a QUARANTINED job is closed", id="not-quarantined",
        ),
        pytest.param(
            "closed", ["--reason", "x"], 12, "is QUARANTINED and closed already: at ", id="twice"
        ),
        pytest.param(
            "open", ["--reason", "x", "--replaced-by", "999"], 5, "No job 999", id="no-such-job"
        ),
        pytest.param(
            "open", ["--reason", "x", "--replaced-by", "{open}"], 12, "cannot replace itself",
            id="itself",
        ),
        pytest.param(
            "open", ["--reason", "  "], 12, "say why it is closed: --reason TEXT",
            id="blank-reason",
        ),
        pytest.param("999", ["--reason", "x"], 5, "No job 999", id="unknown-job"),
    ],
)  # fmt: skip
def test_labd_close_refuses_with_a_reason_and_changes_nothing(
    rig: Rig,
    capsys: pytest.CaptureFixture[str],
    *,
    target: str,
    args: list[str],
    exit_code: int,
    message: str,
) -> None:
    jobs = {
        "open": quarantined_file(rig, "a.jpg"),
        "closed": quarantined_file(rig, "b.jpg"),
        "done": job_in_state(rig.journal, JobState.DONE, rig.root / "spool").id,
    }
    rig.journal.notes.close_quarantined(jobs["closed"], by="anna", reason="gone")
    job = jobs[target] if target in jobs else int(target)
    before = rig.journal.last_seq()
    code, out, err = labd(rig, capsys, "close", str(job), *(a.format(**jobs) for a in args))
    assert code == exit_code
    assert message in err
    assert out == ""
    assert rig.journal.last_seq() == before  # nothing written
    assert [j.id for j in rig.journal.open_quarantined()] == [jobs["open"]]
