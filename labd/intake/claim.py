"""From a stable entry of a hot folder to a claimed job in the private spool.

The claim is an atomic rename into ``<spool>/<job id>/in/``, bracketed by the journal: the
intent (DISCOVERED) is committed first, the result (CLAIMED with the file list) after, and
:func:`recover` finishes or undoes a claim that a crash cut in half.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

from labd.intake.stability import READY_MARKER, is_ignored
from labd.journal import Journal
from labd.model import HotFolder, Job, JobKind, JobState

log = structlog.get_logger(__name__)

INBOX = "in"


@dataclass(frozen=True)
class Refusal:
    """Why an entry may not be processed (a security rule), for quarantine."""

    rule: str
    reason: str


def technician_of(uid: int) -> str:
    """The user name of ``uid``; the technician who dropped the file."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def _check(st: os.stat_result, label: str) -> Refusal | None:
    """Refuse anything but a plain file with one link, or a folder."""
    if stat.S_ISLNK(st.st_mode):
        return Refusal("intake.symlink", f"{label} is a symbolic link; labd never follows links")
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return Refusal("intake.not_regular", f"{label} is not a regular file or folder")
    if st.st_nlink != 1:
        return Refusal("intake.hardlink", f"{label} has {st.st_nlink} hard links")
    return None


def inspect(path: Path, ignore: tuple[str, ...]) -> Refusal | None:
    """Check an entry without following links or reading it; a Refusal if it is unsafe."""
    st = path.lstat()
    refusal = _check(st, path.name)
    if refusal is not None or not stat.S_ISDIR(st.st_mode):
        return refusal
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        for name in dirnames + filenames:
            if is_ignored(name, ignore):
                continue
            inner = Path(dirpath, name)
            refusal = _check(inner.lstat(), str(inner.relative_to(path.parent)))
            if refusal is not None:
                return refusal
    return None


def job_files(inbox: Path, ignore: tuple[str, ...]) -> list[tuple[str, int]]:
    """The printable files under ``inbox`` as (name relative to it, size), in natural order.

    Ignored names and the READY marker are not job files.
    """
    found: list[tuple[str, int]] = []
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        dirnames[:] = [d for d in dirnames if not is_ignored(d, ignore)]
        for name in filenames:
            if is_ignored(name, ignore) or name == READY_MARKER:
                continue
            full = Path(dirpath, name)
            found.append((str(full.relative_to(inbox)), full.lstat().st_size))
    return sorted(found, key=lambda item: natural_key(item[0]))


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key putting ``img2`` before ``img10``, as a technician expects."""
    out: list[object] = []
    digits = ""
    text = ""
    for ch in name.lower():
        if ch.isdigit():
            if text:
                out.append((1, text))
                text = ""
            digits += ch
        else:
            if digits:
                out.append((0, int(digits)))
                digits = ""
            text += ch
    if digits:
        out.append((0, int(digits)))
    if text:
        out.append((1, text))
    return tuple(out)


def claim(journal: Journal, hotfolder: HotFolder, name: str, spool_root: Path) -> Job | None:
    """Claim the stable entry ``name`` of ``hotfolder``: journal, rename, journal.

    Returns the CLAIMED job, or None if the entry vanished before the rename.
    """
    source = hotfolder.path / name
    try:
        st = source.lstat()
    except FileNotFoundError:
        return None
    kind = JobKind.ORDER if stat.S_ISDIR(st.st_mode) else JobKind.FILE
    job = journal.discover(
        hotfolder=hotfolder.name,
        kind=kind,
        entry=name,
        technician=technician_of(st.st_uid),
        source_inode=st.st_ino,
        spool_root=spool_root,
    )
    return _finish_claim(journal, job, hotfolder)


def _finish_claim(journal: Journal, job: Job, hotfolder: HotFolder) -> Job | None:
    inbox = Path(job.spool) / INBOX
    target = inbox / job.entry
    if not target.exists() and not target.is_symlink():
        inbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # The claim itself: atomic, on one filesystem, never following a link.
            (hotfolder.path / job.entry).rename(target)
        except FileNotFoundError:
            journal.withdrawn(job.id)
            log.info("intake.withdrawn", job_id=job.id, hotfolder=hotfolder.name)
            return None
    files = [] if target.is_symlink() else job_files(inbox, hotfolder.ignore)
    journal.claimed(job.id, files)
    log.info(
        "intake.claimed",
        job_id=job.id,
        hotfolder=hotfolder.name,
        kind=job.kind.value,
        files=len(files),
        technician=job.technician,
    )
    return journal.job(job.id)


def recover(journal: Journal, hotfolders: dict[str, HotFolder]) -> list[Job]:
    """Finish claims that a crash interrupted: DISCOVERED jobs become CLAIMED or WITHDRAWN."""
    recovered = []
    for job in journal.jobs([JobState.DISCOVERED]):
        hotfolder = hotfolders.get(job.hotfolder)
        in_spool = Path(job.spool) / INBOX / job.entry
        if hotfolder is None and not (in_spool.exists() or in_spool.is_symlink()):
            journal.withdrawn(job.id)
            continue
        if hotfolder is None:
            # The hot folder was removed from the configuration; the files are safe in the
            # spool, so finish the claim with a stand-in for the ignore rules.
            log.warning("intake.recover_without_hotfolder", job_id=job.id)
            continue
        claimed = _finish_claim(journal, job, hotfolder)
        if claimed is not None:
            recovered.append(claimed)
    return recovered
