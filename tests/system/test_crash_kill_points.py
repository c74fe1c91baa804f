"""SIGKILL labd at every step of a job's life, restart it, count what the printer received.

labd kills itself at the named point (LABD_FAULT, see labd.faults.KILL_POINTS): only
that hits the instant between two steps every time.  After each kill labd is started
again without the fault and must bring the job to DONE with exactly one document per
output at the (virtual) printer and exactly one CUPS job of its name; or, on the
quarantine path, to QUARANTINED with its files and reason in the quarantine, after which
the next photo prints.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from labd.faults import FAULT_ENV, PRINT_KILL_POINTS, QUARANTINE_KILL_POINTS
from labd.printing import CupsClient
from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

Drop = Callable[[Path, Path, str], str]
RUNS = 3  # per kill point; each run is a kill, a restart and a finished job
# Filled as runs pass; tests/conftest.py prints it at the end of the session.
COVERED: dict[str, int] = {}


def documents_for(lab: Lab, title: str) -> list[Path]:
    """Documents this lab's printer received for CUPS job ``title`` (labd-<job>-<seq>)."""
    return [
        p
        for p in lab.server.received()
        if p.name.endswith(f"-{title}.jpg") or p.name.endswith(f"-{title}")
        if lab.server.job_attributes(p).get("LABD_QUEUE") == lab.queue
    ]


@pytest.mark.parametrize("point", PRINT_KILL_POINTS)
def test_sigkill_at_each_step_then_restart_prints_each_output_once(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    cups = CupsClient(lab.server.server)
    # labd proves "CUPS never got it" only with a history reaching back before the submit
    # intent; a CUPS that has never printed anything proves nothing (labd says UNCERTAIN).
    make_photo(tmp_path / "baseline.jpg", size=(600, 400))
    cups.submit(lab.queue, tmp_path / "baseline.jpg", title="kill-point-baseline")
    for run in range(1, RUNS + 1):
        monkeypatch.setenv(FAULT_ENV, point)
        lab.start()
        make_photo(tmp_path / f"run{run}.jpg", size=(1200, 800))
        (tmp_path / f"run{run}.jpg").rename(lab.hot / f"run{run}.jpg")
        assert lab.proc is not None
        wait_until(lambda: lab.proc is not None and lab.proc.poll() is not None, timeout=60,
                   what=f"labd to kill itself at {point}")  # fmt: skip
        assert lab.stop() == -signal.SIGKILL, lab.log()[-3000:]
        job_id = max(lab.wait_for_jobs(run))

        monkeypatch.delenv(FAULT_ENV)
        lab.start()
        assert lab.wait_for_state(job_id, {"DONE", "HELD", "UNCERTAIN"}) == "DONE"
        title = f"labd-{job_id}-1"
        wait_until(partial(documents_for, lab, title), timeout=30, what=f"{title} printed")
        named = [s for s in cups.find_jobs(title) if s.queue == lab.queue]
        assert len(named) == 1, f"{point} run {run}: CUPS jobs {named}"
        assert len(documents_for(lab, title)) == 1, f"{point} run {run}: printed twice"
        assert lab.stop() == 0
        COVERED[point] = COVERED.get(point, 0) + 1


# Refused by intake (an order with no photo in it) or by conversion (text named .jpg).
def _refused_by_intake(folder: Path, tmp_path: Path, run: str) -> str:
    order = tmp_path / f"empty-order-{run}"
    order.mkdir()
    (order / ".DS_Store").write_bytes(b"ignored")
    order.rename(folder / order.name)
    return order.name


def _refused_by_conversion(folder: Path, tmp_path: Path, run: str) -> str:
    bad = tmp_path / f"not-a-photo-{run}.jpg"
    bad.write_text("this is not a photo")
    bad.rename(folder / bad.name)
    return bad.name


QUARANTINE_CASES = [
    pytest.param("refused", _refused_by_intake, id="refused-intake"),
    pytest.param("convert_refused", _refused_by_conversion, id="convert_refused"),
    pytest.param("quarantine_note", _refused_by_intake, id="quarantine_note-intake"),
    pytest.param("quarantine_note", _refused_by_conversion, id="quarantine_note-conversion"),
    pytest.param("quarantine_moved", _refused_by_intake, id="quarantine_moved-intake"),
    pytest.param("quarantine_moved", _refused_by_conversion, id="quarantine_moved-conversion"),
]
assert {c.values[0] for c in QUARANTINE_CASES} == set(QUARANTINE_KILL_POINTS)


@pytest.mark.parametrize(("point", "drop"), QUARANTINE_CASES)
def test_sigkill_on_the_quarantine_path_then_restart_ends_quarantined_and_prints_on(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str, drop: Drop
) -> None:
    monkeypatch.setenv(FAULT_ENV, point)
    lab.start()
    name = drop(lab.hot, tmp_path, point)
    assert lab.proc is not None
    wait_until(lambda: lab.proc is not None and lab.proc.poll() is not None, timeout=60,
               what=f"labd to kill itself at {point}")  # fmt: skip
    assert lab.stop() == -signal.SIGKILL, lab.log()[-3000:]
    [job_id] = lab.wait_for_jobs(1)

    # Restarted at once, as systemd would: the job ends QUARANTINED, files and reason kept.
    monkeypatch.delenv(FAULT_ENV)
    lab.start()
    assert lab.wait_for_state(job_id, {"QUARANTINED", "DONE", "HELD"}) == "QUARANTINED"
    kept = lab.root / "quarantine" / "prints-10x15" / f"{job_id}-{name}"
    wait_until(kept.exists, timeout=30, what="the files in the quarantine")
    assert "Reason:" in kept.with_name(kept.name + ".reason.txt").read_text()
    assert not (lab.root / "spool" / str(job_id) / "in" / name).exists()
    assert lab.proc is not None
    assert lab.proc.poll() is None

    # And the next photo prints.
    make_photo(tmp_path / "next.jpg", size=(1200, 800))
    (tmp_path / "next.jpg").rename(lab.hot / "next.jpg")
    next_id = max(lab.wait_for_jobs(2))
    assert lab.wait_for_state(next_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    assert lab.stop() == 0
    COVERED[point] = COVERED.get(point, 0) + 1
