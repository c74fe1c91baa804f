"""Quarantine: bad input is moved aside with a reason file beside it, never printed."""

from __future__ import annotations

import shutil
from pathlib import Path

import structlog

from labd.fsutil import atomic_write

log = structlog.get_logger(__name__)

REASON_SUFFIX = ".reason.txt"


def quarantine(
    source: Path, quarantine_dir: Path, *, hotfolder: str, job_id: int, rule: str, reason: str
) -> Path:
    """Move ``source`` (a file or an order folder) to quarantine and write its reason file.

    The target is ``<quarantine_dir>/<hotfolder>/<job id>-<name>``, with
    ``<job id>-<name>.reason.txt`` beside it.  Returns the target path.
    """
    folder = quarantine_dir / hotfolder
    folder.mkdir(mode=0o770, parents=True, exist_ok=True)
    target = folder / f"{job_id}-{source.name}"
    note = folder / f"{target.name}{REASON_SUFFIX}"
    text = (
        f"labd job {job_id} from hot folder {hotfolder!r} was not printed.\n"
        f"Reason: {reason}\n"
        f"Rule: {rule}\n"
        "Fix the files and drop them into the hot folder again, or delete them.\n"
    )
    # The reason first: if labd dies between the two steps, the note exists and the files
    # are still in the spool, where recovery finds them.
    with atomic_write(note, mode=0o640) as f:
        f.write(text.encode())
    if source.exists() or source.is_symlink():
        # rename when on one filesystem; copy and delete otherwise.  Symlinks are moved as
        # links, never followed.
        shutil.move(str(source), str(target))
    log.info("job.quarantined", job_id=job_id, hotfolder=hotfolder, rule=rule)
    return target
