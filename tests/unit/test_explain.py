"""``labd explain PATH``: what labd will do with a path, or did with it, from the journal.

Through the command, on a real configuration file, real hot folders and a real journal;
the jobs are taken there by the real intake and conversion, or walked through the
journal's life cycle (job_in_state) where printing itself is not the point.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock, readable
from labd.config import Config, load
from labd.intake import Intake
from labd.journal import Journal
from labd.model import Job, JobKind, JobState
from labd.pipeline import Pipeline
from labd.printing import CupsClient
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG, cups_job_id, job_in_state, write_config
from tests.imagegen import make_photo, make_truncated_jpeg

# Two hot folders with different rules: *.tif is ignored in one of them only.
TWO_FOLDERS = (
    GOOD_CONFIG.replace("[hotfolders.prints]", "[hotfolders.prints-10x15]")
    + """
ignore = ["*.tif"]

[hotfolders.prints-13x18]
product = "p10x15"
printer = "minilab"
"""
)


@dataclass
class Lab:
    """A configuration file, its hot folders and its journal."""

    root: Path
    config_file: Path
    config: Config
    journal: Journal
    clock: ManualClock

    def hot(self, name: str = "prints") -> Path:
        return self.config.hotfolders[name].path

    def explain(self, *paths: Path | str) -> str:
        out = io.StringIO()
        args = ["--config", str(self.config_file), "explain", *map(str, paths)]
        assert main(args, out=out) == 0
        return out.getvalue()

    def when(self, job: Job, state: JobState) -> str:
        """When the journal says ``job`` moved to ``state``, as the command shows it."""
        [ts] = [
            e.ts
            for e in self.journal.events(job_id=job.id)
            if e.kind == "job.state_changed" and e.data["to"] == state.value
        ]
        return readable(ts, self.config.timezone)

    def taken(self, entry: str, files: list[tuple[str, int]], state: JobState) -> Job:
        """A job of hot folder prints walked through the life cycle to ``state``."""
        kind = JobKind.ORDER if "/" in files[0][0] else JobKind.FILE
        return job_in_state(
            self.journal, state, self.config.spool_dir, entry=entry, hotfolder="prints",
            kind=kind, files=files, queue="minilab",
        )  # fmt: skip


def make_lab(root: Path, text: str = GOOD_CONFIG) -> Lab:
    path = write_config(root, text)
    config = load(path)
    for hf in config.hotfolders.values():
        hf.path.mkdir(parents=True)
        hf.path.chmod(0o770)
    clock = ManualClock()
    return Lab(root, path, config, open_journal(config.journal_path, clock), clock)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = make_lab(tmp_path)
    yield made
    made.journal.close()


def test_a_printed_file_names_its_job_when_and_the_queue(lab: Lab) -> None:
    job = lab.taken("IMG_0042.jpg", [("IMG_0042.jpg", 5)], JobState.DONE)
    printed = lab.when(job, JobState.PRINTED)
    said = lab.explain(lab.hot() / "IMG_0042.jpg")
    assert said == (
        f"IMG_0042.jpg is no longer in hot folder prints: it was printed as job {job.id} "
        f"at {printed} on queue minilab.\n"
    )
    # The journal knows what labd took even while the folder is gone (a share unmounted).
    lab.hot().rmdir()
    assert lab.explain(lab.hot() / "IMG_0042.jpg").splitlines() == [
        said.rstrip("\n"),
        f"hot folder prints is refused, nothing in it is taken: {lab.hot()} does not exist "
        "(share unmounted?); create it or fix the path",
    ]
    # By its name alone, from anywhere: the journal knows it.
    elsewhere = lab.root / "desk"
    elsewhere.mkdir()
    assert lab.explain(elsewhere / "IMG_0042.jpg").splitlines()[1] == (
        "In hot folder prints, a file or folder named 'IMG_0042.jpg' was printed as job "
        f"{job.id} at {printed} on queue minilab."
    )


def test_a_file_of_an_order_and_a_held_order(lab: Lab) -> None:
    files = [("Hansen wedding/a.jpg", 3), ("Hansen wedding/b.jpg", 4)]
    job = lab.taken("Hansen wedding", files, JobState.HELD)
    since = lab.when(job, JobState.HELD)
    expected = (
        f"it was held as job {job.id} since {since}: queue 'minilab' is stopped "
        f"(print.printer_stopped) — labd retry {job.id} / labd cancel {job.id}."
    )
    assert lab.explain(lab.hot() / "Hansen wedding" / "b.jpg") == (
        f"Hansen wedding/b.jpg is no longer in hot folder prints: {expected}\n"
    )
    assert lab.explain(lab.hot() / "Hansen wedding").startswith(
        f"Hansen wedding is no longer in hot folder prints: {expected}"
    )


def test_a_quarantined_file_names_its_job_reason_and_reason_file(lab: Lab) -> None:
    make_truncated_jpeg(lab.hot() / "broken.jpg")
    claimed: list[Job] = []
    intake = Intake(
        lab.config.hotfolders, lab.journal, spool_dir=lab.config.spool_dir,
        quarantine_dir=lab.config.quarantine_dir, rescan_seconds=60, clock=lab.clock,
        on_claimed=claimed.append,
    )  # fmt: skip
    intake.tick()
    lab.clock.advance(lab.config.hotfolders["prints"].stability_seconds + 0.1)
    intake.tick()
    [job] = claimed
    pipeline = Pipeline(
        config=lab.config, journal=lab.journal, cups=CupsClient(None), clock=lab.clock
    )
    assert not pipeline.convert(job)  # the real conversion refuses it: quarantined
    job = lab.journal.job(job.id)
    assert job.state is JobState.QUARANTINED
    moved = lab.config.quarantine_dir / "prints" / f"{job.id}-broken.jpg"
    note = moved.with_name(moved.name + ".reason.txt")
    assert moved.is_file()
    assert note.is_file()
    story = (
        f"quarantined as job {job.id} at {lab.when(job, JobState.QUARANTINED)} because "
        f"{job.reason} (input.truncated)"
    )
    assert "broken.jpg: truncated or damaged image data" in str(job.reason)
    assert lab.explain(moved) == (
        f"{moved} is in the quarantine: {story}. Reason file: {note}. Fix the files and "
        "drop them into hot folder prints again, or delete them.\n"
    )
    assert lab.explain(note).startswith(f"{note} is in the quarantine: {story}.")
    # Where the technician dropped it: gone, and the journal says where to.
    assert lab.explain(lab.hot() / "broken.jpg") == (
        f"broken.jpg is no longer in hot folder prints: it was {story}. Its files are in the "
        f"quarantine: {moved} (the reason beside it).\n"
    )


def test_a_path_through_another_hot_folder_is_judged_by_the_folder_it_reaches(
    tmp_path: Path,
) -> None:
    lab = make_lab(tmp_path, TWO_FOLDERS)
    try:
        small, big = lab.hot("prints-10x15"), lab.hot("prints-13x18")
        scan = big / "scan.tif"
        scan.write_bytes(b"II*\x00")
        os.utime(scan, (0, 0))
        # Before: judged by prints-10x15's ignore rule, as "../../hot/prints-13x18/scan.tif".
        detour = tmp_path / "hot" / "prints-10x15" / ".." / ".." / "hot" / "prints-13x18"
        assert lab.explain(detour / "scan.tif") == (
            f"{detour / 'scan.tif'} is {scan}\n"
            "scan.tif is complete: labd takes it at its next look as a single-file job\n"
        )
        said = lab.explain(Path(f"{detour}/"))
        assert said.splitlines()[1].startswith(f"{big} is hot folder prints-13x18 (product")
        # The same file in the folder whose rule ignores it.
        (small / "scan.tif").write_bytes(b"II*\x00")
        assert lab.explain(small / "scan.tif") == (
            "scan.tif is ignored by rule '*.tif' of hot folder prints-10x15; never taken\n"
        )
        # A link outside the hot folders is followed; one inside is refused, as intake does.
        shortcut = tmp_path / "shortcut"
        shortcut.symlink_to(big)
        assert lab.explain(shortcut / "scan.tif").splitlines()[1].startswith("scan.tif is complete")
        (big / "link.jpg").symlink_to(small / "scan.tif")
        assert lab.explain(big / "link.jpg") == (
            "link.jpg would be refused (intake.symlink): link.jpg is a symbolic link; labd "
            "never follows links; it would be moved to quarantine unread\n"
        )
    finally:
        lab.journal.close()


def test_a_file_not_yet_taken_says_what_labd_will_do_and_what_it_did_before(
    lab: Lab,
) -> None:
    photo = make_photo(lab.hot() / "IMG_7.jpg")
    os.utime(photo, (0, 0))  # long quiet: complete
    assert lab.explain(photo) == (
        "IMG_7.jpg is complete: labd takes it at its next look as a single-file job\n"
    )
    # Dropped again after an earlier print of the same name: both are said.
    job = lab.taken("IMG_7.jpg", [("IMG_7.jpg", 9)], JobState.DONE)
    assert lab.explain(photo) == (
        "IMG_7.jpg is complete: labd takes it at its next look as a single-file job\n"
        f"Earlier, IMG_7.jpg was printed as job {job.id} at {lab.when(job, JobState.PRINTED)} "
        "on queue minilab.\n"
    )
    # A name nobody dropped.
    assert lab.explain(lab.hot() / "never.jpg") == (
        "never.jpg does not exist, and labd has taken nothing of that name from prints\n"
    )


def test_a_spool_path_names_its_job(lab: Lab) -> None:
    job = lab.taken("IMG_9.jpg", [("IMG_9.jpg", 9)], JobState.SUBMITTED)
    inbox = Path(job.spool) / "in" / "IMG_9.jpg"
    assert lab.explain(inbox) == (
        f"{inbox} is in labd's spool, the folder of job {job.id}: taken as job {job.id} at "
        f"{readable(job.created_at, lab.config.timezone)}; printing on queue minilab "
        f"(CUPS jobs {cups_job_id(job.id, 1)}).\n"
    )


def test_without_a_journal_only_the_present_is_answered(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    (tmp_path / "hot" / "prints").mkdir(parents=True, mode=0o770)
    out = io.StringIO()
    assert main(["--config", str(path), "explain", str(tmp_path / "hot" / "prints" / "x.jpg")],
                out=out) == 0  # fmt: skip
    assert out.getvalue() == "x.jpg does not exist\n"
    assert not (tmp_path / "state" / "journal.sqlite").exists()  # reading never creates it
