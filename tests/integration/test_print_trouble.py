"""Printer and CUPS trouble against a real private CUPS: held, resumed, retried, never twice.

The pipeline's steps run by hand with a manual clock, as the daemon's loops would run
them, so back-off needs no waiting.  Tests that kill cupsd get a print server of their own.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labd.cli import main
from labd.cli.doctor import _directives
from labd.clock import ManualClock
from labd.demo.embedded import EmbeddedPrintServer
from labd.model import JobState
from labd.pipeline import RETRY_FIRST_SECONDS, STOPPED_RULE
from labd.printing import CupsJobState
from labd.printing.actions import cancel_job, reprint_job, resolve_job, retry_job
from tests.factories import PrintRig as Rig
from tests.waiting import wait_until

pytestmark = pytest.mark.cups


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedPrintServer]:
    """A print server of this module's own: some tests kill its cupsd."""
    root = Path(tempfile.mkdtemp(prefix="labd-cups-trouble-"))
    try:
        with EmbeddedPrintServer(root).start(()) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


_names = iter(range(1, 1000))


def rig_for(tmp_path: Path, server: EmbeddedPrintServer, queue: str) -> Rig:
    return Rig(tmp_path, server, queue, ManualClock(datetime.now(UTC)))


@pytest.fixture
def raw(tmp_path: Path, own_server: EmbeddedPrintServer) -> Iterator[Rig]:
    queue = f"trouble-raw-{next(_names)}"
    own_server.add_raw_queue(queue)
    rig = rig_for(tmp_path, own_server, queue)
    yield rig
    rig.journal.close()


@pytest.fixture
def flaky(tmp_path: Path, own_server: EmbeddedPrintServer) -> Iterator[tuple[Rig, Path]]:
    queue = f"trouble-flaky-{next(_names)}"
    folder = own_server.add_testfail_queue(queue)
    rig = rig_for(tmp_path, own_server, queue)
    yield rig, folder
    (folder / "mode").write_text("ok\n")  # release a hanging backend
    rig.journal.close()


def admin(server: EmbeddedPrintServer, tool: str, queue: str) -> None:
    subprocess.run([tool, "-h", server.server, queue], check=True, capture_output=True)


def follow_until(rig: Rig, job_id: int, *states: JobState, timeout: float = 30) -> JobState:
    def reached() -> JobState | None:
        rig.pipeline.follow()
        state = rig.journal.job(job_id).state
        return state if state in states else None

    return wait_until(reached, timeout=timeout, what=f"job {job_id} in {states}")


def test_stopped_printer_holds_the_job_and_it_resumes_by_itself(
    raw: Rig, own_server: EmbeddedPrintServer
) -> None:
    admin(own_server, "cupsdisable", raw.queue)
    job = raw.converted_job()
    raw.pipeline.submit(job)
    assert follow_until(raw, job.id, JobState.HELD) is JobState.HELD
    held = raw.journal.job(job.id)
    assert held.rule == STOPPED_RULE
    assert "is stopped" in str(held.reason)
    [out] = raw.journal.outputs(job.id)
    assert raw.cups.status(int(str(out.cups_job_id))).state is CupsJobState.PENDING
    admin(own_server, "cupsenable", raw.queue)
    assert follow_until(raw, job.id, JobState.DONE) is JobState.DONE
    assert raw.cups_jobs_named(out.cups_title) == [out.cups_job_id]
    # PreserveJobFiles No: CUPS keeps no copy of the document once it is done.
    assert not list(own_server.spool_dir.glob(f"d{out.cups_job_id:05d}-*"))


def test_rejecting_queue_holds_retries_with_back_off_and_submits_once(
    raw: Rig, own_server: EmbeddedPrintServer
) -> None:
    admin(own_server, "cupsreject", raw.queue)
    job = raw.converted_job()
    raw.pipeline.submit(job)
    held = raw.journal.job(job.id)
    assert (held.state, held.rule) == (JobState.HELD, "print.unavailable")
    assert raw.pipeline.due_retries() == []
    raw.clock.advance(RETRY_FIRST_SECONDS + 0.1)
    assert raw.pipeline.due_retries() == [job.id]
    raw.pipeline.process(job.id)  # still rejecting: held again, twice the wait
    assert raw.journal.job(job.id).state is JobState.HELD
    raw.clock.advance(RETRY_FIRST_SECONDS + 0.1)
    assert raw.pipeline.due_retries() == []
    admin(own_server, "cupsaccept", raw.queue)
    raw.clock.advance(RETRY_FIRST_SECONDS)
    assert raw.pipeline.due_retries() == [job.id]
    raw.pipeline.process(job.id)
    assert follow_until(raw, job.id, JobState.DONE) is JobState.DONE
    [out] = raw.journal.outputs(job.id)
    assert raw.cups_jobs_named(out.cups_title) == [out.cups_job_id]


def test_aborted_job_is_held_with_cups_reason_and_only_retried_by_a_technician(
    flaky: tuple[Rig, Path],
) -> None:
    rig, folder = flaky
    (folder / "mode").write_text("fail\n")
    job = rig.converted_job()
    rig.pipeline.submit(job)
    assert follow_until(rig, job.id, JobState.HELD) is JobState.HELD
    held = rig.journal.job(job.id)
    assert held.rule == "print.aborted"
    assert "aborted" in str(held.reason)
    rig.clock.advance(3600)
    assert rig.pipeline.due_retries() == []  # never resubmitted in a loop
    [first] = rig.journal.outputs(job.id)

    (folder / "mode").write_text("ok\n")
    assert retry_job(rig.journal, rig.cups, job.id, by="tech") == [1]
    rig.pipeline.process(job.id)
    assert follow_until(rig, job.id, JobState.DONE) is JobState.DONE
    [second] = rig.journal.outputs(job.id)
    assert second.cups_job_id != first.cups_job_id
    assert set(rig.cups_jobs_named(first.cups_title)) == {first.cups_job_id, second.cups_job_id}
    assert len(list(folder.glob("*.out"))) == 2  # the aborted attempt and the retry


def test_cups_down_at_submit_then_started_submits_once(
    raw: Rig, own_server: EmbeddedPrintServer
) -> None:
    job = raw.converted_job()
    own_server.kill_cupsd()
    try:
        raw.pipeline.submit(job)
        held = raw.journal.job(job.id)
        assert (held.state, held.rule) == (JobState.HELD, "print.unavailable")
    finally:
        own_server.start_cupsd()
    raw.clock.advance(RETRY_FIRST_SECONDS + 0.1)
    assert raw.pipeline.due_retries() == [job.id]
    raw.pipeline.process(job.id)
    assert follow_until(raw, job.id, JobState.DONE) is JobState.DONE
    [out] = raw.journal.outputs(job.id)
    assert raw.cups_jobs_named(out.cups_title) == [out.cups_job_id]


def test_cupsd_killed_mid_job_records_a_possible_duplicate(
    flaky: tuple[Rig, Path], own_server: EmbeddedPrintServer
) -> None:
    rig, folder = flaky
    (folder / "mode").write_text("hang\n")
    job = rig.converted_job()
    rig.pipeline.submit(job)

    def printing() -> bool:
        rig.pipeline.follow()
        return rig.journal.outputs(job.id)[0].cups_state == "processing"

    wait_until(printing, timeout=20, what="the job processing")
    own_server.kill_cupsd()
    try:
        rig.pipeline.follow()  # labd notices CUPS is gone
    finally:
        (folder / "mode").write_text("ok\n")
        own_server.start_cupsd()
    assert follow_until(rig, job.id, JobState.DONE) is JobState.DONE
    kinds = [e.kind for e in rig.journal.events(job_id=job.id)]
    assert "print.possible_duplicate" in kinds


def test_unknown_cups_job_after_restart_is_uncertain_until_resolved(raw: Rig) -> None:
    job = raw.converted_job()
    raw.journal.printing.submit_intent(job.id, 1)
    raw.journal.printing.submitted(job.id, 1, 987654)  # an id this CUPS never had: history lost
    assert raw.pipeline.recover() == []
    uncertain = raw.journal.job(job.id)
    assert (uncertain.state, uncertain.rule) == (JobState.UNCERTAIN, "print.history_lost")
    assert "987654" in str(uncertain.reason)
    assert resolve_job(raw.journal, job.id, "reprint", by="supervisor") is JobState.SUBMITTING
    raw.pipeline.process(job.id)
    assert follow_until(raw, job.id, JobState.DONE) is JobState.DONE
    [out] = raw.journal.outputs(job.id)
    assert raw.cups_jobs_named(out.cups_title) == [out.cups_job_id]


def test_intent_with_a_history_that_proves_nothing_is_uncertain(
    tmp_path: Path, own_server: EmbeddedPrintServer
) -> None:
    queue = f"trouble-raw-{next(_names)}"
    own_server.add_raw_queue(queue)
    rig = rig_for(tmp_path, own_server, queue)
    rig.clock.advance(-365 * 86400)  # the intent is older than anything CUPS remembers
    job = rig.converted_job()
    rig.journal.printing.submit_intent(job.id, 1)
    rig.pipeline.recover()
    assert rig.journal.job(job.id).state is JobState.UNCERTAIN
    assert resolve_job(rig.journal, job.id, "printed", by="supervisor") is JobState.DONE
    assert rig.cups_jobs_named(f"labd-{job.id}-1") == []
    rig.journal.close()


def test_cancel_held_job_cancels_its_cups_job(raw: Rig, own_server: EmbeddedPrintServer) -> None:
    admin(own_server, "cupsdisable", raw.queue)
    try:
        job = raw.converted_job()
        raw.pipeline.submit(job)
        follow_until(raw, job.id, JobState.HELD)
        [out] = raw.journal.outputs(job.id)
        assert cancel_job(raw.journal, raw.cups, job.id, by="tech") == [out.cups_job_id]
    finally:
        admin(own_server, "cupsenable", raw.queue)
    assert raw.journal.job(job.id).state is JobState.CANCELED
    status = raw.cups.status(int(str(out.cups_job_id)))
    assert status.state is CupsJobState.CANCELED


def test_reprint_is_a_new_job_linked_to_the_original(raw: Rig) -> None:
    job = raw.converted_job()
    raw.pipeline.submit(job)
    follow_until(raw, job.id, JobState.DONE)
    again = reprint_job(raw.journal, job.id, [1], by="tech")
    assert again.state is JobState.CONVERTED
    assert any(
        e.kind == "job.reprint" and e.data["original"] == job.id
        for e in raw.journal.events(job_id=again.id)
    )
    raw.pipeline.process(again.id)
    assert follow_until(raw, again.id, JobState.DONE) is JobState.DONE
    [out] = raw.journal.outputs(again.id)
    assert raw.cups_jobs_named(out.cups_title) == [out.cups_job_id]


def test_doctor_reports_cups_settings_and_queues(
    tmp_path: Path, own_server: EmbeddedPrintServer, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"trouble-retry-{next(_names)}"
    own_server.add_testfail_queue(queue, error_policy="retry-job")
    config = tmp_path / "labd.toml"
    config.write_text(
        f'[labd]\nstate_dir = "s"\nspool_dir = "sp"\nquarantine_dir = "q"\n'
        f'hotfolder_root = "h"\n[cups]\nserver = "{own_server.server}"\n'
        f'[printers.a]\nqueue = "{queue}"\n[printers.b]\nqueue = "no-such-queue"\n'
        f'[products.x]\nformat = "jpeg"\nsize = "6x4 in"\n'
        f'[hotfolders.h1]\nproduct = "x"\nprinter = "a"\n'
        f'[hotfolders.h2]\nproduct = "x"\nprinter = "b"\n'
    )
    assert main(["--config", str(config), "doctor"]) == 2
    out = capsys.readouterr().out
    assert "ok   PreserveJobFiles is off" in out
    assert "ok   PreserveJobHistory is on" in out
    assert f"queue '{queue}' has error policy retry-job" in out
    assert "queue 'no-such-queue' (printer b) does not exist" in out
    assert "fix: lpadmin" in out


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        pytest.param("PreserveJobFiles No\n", {"preservejobfiles": "No"}, id="set"),
        pytest.param("<Location />\n  Order x\n</Location>\n", {}, id="nested-ignored"),
        pytest.param("# PreserveJobFiles No\n", {}, id="comment"),
    ],
)
def test_doctor_reads_top_level_directives(conf: str, expected: dict[str, str]) -> None:
    assert _directives(conf) == expected


def test_a_copy_kept_by_cups_is_journaled_and_purged_when_retention_ends(
    tmp_path: Path,
) -> None:
    """A CUPS set to keep job files (its default): labd says so, and retention purges it."""
    from dataclasses import replace  # noqa: PLC0415  # only this test rebuilds a config

    from labd.config import RetentionSettings  # noqa: PLC0415
    from labd.privacy.retention import Retention  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="labd-cups-keep-"))
    try:
        with EmbeddedPrintServer(root).start(()) as server:
            conf = root / "cups" / "etc" / "cupsd.conf"
            server.kill_cupsd()
            conf.write_text(conf.read_text().replace("PreserveJobFiles No", "PreserveJobFiles Yes"))
            server.start_cupsd()
            server.add_raw_queue("keeps-copies")
            rig = rig_for(tmp_path, server, "keeps-copies")
            job = rig.converted_job()
            rig.pipeline.submit(job)
            assert follow_until(rig, job.id, JobState.DONE) is JobState.DONE
            [out] = rig.journal.outputs(job.id)
            kinds = [e.kind for e in rig.journal.events(job_id=job.id)]
            assert "print.copy_kept" in kinds
            assert rig.cups.status(out.cups_job_id or 0).preserved is True
            assert list(server.spool_dir.glob(f"d{out.cups_job_id:05d}-*"))  # CUPS' copy

            config = replace(rig.config, retention=RetentionSettings(days=0))
            Retention(rig.journal, config, rig.clock, rig.cups).run_due()
            assert rig.journal.job(job.id).state is JobState.PURGED
            assert not list(server.spool_dir.glob(f"d{out.cups_job_id:05d}-*"))
            assert rig.cups.find_jobs(out.cups_title) == []  # gone from CUPS' history too
            rig.journal.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
