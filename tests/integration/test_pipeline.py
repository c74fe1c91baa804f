"""The pipeline's print steps against a real private CUPS: exactly once, held, retried.

Crashes are reproduced by doing, by hand, exactly the part of a step that ran before the
crash (the journal write, or the journal write and the IPP request), then running the
step as a restarted labd would.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from labd.clock import ManualClock
from labd.demo.embedded import EmbeddedPrintServer
from labd.model import JobState
from labd.pipeline import RETRY_FIRST_SECONDS, Pipeline
from labd.printing import CupsClient
from tests.factories import PrintRig as Rig
from tests.factories import print_config as config_for
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

_queues = itertools.count(1)


@pytest.fixture
def raw_queue(print_server: EmbeddedPrintServer) -> str:
    """A queue of its own for each test: every test's journal numbers its jobs from 1, so
    CUPS job names repeat across tests, and reconciliation looks at one queue only."""
    name = f"pipeline-raw-{next(_queues)}"
    print_server.add_raw_queue(name)
    return name


@pytest.fixture
def rig(tmp_path: Path, print_server: EmbeddedPrintServer, raw_queue: str) -> Iterator[Rig]:
    clock = ManualClock(datetime.now(UTC))
    rig = Rig(tmp_path, print_server, raw_queue, clock)
    yield rig
    rig.journal.close()


def test_submit_then_follow_to_done(rig: Rig) -> None:
    job = rig.converted_job()
    rig.pipeline.submit(job)
    assert rig.journal.job(job.id).state is JobState.SUBMITTED

    def followed() -> bool:
        rig.pipeline.follow()
        return rig.journal.job(job.id).state is JobState.DONE

    wait_until(followed, timeout=20, what="the job DONE")
    [f] = rig.journal.outputs(job.id)
    assert f.cups_state == "completed"
    assert rig.cups_jobs_named(f.cups_title) == [f.cups_job_id]


def test_crash_after_the_ipp_request_is_reconciled_not_resubmitted(rig: Rig) -> None:
    job = rig.converted_job()
    [f] = rig.journal.outputs(job.id)
    # Before the crash: intent committed, CUPS took the job, its id never recorded.
    rig.journal.printing.submit_intent(job.id, 1)
    cups_id = rig.cups.submit(rig.queue, Path(job.spool) / f.path, title=f.cups_title)
    # After the restart:
    rig.pipeline.submit(rig.journal.job(job.id))
    assert rig.journal.job(job.id).state is JobState.SUBMITTED
    assert rig.journal.outputs(job.id)[0].cups_job_id == cups_id
    assert rig.cups_jobs_named(f.cups_title) == [cups_id]  # printed once
    assert any(
        e.kind == "print.submitted" and e.data["cups_job_id"] == cups_id
        for e in rig.journal.events(job_id=job.id)
    )


def test_crash_before_the_ipp_request_submits_once(rig: Rig) -> None:
    job = rig.converted_job()
    rig.journal.printing.submit_intent(job.id, 1)  # ... and then labd died
    rig.pipeline.submit(rig.journal.job(job.id))
    [f] = rig.journal.outputs(job.id)
    assert f.cups_job_id is not None
    assert rig.cups_jobs_named(f.cups_title) == [f.cups_job_id]


def test_an_older_cups_job_of_the_same_name_is_not_taken_for_this_one(rig: Rig) -> None:
    rig.clock.advance(600)  # this job is claimed 10 minutes after ...
    job = rig.converted_job()
    [f] = rig.journal.outputs(job.id)
    # ... CUPS made a job of the same name for a journal that has since been replaced.
    old = rig.cups.submit(rig.queue, Path(job.spool) / f.path, title=f.cups_title)
    rig.journal.printing.submit_intent(job.id, 1)
    rig.pipeline.submit(rig.journal.job(job.id))
    new = rig.journal.outputs(job.id)[0].cups_job_id
    assert new is not None
    assert new != old
    assert sorted(rig.cups_jobs_named(f.cups_title)) == sorted([old, new])


def test_cups_unreachable_holds_the_job_and_retries_with_back_off(rig: Rig, tmp_path: Path) -> None:
    job = rig.converted_job()
    rig.pipeline.cups = CupsClient(str(tmp_path / "no-cups.sock"))
    rig.pipeline.submit(job)
    held = rig.journal.job(job.id)
    assert (held.state, held.rule) == (JobState.HELD, "print.unavailable")
    assert held.reason is not None
    assert "no-cups.sock" in held.reason
    assert rig.pipeline.due_retries() == []  # back-off not over
    rig.clock.advance(RETRY_FIRST_SECONDS + 0.1)
    rig.pipeline.cups = rig.cups  # CUPS is back
    assert rig.pipeline.due_retries() == [job.id]
    rig.pipeline.process(job.id)
    assert rig.journal.job(job.id).state is JobState.SUBMITTED
    [f] = rig.journal.outputs(job.id)
    assert rig.cups_jobs_named(f.cups_title) == [f.cups_job_id]


def test_unknown_queue_holds_for_a_technician_not_retried(
    rig: Rig, print_server: EmbeddedPrintServer, tmp_path: Path
) -> None:
    config = config_for(tmp_path, print_server.server, "no-such-queue")
    pipeline = Pipeline(config=config, journal=rig.journal, cups=rig.cups, clock=rig.clock)
    job = rig.converted_job(pipeline)
    pipeline.submit(job)
    held = rig.journal.job(job.id)
    assert (held.state, held.rule) == (JobState.HELD, "print.refused")
    assert "no CUPS queue named 'no-such-queue'" in str(held.reason)
    rig.clock.advance(3600)
    assert pipeline.due_retries() == []


def test_product_options_reach_cups_over_the_printers(rig: Rig) -> None:
    from dataclasses import replace  # noqa: PLC0415

    import cups  # noqa: PLC0415  # read the job's attributes as CUPS holds them

    printers = {
        "p": replace(rig.config.printers["p"], options=MappingProxyType({"job-priority": "20"}))
    }
    products = {"x": replace(rig.config.products["x"], options=(("job-priority", "80"),))}
    rig.pipeline.config = replace(rig.config, printers=printers, products=products)
    job = rig.converted_job()
    rig.pipeline.submit(job)
    [out] = rig.journal.outputs(job.id)
    conn = cups.Connection(host=rig.cups.server)
    attributes = conn.getJobAttributes(out.cups_job_id, requested_attributes=["job-priority"])
    assert attributes["job-priority"] == 80  # the product's value won
