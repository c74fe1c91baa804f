"""A job just claimed and the earlier jobs of its name: the rest of an order, fixed files.

Two things technicians do bring a second entry of one name into a hot folder:

- **Late files.**  An order folder built by hand, with a pause longer than the stability
  period, was taken half-copied; the next ``cp`` re-creates the folder with the rest.  A
  folder of the name of an order taken less than ``late_files_seconds`` before, dropped by
  the same technician, is the rest of that order: its own job, linked to the order's first
  job (``job.late_files`` on it, ``job.late_files_arrived`` on the first), and carrying the
  order's reference when its own folder has no ticket.  The late files of an order that was
  quarantined are quarantined too (``intake.late_files``): no order prints in part.
- **Fixed files.**  The files of a quarantined job, fixed and dropped in again: an order
  folder of its name holding files of the same names, or a single file of its name from
  the same technician (camera file names repeat; a technician's own drop rarely does).  The
  quarantined job is closed, replaced by the new one (``job.closed`` and
  ``job.replaces``).  It stays QUARANTINED: retention deletes its quarantine copy when its
  period ends, as for every quarantined job.

Both are decided inside the claim's transaction (``Intake._vet``), so a job is never
CLAIMED without its link, and an error here is the job's alone, like any other check's.
"""

from __future__ import annotations

from typing import Final

import structlog

from labd.clock import parse_timestamp
from labd.errors import InputRejected
from labd.journal import Journal
from labd.model import HotFolder, Job, JobKind, JobState

__all__ = ["LATE_RULE", "relate"]

log = structlog.get_logger(__name__)

LATE_RULE: Final = "intake.late_files"

# An earlier job in one of these has nothing a later drop could continue.
_GONE: Final = frozenset({JobState.WITHDRAWN, JobState.CANCELED, JobState.PURGED})


def relate(journal: Journal, job: Job, hf: HotFolder) -> InputRejected | None:
    """Record how ``job`` (claimed, its ticket read) relates to the earlier jobs of its name.

    Closes the quarantined jobs it replaces and links it to the order it is the rest of.
    Returns why it must be quarantined (the rest of a quarantined order), else None.
    """
    # A single file can only replace a quarantined job: only those are looked up (a burst
    # of thousands of files must stay cheap); an order may also continue one.
    state = JobState.QUARANTINED if job.kind is JobKind.FILE else None
    earlier = journal.jobs_of_entry(job.hotfolder, job.entry, before=job.id, state=state)
    if not earlier:
        return None
    names = {f.name for f in journal.files(job.id)}
    replaced = [old.id for old in earlier if _replaces(journal, job, names, old)]
    for old_id in replaced:
        journal.notes.close_quarantined(old_id, by=job.technician, replaced_by=job.id)
        log.info("intake.replaced", job_id=job.id, closed=old_id, hotfolder=job.hotfolder)
    latest = next((old for old in earlier if old.state is not JobState.WITHDRAWN), None)
    if latest is None or latest.id in replaced or not _continues(job, latest, hf):
        return None
    first = journal.job(journal.first_of_order(latest.id))
    if None not in (job.order_ref, first.order_ref) and job.order_ref != first.order_ref:
        return None  # its own ticket names another order: a new order of a reused name
    before = {f.name for f in [*journal.files(first.id), *journal.files(latest.id)]}
    counts = {"files": len(names), "repeated": len(names & before)}
    inherited = first.order_ref if job.order_ref is None else None
    journal.notes.late_files(job.id, first=first.id, order_ref=inherited, **counts)
    log.warning("intake.late_files", job_id=job.id, first_job=first.id, **counts)
    quarantined = [j.id for j in (latest, first) if j.state is JobState.QUARANTINED]
    if not quarantined:
        return None
    return InputRejected(
        f"{job.entry}: these files came after order job {first.id} was taken, and job "
        f"{quarantined[0]} of that order was quarantined; nothing of an order is printed in "
        "part. Put the whole order together and drop it in again",
        rule=LATE_RULE,
    )


def _replaces(journal: Journal, job: Job, names: set[str], old: Job) -> bool:
    """True when ``job`` is the fixed files of the quarantined job ``old``, still open."""
    if old.state is not JobState.QUARANTINED or old.kind is not job.kind:
        return False
    if job.kind is JobKind.FILE:
        same = old.technician == job.technician
    else:
        before = {f.name for f in journal.files(old.id)}
        same = not before or bool(before & names)
    return same and journal.closing(old.id) is None


def _continues(job: Job, latest: Job, hf: HotFolder) -> bool:
    """True when order ``job`` came soon enough after order ``latest`` of its name, from
    the same technician, to be the rest of it."""
    if job.kind is not JobKind.ORDER or latest.kind is not JobKind.ORDER:
        return False
    if hf.late_files_seconds <= 0:
        return False
    if latest.state in _GONE or latest.technician != job.technician:
        return False
    waited = parse_timestamp(job.created_at) - parse_timestamp(latest.created_at)
    return waited.total_seconds() <= hf.late_files_seconds
