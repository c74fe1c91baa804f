"""What technicians and supervisors do to a job: retry, cancel, reprint, resolve.

The command line calls these; a running daemon picks the change up from the journal on
its next follow pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import structlog

from labd.errors import IllegalTransition, JobActionRefused
from labd.journal import Journal
from labd.model import TRANSITIONS, Job, JobState
from labd.printing.cups import CupsClient, CupsJobState

log = structlog.get_logger(__name__)

# A job in each state: why it is there, and what a person can do about it ({id}: the job).
# Every refusal says both, around the refused action's own rule.
_WORKING: Final = (
    "labd is working on it",
    "labd jobs {id} shows how far it is; labd cancel {id} stops it",
)
_PRINTED: Final = (
    "it has printed",
    "To print it again: labd reprint {id}; misprints go to secure waste: labd waste misprint {id}",
)
_GONE: Final = "Nothing of it is left; drop the photos into the hot folder again"
_STATES: Final[Mapping[JobState, tuple[str, str]]] = {
    JobState.DISCOVERED: (
        "labd is taking it from the hot folder right now",
        "Look again in a moment: labd jobs {id}",
    ),
    JobState.CLAIMED: _WORKING,
    JobState.CONVERTED: _WORKING,
    JobState.SUBMITTING: _WORKING,
    JobState.SUBMITTED: _WORKING,
    JobState.PRINTED: _PRINTED,
    JobState.DONE: _PRINTED,
    JobState.QUARANTINED: (
        "its input was refused",
        "The reason is in labd jobs {id} and beside its files in the quarantine folder; fix "
        "the files and drop them into the hot folder again",
    ),
    JobState.HELD: (
        "it waits for a technician's decision",
        "Once the cause is fixed: labd retry {id}; or labd cancel {id}",
    ),
    JobState.UNCERTAIN: (
        "CUPS cannot tell whether it printed",
        "Decide: labd resolve {id} printed (it did), labd resolve {id} reprint, "
        "or labd cancel {id}",
    ),
    JobState.WITHDRAWN: (
        "its files left the hot folder before labd took them",
        "Nothing of it was taken; drop the files into the hot folder again",
    ),
    JobState.PURGED: ("retention deleted its files", _GONE),
    JobState.CANCELED: (
        "it was cancelled",
        "To print it after all: labd reprint {id}, or drop the files into the hot folder again",
    ),
}


def refusal(job: Job, rule: str, then: str | None = None) -> JobActionRefused:
    """A person's action the job's state does not allow: why, ``rule``, and what to do
    (``then``, else what a job in its state needs)."""
    why, then_by_state = _STATES[job.state]
    then = then or then_by_state.format(id=job.id)
    return JobActionRefused(job.id, job.state.value, f"{why}, and {rule}. {then}")


_RULES: Final = {
    "retry": "only a HELD job can be retried",
    "cancel": "nothing is left to cancel",
    "resolve": "only an UNCERTAIN job is resolved",
}


def _require(job: Job, state: JobState, action: str) -> None:
    if job.state is not state:
        raise refusal(job, _RULES[action])


def _on_this_node(journal: Journal, job: Job, action: str) -> None:
    """Refuse an action on another node's job: its files and CUPS jobs are there (a CUPS
    job number here would name another customer's job)."""
    if not journal.holds_files_of(job):
        raise JobActionRefused(
            job.id,
            job.state.value,
            f"it belongs to print server {job.node}, which has its files and CUPS jobs. "
            f"Run labd {action} {job.id} there (labd nodes lists the servers)",
        )


@contextmanager
def _still(journal: Journal, job_id: int, action: str) -> Iterator[None]:
    """The daemon moved the job between the check and the change: refuse from where it is."""
    try:
        yield
    except IllegalTransition:
        raise refusal(journal.job(job_id), _RULES[action]) from None


def retry_job(journal: Journal, cups: CupsClient, job_id: int, *, by: str) -> list[int]:
    """Take a HELD job back into the life cycle; return the outputs that print again.

    Only outputs whose CUPS job was aborted or canceled are submitted anew; completed ones
    and ones CUPS still holds are left as they are.
    """
    job = journal.job(job_id)
    _require(job, JobState.HELD, "retry")
    _on_this_node(journal, job, "retry")
    outputs = journal.outputs(job_id)
    if not outputs:
        with _still(journal, job_id, "retry"):
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
    with _still(journal, job_id, "retry"):
        journal.printing.print_again(job_id, again, to, by=by, why="retry")
    log.info("print.retry_requested", job_id=job_id, again=again, to=to.value, by=by)
    return again


def cancel_job(journal: Journal, cups: CupsClient, job_id: int, *, by: str) -> list[int]:
    """Cancel a job and its unfinished CUPS jobs; return the CUPS jobs cancelled."""
    job = journal.job(job_id)
    if JobState.CANCELED not in TRANSITIONS[job.state]:
        taking = job.state is JobState.DISCOVERED
        raise refusal(job, "it can be cancelled once taken" if taking else _RULES["cancel"])
    _on_this_node(journal, job, "cancel")
    cancelled = []
    for out in journal.outputs(job_id):
        if out.cups_job_id is None:
            continue
        if not cups.status(out.cups_job_id).state.finished:
            cups.cancel(out.cups_job_id)
            cancelled.append(out.cups_job_id)
    with _still(journal, job_id, "cancel"):
        journal.canceled(job_id, by=by, cups_job_ids=cancelled)
    log.info("print.job_canceled", job_id=job_id, cups_job_ids=cancelled, by=by)
    return cancelled


def reprint_job(journal: Journal, job_id: int, seqs: list[int] | None, *, by: str) -> Job:
    """A new job, linked to ``job_id``, printing its outputs ``seqs`` (all by default) again."""
    original = journal.job(job_id)
    _on_this_node(journal, original, "reprint")
    outputs = journal.outputs(job_id)
    if not outputs or original.state is JobState.PURGED:
        # Cancelled before it was converted: only its photos can print it.
        again = _GONE if original.state is JobState.CANCELED else None
        raise refusal(original, "it has no print-ready files to print again", again)
    by_seq = {o.seq: o for o in outputs}
    unknown = sorted(set(seqs or ()) - set(by_seq))
    if unknown:
        have = ", ".join(map(str, by_seq))
        raise JobActionRefused(
            job_id,
            original.state.value,
            f"it has outputs {have} and no output {', '.join(map(str, unknown))}; "
            f"give --files with numbers from labd jobs {job_id} (or none: all of them)",
        )
    chosen = seqs or [o.seq for o in outputs]
    source = Path(original.spool)
    gone = [by_seq[seq].path for seq in chosen if not (source / by_seq[seq].path).is_file()]
    if gone:
        # Checked before the new job exists: a reprint that cannot copy leaves nothing behind.
        raise JobActionRefused(
            job_id,
            original.state.value,
            f"its print-ready files are no longer in the spool ({', '.join(gone)}); "
            "drop the photos into the hot folder again",
        )
    new = journal.printing.reprint(job_id, chosen, by=by)
    target = Path(new.spool)
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
    _require(job, JobState.UNCERTAIN, "resolve")
    with _still(journal, job_id, "resolve"):
        if decision == "printed":
            journal.done(job_id, resolved="printed", by=by)
            return JobState.DONE
        again = [o.seq for o in journal.outputs(job_id) if o.cups_state != "completed"]
        journal.printing.print_again(
            job_id, again, JobState.SUBMITTING, by=by, why="resolved: reprint"
        )
    return JobState.SUBMITTING


def close_job(
    journal: Journal, job_id: int, *, by: str, reason: str, replaced_by: int | None = None
) -> Job:
    """A technician closes a QUARANTINED job by hand: its files will not come again (or came
    as job ``replaced_by``, under another name).

    It stays QUARANTINED, and out of "needs attention"; retention deletes its quarantine
    copy when its period ends, as for every quarantined job.
    """
    job = journal.job(job_id)
    if job.state is not JobState.QUARANTINED:
        raise refusal(job, "only a QUARANTINED job is closed")
    if not reason.strip():
        raise JobActionRefused(
            job_id, job.state.value, "say why it is closed: --reason TEXT (for the journal)"
        )
    if replaced_by is not None:
        journal.job(replaced_by)  # no such job: refused before anything is written
    journal.notes.close_quarantined(job_id, by=by, replaced_by=replaced_by, reason=reason)
    log.info("job.closed", job_id=job_id, replaced_by=replaced_by, by=by)
    return journal.job(job_id)
