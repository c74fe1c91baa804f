"""labd end to end: a photo dropped in a hot folder comes out of a CUPS printer, journaled.

Real everything: ``labd run`` as a subprocess, a private cupsd with a virtual IPP printer
(ippeveprinter) that keeps what it receives, a real SQLite journal, real inotify, a real
AF_UNIX datagram socket as NOTIFY_SOCKET, and real signals.
"""

from __future__ import annotations

import io
import json
import shutil
import signal
from pathlib import Path

import pytest
from PIL import Image

from labd.printing import CupsClient, CupsJobState
from labd.schemas import open_journal
from tests.imagegen import make_photo, marker_corner
from tests.system.conftest import Lab
from tests.waiting import wait_until

pytestmark = pytest.mark.cups


def received_since(lab: Lab, before: set[Path], count: int) -> list[Path]:
    """Wait until the virtual printer has ``count`` new documents; return them."""

    def new() -> list[Path] | None:
        docs = [p for p in lab.server.received() if p not in before]
        return docs if len(docs) >= count else None

    return wait_until(new, timeout=60, what=f"{count} documents at the virtual printer")


def test_photo_is_printed_journaled_and_labd_stops_cleanly(lab: Lab, tmp_path: Path) -> None:
    lab.start()
    before = set(lab.server.received())
    # A portrait photo stored sideways (EXIF orientation 6), as cameras write them, with a
    # marker in the top-left corner of the picture as the customer sees it; twice the
    # print's size, so the conversion worker decodes it shrunk (libvips' path).
    source = tmp_path / "IMG_4711.jpg"
    make_photo(source, size=(3600, 2400), orientation=6, marker="top-left", exif_gps=True)
    shutil.copy(source, lab.hot / "IMG_4711.jpg")

    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    [doc] = received_since(lab, before, 1)

    # What the printer received: a print-ready JPEG, 4x6 in portrait at 300 dpi, the marker
    # where the customer saw it, no GPS.
    with Image.open(io.BytesIO(doc.read_bytes())) as printed:
        assert printed.format == "JPEG"
        assert printed.size == (1200, 1800)
        assert printed.info.get("dpi") == (300, 300)
        assert printed.info.get("icc_profile")
        assert 0x8825 not in printed.getexif()  # GPS IFD
        assert marker_corner(printed.convert("RGB")) == "top-left"
    assert not (lab.hot / "IMG_4711.jpg").exists()  # claimed by rename

    # The journal: the job, its file, the CUPS queue and job id, the technician.
    [(state, hotfolder, technician)] = lab.query(
        "SELECT state, hotfolder, technician FROM jobs WHERE id = ?", job_id
    )
    assert (state, hotfolder) == ("DONE", "prints-10x15")
    assert technician == Path("/proc/self").owner()  # the file's owner dropped it
    [(name, queue, cups_id, cups_state)] = lab.query(
        "SELECT f.name, o.cups_queue, o.cups_job_id, o.cups_state FROM job_files f "
        "JOIN job_outputs o ON o.job_id = f.job_id AND o.source_seq = f.seq WHERE f.job_id = ?",
        job_id,
    )
    assert (name, queue, cups_state) == ("IMG_4711.jpg", lab.queue, "completed")
    status = CupsClient(lab.server.server).status(int(str(cups_id)))
    assert status.state is CupsJobState.COMPLETED
    same_name = CupsClient(lab.server.server).find_jobs(f"labd-{job_id}-1")
    assert [s.job_id for s in same_name if s.queue == lab.queue] == [cups_id]

    # `labd jobs` and `labd journal` show it to people.
    [row] = [json.loads(line) for line in lab.labd("jobs", "--format", "json").stdout.splitlines()]
    assert row["id"] == job_id
    assert row["state"] == "DONE"
    assert row["files"] == ["IMG_4711.jpg"]
    assert row["cups_job_ids"] == [cups_id]
    assert row["queue"] == lab.queue
    assert row["technician"] == technician
    table = lab.labd("jobs").stdout
    assert "DONE" in table
    assert "IMG_4711.jpg" in table
    events = [
        json.loads(line)
        for line in lab.labd(
            "journal", "--job", str(job_id), "--format", "json"
        ).stdout.splitlines()
    ]
    changes = [
        (e["data"]["from"], e["data"]["to"]) for e in events if e["kind"] == "job.state_changed"
    ]
    assert changes == [
        ("DISCOVERED", "CLAIMED"),
        ("CLAIMED", "CONVERTED"),
        ("CONVERTED", "SUBMITTING"),
        ("SUBMITTING", "SUBMITTED"),
        ("SUBMITTED", "PRINTED"),
        ("PRINTED", "DONE"),
    ]
    assert all(e["ts"].endswith("Z") for e in events)
    assert "OK:" in lab.labd("journal", "verify").stdout

    # SIGTERM: a clean exit, STOPPING=1 first, and the journal says so.
    assert lab.stop(signal.SIGTERM) == 0
    assert lab.notify is not None
    messages = "\n".join(lab.notify.messages)
    assert "STOPPING=1" in messages
    assert "WATCHDOG=1" in messages
    assert "STATUS=" in messages
    assert lab.query("SELECT data FROM events WHERE kind = 'daemon.stopped'") == [
        ('{"clean":true}',)
    ]


def test_order_folder_becomes_one_job_and_every_image_prints(lab: Lab, tmp_path: Path) -> None:
    lab.start()
    before = set(lab.server.received())
    order = tmp_path / "Order 1042"
    order.mkdir()
    for n, (size, corner) in enumerate(
        [
            ((1600, 1200), "top-right"),
            ((1200, 1600), "bottom-left"),
            ((2000, 1000), "bottom-right"),
        ],
        1,
    ):
        make_photo(order / f"img{n}.jpg", size=size, orientation=1, marker=corner)
    shutil.copytree(order, lab.hot / order.name)

    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    docs = received_since(lab, before, 3)
    sizes = []
    for doc in docs:
        with Image.open(doc) as img:
            sizes.append(img.size)
    assert sorted(sizes) == sorted([(1800, 1200), (1200, 1800), (1800, 1200)])
    files = lab.query(
        "SELECT f.name, o.cups_job_id FROM job_files f JOIN job_outputs o "
        "ON o.job_id = f.job_id AND o.source_seq = f.seq WHERE f.job_id = ? ORDER BY f.seq",
        job_id,
    )
    assert [f[0] for f in files] == [
        "Order 1042/img1.jpg",
        "Order 1042/img2.jpg",
        "Order 1042/img3.jpg",
    ]
    assert len({f[1] for f in files}) == 3
    assert lab.job_states() == {job_id: "DONE"}  # one job for the whole order
    assert lab.stop() == 0


@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        pytest.param("notes.txt", b"call the customer back", "input.not_an_image", id="text"),
        pytest.param("IMG_0001.jpg", None, "input.truncated", id="truncated-jpeg"),
    ],
)
def test_bad_file_is_quarantined_with_a_reason_and_labd_keeps_running(
    lab: Lab, tmp_path: Path, name: str, content: bytes | None, rule: str
) -> None:
    lab.start()
    before = set(lab.server.received())
    if content is None:
        whole = tmp_path / "whole.jpg"
        make_photo(whole, size=(1200, 800))
        data = whole.read_bytes()
        content = data[: len(data) // 2]
    (lab.hot / name).write_bytes(content)

    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"QUARANTINED", "DONE"}) == "QUARANTINED"
    assert lab.query("SELECT rule FROM jobs WHERE id = ?", job_id) == [(rule,)]
    # Nothing lost: the file, byte for byte, in quarantine with a reason beside it.
    moved = lab.root / "quarantine" / "prints-10x15" / f"{job_id}-{name}"
    note = moved.parent / f"{moved.name}.reason.txt"
    # QUARANTINED is journaled before the files move (a crash between is finished at the
    # next start): wait for the move, which comes after the reason file.
    wait_until(lambda: note.exists() and moved.exists(), timeout=30, what="the quarantined file")
    assert moved.read_bytes() == content
    reason = note.read_text()
    assert rule in reason
    assert name in reason
    # The journal says why.
    [(detail,)] = lab.query(
        "SELECT d.text FROM events e JOIN event_details d ON d.seq = e.seq WHERE e.job_id = ?",
        job_id,
    )
    assert name in str(detail)
    # Nothing printed, and labd keeps running: the next good photo prints.
    make_photo(lab.hot / "good.jpg", size=(1200, 800))
    good = wait_until(
        lambda: [j for j in lab.job_states() if j != job_id], timeout=30, what="a second job"
    )[0]
    assert lab.wait_for_state(good, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    assert len(received_since(lab, before, 1)) == 1
    assert lab.stop() == 0


def titles_received(lab: Lab, job_id: int, before: set[Path]) -> list[str]:
    """The CUPS job names (labd-<job>-<output>) of documents the printer received since
    ``before`` (other tests' labs share the printer, and their job ids also start at 1)."""
    marker = f"-labd-{job_id}-"
    return sorted(
        "labd-" + p.name.split("-labd-", 1)[1].rsplit(".", 1)[0]
        for p in lab.server.received()
        if marker in p.name and p not in before
    )


def test_sigterm_mid_order_then_restart_prints_every_image_once(lab: Lab, tmp_path: Path) -> None:
    lab.start()
    before = set(lab.server.received())
    order = tmp_path / "Order 77"
    order.mkdir()
    count = 12
    for n in range(1, count + 1):
        make_photo(order / f"IMG_{n:04d}.jpg", size=(3000, 2000))
    shutil.copytree(order, lab.hot / order.name)
    (lab.hot / order.name / "READY").write_bytes(b"")  # copy complete: take it at once
    [job_id] = lab.wait_for_jobs(1)
    lab.wait_for_state(job_id, {"CLAIMED", "CONVERTED", "SUBMITTING", "SUBMITTED", "DONE"})

    assert lab.stop(signal.SIGTERM) == 0  # mid-conversion or mid-submission: a clean stop
    stopped_in = lab.job_states()[job_id]
    assert stopped_in in {"CLAIMED", "CONVERTED", "SUBMITTING", "SUBMITTED", "DONE"}
    assert lab.query("SELECT data FROM events WHERE kind = 'daemon.stopped'") == [
        ('{"clean":true}',)
    ]

    lab.start()  # the next start carries on
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    expected = [f"labd-{job_id}-{n}" for n in range(1, count + 1)]
    wait_until(
        lambda: len(titles_received(lab, job_id, before)) >= count,
        timeout=30,
        what="every output at the printer",
    )
    assert titles_received(lab, job_id, before) == sorted(expected), f"stopped in {stopped_in}"
    assert lab.stop() == 0


def test_order_with_a_ticket_prints_its_copies_and_records_its_media(
    lab: Lab, tmp_path: Path
) -> None:
    lab.start()
    before = set(lab.server.received())
    order = tmp_path / "Berg"
    order.mkdir()
    make_photo(order / "a.jpg", size=(1200, 800))
    make_photo(order / "b.jpg", size=(1200, 800))
    (order / "ticket.toml").write_text(
        'order = "2026-1042"\n[copies_per_file]\n"b.jpg" = 3\n'
        '[[media]]\nkind = "dvd"\nidentifier = "T-77"\n'
    )
    shutil.copytree(order, lab.hot / order.name)
    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    docs = received_since(lab, before, 2)
    copies = sorted(lab.server.job_attributes(d).get("IPP_COPIES", "1") for d in docs)
    assert copies == ["1", "3"]  # b.jpg three times, in one CUPS job
    assert lab.query("SELECT name, copies FROM job_files WHERE job_id = ? ORDER BY seq",
                     job_id) == [("Berg/a.jpg", None), ("Berg/b.jpg", 3)]  # fmt: skip
    assert lab.query("SELECT order_ref FROM job_personal WHERE job_id = ?", job_id) == [
        ("2026-1042",)
    ]
    # The disc it came on is in the media ledger, tied to the job, and ready once DONE.
    [(kind,)] = lab.query(
        "SELECT m.kind FROM media_items m JOIN media_jobs j ON j.item_id = m.id WHERE j.job_id = ?",
        job_id,
    )
    assert kind == "dvd"
    wait_until(
        lambda: lab.query("SELECT state FROM media_items") == [("ready",)],
        timeout=10,
        what="the disc ready once its order is done",
    )
    assert lab.stop() == 0


def test_order_with_a_bad_ticket_is_quarantined_whole(lab: Lab, tmp_path: Path) -> None:
    lab.start()
    order = tmp_path / "Dahl"
    order.mkdir()
    make_photo(order / "a.jpg", size=(1200, 800))
    (order / "ticket.toml").write_text("copies = 0\n")
    shutil.copytree(order, lab.hot / order.name)
    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "QUARANTINED"
    assert lab.query("SELECT rule FROM jobs WHERE id = ?", job_id) == [("intake.bad_ticket",)]
    kept = lab.root / "quarantine" / "prints-10x15" / f"{job_id}-Dahl"
    assert sorted(p.name for p in kept.iterdir()) == ["a.jpg", "ticket.toml"]  # nothing lost
    reason = (kept.parent / f"{kept.name}.reason.txt").read_text()
    assert "ticket.toml: copies: 0 is out of range" in reason
    assert lab.stop() == 0


def test_the_daemon_deletes_a_finished_job_when_its_retention_ends(
    lab: Lab, tmp_path: Path
) -> None:
    lab.hotfolder_settings = "retention_days = 0"  # due as soon as it is DONE
    lab.write_config()
    with lab.config_path.open("a") as f:
        f.write("\n[retention]\ncheck_seconds = 0.5\n")
    lab.start()
    make_photo(tmp_path / "IMG_9.jpg", size=(1200, 800))
    shutil.copy(tmp_path / "IMG_9.jpg", lab.hot / "IMG_9.jpg")
    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"PURGED", "HELD", "QUARANTINED"}) == "PURGED"
    assert not (lab.root / "spool" / str(job_id)).exists()  # inputs and outputs gone
    assert lab.query("SELECT name FROM job_files WHERE job_id = ?", job_id) != [("IMG_9.jpg",)]
    kinds = [k for (k,) in lab.query("SELECT kind FROM events WHERE job_id = ?", job_id)]
    assert "retention.purged" in kinds
    assert lab.stop() == 0


def test_overdue_customer_media_are_in_the_log(lab: Lab) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from labd.clock import ManualClock  # noqa: PLC0415
    from labd.media.ledger import MediaLedger  # noqa: PLC0415
    from labd.media.model import MediaKind  # noqa: PLC0415

    month_ago = ManualClock(datetime.now(UTC) - timedelta(days=30))
    journal = open_journal(lab.journal_path, month_ago)
    media = MediaLedger(journal)
    stick = media.register(MediaKind.USB, "SN-7", by="anna", orders=["2026-7"])
    media.ready(stick.id, by="anna")
    journal.close()
    lab.start()
    line = wait_until(
        lambda: next((x for x in lab.log().splitlines() if '"media.overdue"' in x), None),
        timeout=20,
        what="a media.overdue log line",
    )
    assert f'"item": {stick.id}' in line
    assert "SN-7" not in lab.log()  # the serial is personal: never in the log
    assert lab.stop() == 0


def test_conversion_workers_end_when_labd_is_killed(lab: Lab, tmp_path: Path) -> None:
    lab.start()
    make_photo(tmp_path / "a.jpg", size=(1200, 800))
    shutil.copy(tmp_path / "a.jpg", lab.hot / "a.jpg")
    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    assert lab.proc is not None
    children = Path(f"/proc/{lab.proc.pid}/task/{lab.proc.pid}/children")
    workers = [int(p) for p in children.read_text().split()]
    for task in Path(f"/proc/{lab.proc.pid}/task").iterdir():  # spawned by the work thread
        workers += [int(p) for p in (task / "children").read_text().split()]
    assert workers, "labd converted without its pool of worker processes"
    assert lab.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_until(
        lambda: not [w for w in set(workers) if Path(f"/proc/{w}").exists()],
        timeout=10,
        what="the conversion workers to end with labd",
    )
