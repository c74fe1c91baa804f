"""Quarantine: bad input is moved aside with a reason file beside it, never printed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

import structlog

from labd import faults
from labd.fsutil import atomic_write
from labd.names import NAME_MAX, free_name, shorten

log = structlog.get_logger(__name__)

REASON_SUFFIX: Final = ".reason.txt"


def quarantine(
    source: Path, quarantine_dir: Path, *, hotfolder: str, job_id: int, rule: str, reason: str
) -> Path:
    """Move ``source`` (a file or an order folder) to quarantine and write its reason file.

    The target is ``<quarantine_dir>/<hotfolder>/<job id>-<name>``, with
    ``<job id>-<name>.reason.txt`` beside it; a name too long for that is shortened.
    Returns the target path.  Safe to run again after a crash at any point.
    """
    folder = quarantine_dir / hotfolder
    folder.mkdir(mode=0o770, parents=True, exist_ok=True)
    target = folder / target_name(job_id, source.name)
    if (source.exists() or source.is_symlink()) and (target.exists() or target.is_symlink()):
        # A copy across filesystems cut short by a crash: the source is still whole.
        # Never move into it (that would nest) nor delete it: take another name, and write
        # the reason beside the entry that is moved there.
        target = folder / free_name(folder, target.name, NAME_MAX - len(REASON_SUFFIX))
    note = note_of(target)
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
    faults.crash_point("quarantine_note")
    if source.exists() or source.is_symlink():
        # rename when on one filesystem; copy and delete otherwise.  Symlinks are moved as
        # links, never followed.
        shutil.move(str(source), str(target))
        faults.crash_point("quarantine_moved")
    log.info("job.quarantined", job_id=job_id, hotfolder=hotfolder, rule=rule)
    return target


def target_name(job_id: int, name: str) -> str:
    """``<job id>-<name>``, short enough that its reason file's name fits too."""
    return shorten(f"{job_id}-{name}", NAME_MAX - len(REASON_SUFFIX))


def note_of(target: Path) -> Path:
    """The reason file beside a quarantined entry."""
    return target.with_name(f"{target.name}{REASON_SUFFIX}")
