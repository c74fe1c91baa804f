"""The purge of one job: its files, its quarantine copies, its CUPS jobs and personal data.

Both the retention schedule and erasure on request end here.  Crash safety: the intent to
purge is committed first (``retention.purge_started``, a row in ``retention_purges``), then
files are deleted, then ``retention.purged`` and the move to PURGED commit together.  Every
step can be repeated; :meth:`Purger.unfinished` lists the purges a crash cut short, for
the next run to finish.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import structlog

from labd import faults, spool
from labd.config import Config
from labd.journal import Journal, Tx
from labd.model import TRANSITIONS, Job, JobState
from labd.privacy.model import CupsPurger, Deleted, RetentionError

log = structlog.get_logger(__name__)


class Purger:
    """Deletes one job's files and personal data and moves it to PURGED, crash-safely."""

    def __init__(self, journal: Journal, config: Config, cups: CupsPurger | None = None) -> None:
        self.journal = journal
        self.config = config
        self.cups = cups

    def purge(self, job_id: int, *, cause: str) -> Deleted | None:
        """Delete one job's files and personal data and move it to PURGED; None if it was.

        Each step may be repeated: the intent first, then the files, then the end.
        """
        job = self.journal.job(job_id)
        if job.state is JobState.PURGED:
            return None
        faults.raise_point("retention", job.entry)
        if JobState.PURGED not in TRANSITIONS[job.state]:
            raise RetentionError(f"job {job_id} is {job.state.value} and cannot be purged")
        if not self.journal.holds_files_of(job):
            # Its files are on the node that claimed it: that node's retention purges it.
            raise RetentionError(f"job {job_id} is node {job.node}'s: its files are there")
        spool, quarantined = self._spool_of(job), self._quarantine_of(job)
        with self.journal.transaction() as tx:
            begun = self.begin(tx, job_id, cause=cause)
            if begun:
                planned = _measure([spool, *quarantined])
                tx.event(
                    "retention.purge_started",
                    {"cause": cause, "files": planned[0], "bytes": planned[1]},
                    job_id=job_id,
                )
        if begun:
            log.info("retention.purge_started", job_id=job_id, cause=cause)
        deleted = Deleted()
        deleted.spool_files, deleted.spool_bytes = _remove(spool)
        for path in quarantined:
            files, size = _remove(path)
            deleted.quarantine_files += files
            deleted.quarantine_bytes += size
        deleted.cups_jobs = self._purge_cups(job_id)
        with self.journal.transaction() as tx:
            self.journal.erase_personal(tx, [job_id])
            if not self.journal.purged_in(tx, job_id, cause=cause):
                return None  # another process finished it meanwhile
            tx.event("retention.purged", {"cause": cause, **deleted.as_data()}, job_id=job_id)
            tx.execute(
                "UPDATE retention_purges SET finished_at = ? WHERE job_id = ?",
                (tx.now(), job_id),
            )
        log.info("retention.purged", job_id=job_id, cause=cause, **deleted.as_data())
        return deleted

    @staticmethod
    def begin(tx: Tx, job_id: int, *, cause: str) -> bool:
        """Commit (with ``tx``) the intent to purge a job; False if it was begun already."""
        return bool(
            tx.execute(
                "INSERT INTO retention_purges (job_id, cause, started_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (job_id, cause, tx.now()),
            )
        )

    def unfinished(self) -> list[tuple[int, str]]:
        """(job, cause) of every purge begun and not finished here: a crash's leftovers, and
        erasures requested on another node of jobs whose files this node has."""
        rows = self.journal.query(
            "SELECT job_id, cause FROM retention_purges WHERE finished_at IS NULL ORDER BY job_id"
        )
        begun = [(int(str(r[0])), str(r[1])) for r in rows]
        if not begun or not self.journal.store.shared:
            return begun
        return [(i, c) for i, c in begun if self.journal.holds_files_of(self.journal.job(i))]

    def pending(self, job_ids: Sequence[int]) -> list[int]:
        """Which of ``job_ids`` have a purge begun and not finished."""
        if not job_ids:
            return []
        marks = ", ".join("?" * len(job_ids))
        rows = self.journal.query(
            "SELECT job_id FROM retention_purges WHERE finished_at IS NULL "  # noqa: S608  # placeholders
            f"AND job_id IN ({marks}) ORDER BY job_id",
            list(job_ids),
        )
        return [int(str(r[0])) for r in rows]

    def measure(self, job: Job) -> tuple[int, int]:
        """Files and bytes a purge of ``job`` would delete from the spool and quarantine."""
        return _measure([self._spool_of(job), *self._quarantine_of(job)])

    def _spool_of(self, job: Job) -> Path:
        return spool.folder_to_delete(self.config.spool_dir, job)

    def _quarantine_of(self, job: Job) -> list[Path]:
        folder = self.config.quarantine_dir / job.hotfolder
        try:
            return sorted(p for p in folder.iterdir() if p.name.startswith(f"{job.id}-"))
        except FileNotFoundError:
            return []

    def _purge_cups(self, job_id: int) -> int:
        ids = {o.cups_job_id for o in self.journal.outputs(job_id) if o.cups_job_id is not None}
        ids |= self.journal.printing.superseded(job_id)
        if not ids or self.cups is None:
            return 0
        return sum(1 for cups_job_id in sorted(ids) if self.cups.purge(cups_job_id))


def _measure(paths: Sequence[Path]) -> tuple[int, int]:
    """Files and bytes under ``paths``, links counted as files and never followed."""
    files = size = 0
    for path in paths:
        if path.is_symlink() or path.is_file():
            files, size = files + 1, size + path.lstat().st_size
            continue
        for folder, dirs, names in os.walk(path):
            for name in [*names, *(d for d in dirs if (Path(folder) / d).is_symlink())]:
                files, size = files + 1, size + (Path(folder) / name).lstat().st_size
    return files, size


def _remove(path: Path) -> tuple[int, int]:
    """Delete a file or a folder tree; return what it held.  Missing: (0, 0)."""
    measured = _measure([path])
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return 0, 0
    return measured
