"""Orders as technicians build them, through ``labd run``: a hot folder that waits for the
order's marker, the late files of an order taken early, and a fixed photo dropped in again.

Real everything, as in test_end_to_end: labd as a subprocess, inotify, the embedded CUPS
with a virtual printer, the journal, and the commands a technician types.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

FINISHED = {"DONE", "HELD", "QUARANTINED"}


def entries(lab: Lab) -> dict[str, int]:
    """The journal's jobs by entry name (the newest of each name)."""
    rows = lab.query(
        "SELECT p.entry, j.id FROM jobs j JOIN job_personal p ON p.job_id = j.id ORDER BY j.id"
    )
    return {str(entry): int(str(job_id)) for entry, job_id in rows}


def test_a_marker_hot_folder_prints_a_hand_built_order_whole(lab: Lab, tmp_path: Path) -> None:
    lab.hotfolder_settings = 'order_ready = "marker"'
    lab.write_config()
    lab.start()
    order = lab.hot / "Hansen"
    order.mkdir()
    make_photo(order / "a.jpg", size=(1200, 800))
    # A single photo dropped after the first one of the order: once it is taken, the order
    # has been quiet for a stability period too, without being taken.
    make_photo(lab.hot / "probe.jpg", size=(1200, 800))
    wait_until(lambda: "probe.jpg" in entries(lab), timeout=30, what="the single photo taken")
    assert "Hansen" not in entries(lab)
    waiting = lab.labd("explain", str(order)).stdout
    assert "waiting for its READY file (or ticket.toml)" in waiting
    make_photo(order / "b.jpg", size=(1200, 800))
    (order / "READY").write_bytes(b"")
    job_id = wait_until(lambda: entries(lab).get("Hansen"), timeout=30, what="the order taken")
    assert lab.wait_for_state(job_id, FINISHED) == "DONE"
    files = lab.query("SELECT name FROM job_files WHERE job_id = ? ORDER BY seq", job_id)
    assert files == [("Hansen/a.jpg",), ("Hansen/b.jpg",)]
    assert lab.stop() == 0


def test_late_files_of_an_order_print_as_a_job_linked_to_it(lab: Lab, tmp_path: Path) -> None:
    lab.start()
    first_part = tmp_path / "Hansen"
    first_part.mkdir()
    make_photo(first_part / "a.jpg", size=(1200, 800))
    (first_part / "ticket.toml").write_text('order = "A-1001"\n')
    shutil.copytree(first_part, lab.hot / "Hansen")
    [first] = lab.wait_for_jobs(1)
    wait_until(lambda: not (lab.hot / "Hansen").exists(), timeout=30, what="the folder taken")
    (lab.hot / "Hansen").mkdir()  # the technician's next cp re-creates it
    make_photo(lab.hot / "Hansen" / "b.jpg", size=(1200, 800))
    [late] = [j for j in lab.wait_for_jobs(2) if j != first]
    assert lab.wait_for_state(first, FINISHED) == "DONE"
    assert lab.wait_for_state(late, FINISHED) == "DONE"  # nothing lost, nothing held
    assert lab.query("SELECT order_ref FROM job_personal WHERE job_id = ?", late) == [("A-1001",)]
    shown = lab.labd("jobs", str(late)).stdout
    assert f"late files  of the order taken as job {first}\n" in shown
    assert lab.stop() == 0


def test_a_fixed_photo_dropped_in_again_closes_its_quarantined_job(lab: Lab) -> None:
    lab.start()
    (lab.hot / "IMG_1.jpg").write_bytes(b"these are notes, not a photo\n")
    [bad] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(bad, FINISHED) == "QUARANTINED"
    assert f"needs attention: job {bad} QUARANTINED" in lab.labd("status").stdout
    make_photo(lab.hot / "IMG_1.jpg", size=(1200, 800))  # the right file, same name
    [fixed] = [j for j in lab.wait_for_jobs(2) if j != bad]
    assert lab.wait_for_state(fixed, FINISHED) == "DONE"
    assert "needs attention" not in lab.labd("status").stdout
    assert lab.query("SELECT state FROM jobs WHERE id = ?", bad) == [("QUARANTINED",)]
    assert f"closed      replaced by job {fixed}, by " in lab.labd("jobs", str(bad)).stdout
    assert lab.stop() == 0
