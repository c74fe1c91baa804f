"""From a stable entry of a hot folder to a claimed job in the private spool.

The claim is an atomic rename into ``<spool>/<job id>/in/``, bracketed by the journal: the
intent (DISCOVERED) is committed first, the result (CLAIMED with the file list) after, and
:func:`recover` finishes or undoes a claim that a crash cut in half.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog

from labd import faults
from labd.config import DEFAULT_IGNORE
from labd.errors import is_jobs_fault
from labd.intake.safety import owner_problem
from labd.intake.stability import READY_MARKER, is_ignored
from labd.intake.ticket import TICKET_NAME
from labd.journal import Discovery, Journal
from labd.model import HotFolder, Job, JobKind, JobState
from labd.names import make_names_safe, natural_key, safe_name
from labd.spool import entry_of, inbox

log = structlog.get_logger(__name__)


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


def _check(st: os.stat_result, label: str, hf: HotFolder) -> Refusal | None:
    """Refuse anything but a plain file with one link and an allowed owner, or a folder."""
    refusal = _check_link_and_owner(st, label, hf)
    if refusal is not None or stat.S_ISDIR(st.st_mode):
        return refusal
    if not stat.S_ISREG(st.st_mode):
        return Refusal("intake.not_regular", f"{label} is not a regular file or folder")
    if st.st_nlink != 1:
        return Refusal("intake.hardlink", f"{label} has {st.st_nlink} hard links")
    if st.st_size > hf.max_file_bytes:
        limit = hf.max_file_bytes // 1024**2
        return Refusal("intake.too_large", f"{label} is larger than the limit of {limit} MB")
    return None


def _check_link_and_owner(st: os.stat_result, label: str, hf: HotFolder) -> Refusal | None:
    if stat.S_ISLNK(st.st_mode):
        return Refusal("intake.symlink", f"{label} is a symbolic link; labd never follows links")
    problem = owner_problem(hf, technician_of(st.st_uid))
    if problem is not None:
        return Refusal("intake.user_not_allowed", f"{label}: {problem}")
    return None


# Open without following a link, without blocking on a FIFO or taking a terminal.
_OPEN_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def _check_path(path: Path, label: str, hf: HotFolder) -> Refusal | None:
    """Check one path; a regular file is opened (never following a link) and checked on
    the open descriptor, so what is checked is what conversion will read."""
    st = path.lstat()
    if not stat.S_ISREG(st.st_mode):
        return _check(st, label, hf)  # links, folders, devices, FIFOs: never opened
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:  # ELOOP: it became a link since the lstat
        return Refusal("intake.not_regular", f"{label} cannot be opened safely: {e.strerror}")
    try:
        return _check(os.fstat(fd), label, hf)
    finally:
        os.close(fd)


def inspect(path: Path, hf: HotFolder) -> Refusal | None:
    """Check an entry without following links or reading it; a Refusal if it is unsafe.

    Links, devices, FIFOs, files with several hard links (a way to print another
    customer's file), files of users not allowed here and oversized files are refused.
    Called once the entry is in the private spool, where nobody else can swap a file
    for a link between this check and the conversion.
    """
    refusal = _check_path(path, path.name, hf)
    if refusal is not None or not path.is_dir() or path.is_symlink():
        return refusal
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        for name in dirnames + filenames:
            if is_ignored(name, hf.ignore):
                continue
            inner = Path(dirpath, name)
            refusal = _check_path(inner, str(inner.relative_to(path.parent)), hf)
            if refusal is not None:
                return refusal
    return None


def job_files(inbox: Path, ignore: tuple[str, ...]) -> list[tuple[str, int]]:
    """The printable files under ``inbox`` as (name relative to it, size), in natural order.

    Ignored names, the READY marker and the job ticket are not job files.
    """
    found: list[tuple[str, int]] = []
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        dirnames[:] = [d for d in dirnames if not is_ignored(d, ignore)]
        for name in filenames:
            if is_ignored(name, ignore) or name in (READY_MARKER, TICKET_NAME):
                continue
            full = Path(dirpath, name)
            found.append((str(full.relative_to(inbox)), full.lstat().st_size))
    return sorted(found, key=lambda item: natural_key(item[0]))


def claim(journal: Journal, hotfolder: HotFolder, name: str, spool_root: Path) -> Job | None:
    """Claim the stable entry ``name`` of ``hotfolder``: journal, rename, journal.

    Returns the CLAIMED job, or None if the entry vanished before the rename.
    """
    jobs = claim_many(journal, hotfolder, [name], spool_root)
    return jobs[0] if jobs else None


# Called for each job inside the claim's transaction, to record what it decides about the
# job (refused, or its ticket) together with CLAIMED; returns what to do once committed.
Vet = Callable[[Job], Callable[[], None]]


def claim_many(
    journal: Journal,
    hotfolder: HotFolder,
    names: Sequence[str],
    spool_root: Path,
    *,
    vet: Vet | None = None,
) -> list[Job]:
    """Claim several stable entries of one hot folder: journal, rename each, journal.

    One transaction records every intent and one every result, so a burst of thousands of
    files costs two commits per batch, not two per file.  Entries that vanished are
    skipped (before the intent) or WITHDRAWN (after it).  ``vet`` runs inside the result's
    transaction, so no other part of labd ever sees a CLAIMED job that is not yet checked;
    the actions it returns run after the commit.  A name that is not UTF-8 is journaled,
    and kept in the spool, as :func:`~labd.names.safe_name` writes it.
    """
    found, raw = [], []
    for name in names:
        try:
            st = (hotfolder.path / name).lstat()
        except FileNotFoundError:
            continue
        kind = JobKind.ORDER if stat.S_ISDIR(st.st_mode) else JobKind.FILE
        entry = safe_name(name)
        found.append(Discovery(hotfolder.name, kind, entry, technician_of(st.st_uid), st.st_ino))
        raw.append(name)
    if not found:
        return []
    jobs = journal.discover_many(found, spool_root)
    moved = [
        job
        for job, name in zip(jobs, raw, strict=True)
        if _move_into_spool(journal, job, hotfolder, source=name)
    ]
    claims = [(job.id, _files_of(job, hotfolder)) for job in moved]
    with journal.batch():
        journal.claimed_many(claims)
        after = [vet(journal.job(job.id)) for job in moved] if vet is not None else []
    for job, (_, files) in zip(moved, claims, strict=True):
        log.info(
            "intake.claimed",
            job_id=job.id,
            hotfolder=hotfolder.name,
            kind=job.kind.value,
            files=len(files),
            technician=job.technician,
        )
    for job, action in zip(moved, after, strict=True):
        _after_claim(job, action)
    return [journal.job(job.id) for job in moved]


def _after_claim(job: Job, action: Callable[[], None]) -> None:
    """Run what comes after a committed claim; a failure here is that job's alone.

    The job is CLAIMED or QUARANTINED already: the work loop takes a CLAIMED job on its
    next pass anyway, and the next start moves a QUARANTINED job's files aside.
    """
    try:
        action()
    except Exception:
        log.exception("intake.after_claim_failed", job_id=job.id, hotfolder=job.hotfolder)


def _move_into_spool(
    journal: Journal, job: Job, hotfolder: HotFolder, *, source: str | None = None
) -> bool:
    """The claim itself: an atomic rename, on one filesystem, never following a link.

    ``source`` is the entry's name in the hot folder when it differs from the journaled
    (safe) one.  Names under an order folder that are not UTF-8 are made safe in the spool.
    """
    folder = inbox(job)
    target = folder / job.entry
    if not (target.exists() or target.is_symlink()):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            (hotfolder.path / (source or job.entry)).rename(target)
        except FileNotFoundError:
            journal.withdrawn(job.id)
            log.info("intake.withdrawn", job_id=job.id, hotfolder=hotfolder.name)
            return False
    # Also after a crash: the rename may have been done, the names not yet made safe.
    if target.is_dir() and not target.is_symlink():
        renamed = make_names_safe(target)
        if renamed:
            log.warning("intake.names_not_utf8", job_id=job.id, renamed=len(renamed))
    return True


def _files_of(job: Job, hotfolder: HotFolder) -> list[tuple[str, int]]:
    faults.raise_point("claim", job.entry)
    folder = inbox(job)
    return [] if (folder / job.entry).is_symlink() else job_files(folder, hotfolder.ignore)


def _finish_claim(journal: Journal, job: Job, hotfolder: HotFolder, vet: Vet | None) -> Job | None:
    if not _move_into_spool(journal, job, hotfolder):
        return None
    with journal.batch():
        journal.claimed(job.id, _files_of(job, hotfolder))
        action = vet(journal.job(job.id)) if vet is not None else None
    log.info("intake.claimed", job_id=job.id, hotfolder=hotfolder.name, recovered=True)
    if action is not None:
        _after_claim(job, action)
    return journal.job(job.id)


# Called with a DISCOVERED or CLAIMED job that an unexpected error stopped: it takes the job
# out of the life cycle (quarantine), so that no job stays DISCOVERED.
Contain = Callable[[Job, Exception], None]


def recover(
    journal: Journal,
    hotfolders: Mapping[str, HotFolder],
    *,
    vet: Vet | None = None,
    contain: Contain | None = None,
) -> list[Job]:
    """Finish claims that a crash interrupted: DISCOVERED jobs become CLAIMED or WITHDRAWN.

    Each job on its own: an unexpected error in one is handed to ``contain`` (without it,
    raised), and the others are finished.  Storage errors are always raised.
    """
    recovered = []
    for job in journal.jobs([JobState.DISCOVERED]):
        try:
            claimed = _recover_one(journal, job, hotfolders, vet)
        except Exception as e:
            if contain is None or not is_jobs_fault(e):
                raise
            contain(journal.job(job.id), e)
            continue
        if claimed is not None:
            recovered.append(claimed)
    return recovered


def _recover_one(
    journal: Journal, job: Job, hotfolders: Mapping[str, HotFolder], vet: Vet | None
) -> Job | None:
    hotfolder = hotfolders.get(job.hotfolder)
    if hotfolder is None:
        in_spool = entry_of(job)
        if not (in_spool.exists() or in_spool.is_symlink()):
            journal.withdrawn(job.id)
            return None
        # The hot folder was removed from the configuration; the files are safe in the
        # spool, so finish the claim with a stand-in for its rules.  The work loop then
        # holds the job (config.hotfolder_gone): a technician cancels or it goes back.
        log.warning("intake.recover_without_hotfolder", job_id=job.id)
        hotfolder = _stand_in(job)
    return _finish_claim(journal, job, hotfolder, vet)


def _stand_in(job: Job) -> HotFolder:
    """A hot folder of the job's name with the default rules, for a claim left half done."""
    return HotFolder(
        name=job.hotfolder,
        path=inbox(job) / ".gone",
        product="",
        printer="",
        stability_seconds=0.0,
        ignore=DEFAULT_IGNORE,
    )
