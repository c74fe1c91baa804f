"""The spool's layout, in one place.

Every job has a private folder ``<spool_dir>/<job id>/``: ``in/`` holds what was claimed
from the hot folder (the entry, a file or an order folder, under its journaled name) and
``out/`` the print-ready files made from it.  The spool shares the hot folders'
filesystem, so that claiming is an atomic rename.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from labd.model import Job

INBOX: Final = "in"
OUTBOX: Final = "out"


def job_folder(spool_root: Path, job_id: int) -> Path:
    """The folder of job ``job_id`` under ``spool_root``."""
    return spool_root / str(job_id)


def inbox(job: Job) -> Path:
    """Where the job's claimed entry lies."""
    return Path(job.spool) / INBOX


def entry_of(job: Job) -> Path:
    """The job's claimed entry (its file or order folder) in the spool."""
    return inbox(job) / job.entry


def outbox(job: Job) -> Path:
    """Where the job's print-ready files are written."""
    return Path(job.spool) / OUTBOX


def folder_to_delete(spool_root: Path, job: Job) -> Path:
    """The job's folder, for retention: never outside the spool, whatever the journal says."""
    root = spool_root.absolute()
    folder = Path(job.spool).absolute() if job.spool else job_folder(root, job.id)
    if folder.parent != root or folder.name != str(job.id):
        folder = job_folder(root, job.id)
    return folder
