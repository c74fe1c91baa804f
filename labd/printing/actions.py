"""What technicians and supervisors do to a job: retry, cancel, reprint, resolve.

The command line calls these; a running daemon picks the change up from the journal on
its next follow pass.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import structlog

from labd.errors import IllegalTransition
from labd.journal import Journal
from labd.model import TRANSITIONS, Job, JobState
from labd.printing.cups import CupsClient, CupsJobState

log = structlog.get_logger(__name__)


def _require(job: Job, *states: JobState, to: str) -> None:
    if job.state not in states:
        raise IllegalTransition(job.id, job.state.value, to)


def retry_job(journal: Journal, cups: CupsClient, job_id: int, *, by: str) -> list[int]:
    """Take a HELD job back into the life cycle; return the outputs that print again.

    Only outputs whose CUPS job was aborted or canceled are submitted anew; completed ones
    and ones CUPS still holds are left as they are.
    """
    job = journal.job(job_id)
    _require(job, JobState.HELD, to="retry")
    outputs = journal.outputs(job_id)
    if not outputs:
        journal.resume(job_id, JobState.CLAIMED)  # converted again
        return []
    again = []
    for out in outputs:
        if out.cups_job_id is None:
            continue
        if cups.status(out.cups_job_id).state in (CupsJobState.ABORTED, CupsJobState.CANCELED):
            again.append(out.seq)
    in_cups = all(o.cups_job_id is not None for o in outputs)
    if in_cups and not again:
        to = JobState.SUBMITTED
    elif again or any(o.submit_intent_at or o.cups_job_id for o in outputs):
        to = JobState.SUBMITTING
    else:
        to = JobState.CONVERTED
    journal.printing.print_again(job_id, again, to, by=by, why="retry")
    log.info("print.retry_requested", job_id=job_id, again=again, to=to.value, by=by)
    return again


def cancel_job(journal: Journal, cups: CupsClient, job_id: int, *, by: str) -> list[int]:
    """Cancel a job and its unfinished CUPS jobs; return the CUPS jobs cancelled."""
    job = journal.job(job_id)
    if JobState.CANCELED not in TRANSITIONS[job.state]:
        raise IllegalTransition(job.id, job.state.value, JobState.CANCELED.value)
    cancelled = []
    for out in journal.outputs(job_id):
        if out.cups_job_id is None:
            continue
        if not cups.status(out.cups_job_id).state.finished:
            cups.cancel(out.cups_job_id)
            cancelled.append(out.cups_job_id)
    journal.canceled(job_id, by=by, cups_job_ids=cancelled)
    log.info("print.job_canceled", job_id=job_id, cups_job_ids=cancelled, by=by)
    return cancelled


def reprint_job(journal: Journal, job_id: int, seqs: list[int] | None, *, by: str) -> Job:
    """A new job, linked to ``job_id``, printing its outputs ``seqs`` (all by default) again."""
    original = journal.job(job_id)
    outputs = journal.outputs(job_id)
    chosen = seqs or [o.seq for o in outputs]
    new = journal.printing.reprint(job_id, chosen, by=by)
    source, target = Path(original.spool), Path(new.spool)
    by_seq = {o.seq: o for o in outputs}
    for seq in chosen:
        path = by_seq[seq].path
        (target / path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(source / path, target / path)
    journal.resume(new.id, JobState.CONVERTED)  # files in place: a daemon may take it now
    log.info("print.reprint", job_id=new.id, original=job_id, outputs=chosen, by=by)
    return journal.job(new.id)


def resolve_job(journal: Journal, job_id: int, decision: str, *, by: str) -> JobState:
    """A supervisor's decision on an UNCERTAIN job: ``printed`` or ``reprint``."""
    job = journal.job(job_id)
    _require(job, JobState.UNCERTAIN, to=decision)
    if decision == "printed":
        journal.done(job_id, resolved="printed", by=by)
        return JobState.DONE
    again = [o.seq for o in journal.outputs(job_id) if o.cups_state != "completed"]
    journal.printing.print_again(job_id, again, JobState.SUBMITTING, by=by, why="resolved: reprint")
    return JobState.SUBMITTING
