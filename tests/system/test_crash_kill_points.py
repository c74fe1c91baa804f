"""SIGKILL labd at every step of a job's life, restart it, count what the printer received.

labd kills itself at the named point (LABD_FAULT, see labd.pipeline.FAULT_POINTS): only
that hits the instant between two steps every time.  After each kill labd is started
again without the fault and must bring the job to DONE with exactly one document per
output at the (virtual) printer and exactly one CUPS job of its name.
"""

from __future__ import annotations

import signal
from functools import partial
from pathlib import Path

import pytest

from labd.faults import FAULT_ENV
from labd.faults import KILL_POINTS as FAULT_POINTS
from labd.printing import CupsClient
from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

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


@pytest.mark.parametrize("point", FAULT_POINTS)
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
