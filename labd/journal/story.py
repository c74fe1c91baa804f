"""Where a job is now, in a technician's words: what ``labd explain`` says of a taken file.

One sentence from the journal: when the job took its files, what became of it, and, when
it waits for a person, the command that moves it on.
"""

from __future__ import annotations

from datetime import tzinfo

from labd.clock import readable
from labd.journal.view import CLOSED_EVENT, LOW_RESOLUTION_EVENT, JournalView
from labd.model import Event, Job, JobState

__all__ = ["job_story"]


def job_story(journal: JournalView, job: Job, *, zone: tzinfo | None = None) -> str:
    """``printed as job 12 at 2026-05-04 14:02:11 CEST on queue minilab`` and the like."""
    events = journal.events(job_id=job.id)

    def at(state: JobState) -> str:
        """When the job last moved to ``state`` (its last change, if the log has none)."""
        moves = [e for e in events if _moved_to(e, state)]
        return readable(moves[-1].ts if moves else job.updated_at, zone)

    taken = f"taken as job {job.id} at {readable(job.created_at, zone)}"
    outputs = journal.outputs(job.id)
    queue = outputs[0].cups_queue if outputs else "-"
    because = f"{job.reason} ({job.rule})" if job.reason else f"rule {job.rule}"
    n = job.id
    match job.state:
        case JobState.DISCOVERED:
            story = f"being taken as job {n} since {readable(job.created_at, zone)}"
        case JobState.CLAIMED:
            story = f"{taken}; waiting to be converted"
        case JobState.CONVERTED:
            story = f"{taken}; converted, about to go to queue {queue}"
        case JobState.SUBMITTING | JobState.SUBMITTED:
            cups = ", ".join(str(o.cups_job_id) for o in outputs if o.cups_job_id) or "-"
            story = f"{taken}; printing on queue {queue} (CUPS jobs {cups})"
        case JobState.PRINTED | JobState.DONE:
            story = f"printed as job {n} at {at(JobState.PRINTED)} on queue {queue}"
        case JobState.HELD:
            story = (
                f"held as job {n} since {at(JobState.HELD)}: {because} — "
                f"labd retry {n} / labd cancel {n}"
            )
        case JobState.UNCERTAIN:
            story = (
                f"uncertain as job {n} since {at(JobState.UNCERTAIN)}: {because} — a "
                f"supervisor decides: labd resolve {n} printed / labd resolve {n} reprint"
            )
        case JobState.QUARANTINED:
            story = f"quarantined as job {n} at {at(JobState.QUARANTINED)} because {because}"
            story += _closed(events, zone)
        case JobState.CANCELED:
            by = next((e.data.get("by") for e in reversed(events) if _moved_to(e, job.state)), None)
            who = f" by {by}" if by else ""
            story = f"{taken}; cancelled{who} at {at(JobState.CANCELED)}"
        case JobState.WITHDRAWN:
            story = (
                f"seen as job {n} at {readable(job.created_at, zone)}, but the files left "
                "the hot folder before labd took them (withdrawn)"
            )
        case JobState.PURGED:
            before = next(
                (str(e.data.get("from")) for e in reversed(events) if _moved_to(e, job.state)),
                "?",
            )
            story = (
                f"{taken}; it ended {before} and its files were deleted at "
                f"{at(JobState.PURGED)} (retention or erasure)"
            )
    return story + _low_resolution(job, events)


def _moved_to(event: Event, state: JobState) -> bool:
    return event.kind == "job.state_changed" and event.data.get("to") == state.value


def _closed(events: list[Event], zone: tzinfo | None) -> str:
    """How a quarantined job was closed, if it was: its files came again, or by hand."""
    closed = [e for e in events if e.kind == CLOSED_EVENT]
    if not closed:
        return ""
    replaced = closed[-1].data.get("replaced_by")
    how = f"replaced by job {replaced}" if replaced else f"by {closed[-1].data.get('by')}"
    return f"; closed at {readable(closed[-1].ts, zone)}, {how}"


def _low_resolution(job: Job, events: list[Event]) -> str:
    """A warning about photos below the product's minimum resolution, if the job had any
    (not for a job held for them: its reason says so already)."""
    low = [e for e in events if e.kind == LOW_RESOLUTION_EVENT]
    if not low or (job.state is JobState.HELD and low[-1].data.get("policy") == "hold"):
        return ""
    files, ppi = low[-1].data.get("files"), low[-1].data.get("ppi")
    count = len(files) if isinstance(files, list) else 0
    lowest = min(ppi) if isinstance(ppi, list) and ppi else "?"
    return (
        f" (low resolution: {count} {'file' if count == 1 else 'files'} below the "
        f"{low[-1].data.get('min_ppi')} ppi minimum, the lowest {lowest} ppi)"
    )
