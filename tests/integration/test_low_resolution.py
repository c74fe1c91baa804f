"""A photo too small for its print, through the daemon's pipeline and a real private CUPS.

warn prints it and says so (journal, ``labd status``, ``labd jobs N``); hold waits for a
technician's ``labd retry`` (which prints it anyway) or ``labd cancel``; quarantine refuses
the job with the reason; a big photo goes through without a word.  The pipeline's steps
run by hand with a manual clock, as the daemon's loops would run them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock
from labd.demo.embedded import EmbeddedPrintServer
from labd.model import JobState
from tests.factories import PrintRig
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

_queues = iter(range(1, 1000))
# A rig whose product x has these settings more (min_ppi, low_resolution).
MakeRig = Callable[[Mapping[str, object]], PrintRig]
LOW_NOTE = (
    "photo.jpg: 107 ppi on the print, below the 150 ppi product x asks for (a larger "
    "original, or a smaller print)"
)


@pytest.fixture
def make_rig(tmp_path: Path, print_server: EmbeddedPrintServer) -> Iterator[MakeRig]:
    rigs: list[PrintRig] = []

    def make(product: Mapping[str, object]) -> PrintRig:
        queue = f"lowres-{next(_queues)}"
        print_server.add_raw_queue(queue)
        rig = PrintRig(tmp_path, print_server, queue, ManualClock(datetime.now(UTC)),
                       product=product)  # fmt: skip
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.journal.close()


def labd(rig: PrintRig, *args: str) -> str:
    out = io.StringIO()
    assert main(["--config", str(rig.config_file()), *args], out=out) == 0
    return out.getvalue()


def print_it(rig: PrintRig, job_id: int) -> None:
    """Submit the job as the work loop would, and follow it until CUPS has printed it."""
    rig.pipeline.process(job_id)

    def done() -> bool:
        rig.pipeline.follow()
        return rig.journal.job(job_id).state is JobState.DONE

    wait_until(done, timeout=30, what=f"job {job_id} DONE")


def test_warn_prints_the_photo_and_says_so_everywhere(make_rig: MakeRig) -> None:
    rig = make_rig({})
    job = rig.claimed_job(size=(640, 480))
    assert rig.pipeline.convert(rig.journal.job(job.id))
    [warning] = [e for e in rig.journal.events(job_id=job.id) if e.kind == "job.low_resolution"]
    assert dict(warning.data) == {"policy": "warn", "min_ppi": 150, "files": [1], "ppi": [107]}
    assert warning.detail == LOW_NOTE
    print_it(rig, job.id)
    [out] = rig.journal.outputs(job.id)
    assert rig.cups_jobs_named(out.cups_title) == [out.cups_job_id]  # printed, once
    shown = labd(rig, "jobs", str(job.id))
    [line] = [line for line in shown.splitlines() if line.startswith("    1  photo.jpg  ")]
    assert line.endswith("  107 ppi, UPSCALED to 300 dpi, LOW: below the 150 ppi minimum")
    assert "resolution  1 of 1 files upscaled to 300 dpi, 1 below the 150 ppi minimum\n" in shown
    assert f"low resolution (last 24 h): job {job.id} DONE: {LOW_NOTE}\n" in labd(rig, "status")


def test_hold_waits_for_the_technician_and_retry_prints_it_anyway(make_rig: MakeRig) -> None:
    rig = make_rig({"low_resolution": "hold"})
    job = rig.claimed_job(size=(640, 480))
    assert not rig.pipeline.convert(rig.journal.job(job.id))
    held = rig.journal.job(job.id)
    assert (held.state, held.rule) == (JobState.HELD, "input.low_resolution")
    assert held.reason == LOW_NOTE
    [out] = rig.journal.outputs(job.id)
    assert rig.pipeline.due_retries() == []  # never retried by itself
    assert rig.cups_jobs_named(out.cups_title) == []  # nothing went to the printer
    status = labd(rig, "status")
    assert f"needs attention: job {job.id} HELD input.low_resolution: {LOW_NOTE}" in status
    assert "low resolution (last 24 h)" not in status  # said once, as needing attention
    hot = rig.config.hotfolders["h"].path
    hot.mkdir(parents=True, mode=0o770)
    said = labd(rig, "explain", str(hot / "photo.jpg"))
    assert said.startswith(f"photo.jpg is no longer in hot folder h: it was held as job {job.id}")
    assert said.endswith(
        f": {LOW_NOTE} (input.low_resolution) — labd retry {job.id} / labd cancel {job.id}.\n"
    )
    assert labd(rig, "retry", str(job.id)) == (
        f"job {job.id}: CONVERTED; outputs printed for the first time: 1\n"
    )
    print_it(rig, job.id)  # the technician decided: printed as it is
    [out] = rig.journal.outputs(job.id)
    assert rig.cups_jobs_named(out.cups_title) == [out.cups_job_id]


def test_hold_then_cancel_prints_nothing(make_rig: MakeRig) -> None:
    rig = make_rig({"low_resolution": "hold"})
    job = rig.claimed_job(size=(640, 480))
    assert not rig.pipeline.convert(rig.journal.job(job.id))
    assert (
        labd(rig, "cancel", str(job.id)) == f"job {job.id}: CANCELED; CUPS jobs cancelled: none\n"
    )
    rig.pipeline.process(job.id)  # the work loop has nothing to do with it
    [out] = rig.journal.outputs(job.id)
    assert rig.journal.job(job.id).state is JobState.CANCELED
    assert rig.cups_jobs_named(out.cups_title) == []


def test_quarantine_refuses_the_job_with_the_reason(make_rig: MakeRig) -> None:
    rig = make_rig({"low_resolution": "quarantine", "min_ppi": 200})
    job = rig.claimed_job(size=(1080, 720))  # 180 ppi
    assert not rig.pipeline.convert(rig.journal.job(job.id))
    refused = rig.journal.job(job.id)
    reason = (
        "1 of 1 file cannot be printed: photo.jpg: 180 ppi on the print, below the 200 ppi "
        "product x asks for (a larger original, or a smaller print)"
    )
    assert (refused.state, refused.rule, refused.reason) == (
        JobState.QUARANTINED,
        "input.low_resolution",
        reason,
    )
    moved = rig.config.quarantine_dir / "h" / f"{job.id}-photo.jpg"
    assert moved.is_file()  # the photo, whole, beside its reason
    assert f"Reason: {reason}\n" in moved.with_name(moved.name + ".reason.txt").read_text()
    assert rig.journal.outputs(job.id) == []


def test_a_big_photo_prints_without_a_word_and_shows_its_ppi(make_rig: MakeRig) -> None:
    rig = make_rig({})
    job = rig.claimed_job(size=(2400, 1600))
    assert rig.pipeline.convert(rig.journal.job(job.id))
    assert [e for e in rig.journal.events(job_id=job.id) if e.kind == "job.low_resolution"] == []
    print_it(rig, job.id)
    shown = labd(rig, "jobs", str(job.id))
    [line] = [line for line in shown.splitlines() if line.startswith("    1  photo.jpg  ")]
    assert line.endswith("  400 ppi")
    assert "UPSCALED" not in shown
    assert "low resolution" not in labd(rig, "status")
