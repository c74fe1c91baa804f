"""A misprint printed again: the waste entry's outputs as a new job, linked to the entry.

``labd waste misprint --reprint`` and the console's tablet form at the QC table both end
here, so a reprint asked for at the table and one asked for on the print server are the
same two steps: :func:`labd.printing.actions.reprint_job` makes the new job (the running
daemon submits it on its next follow pass), and a chained ``waste.reprinted`` event ties
it to the entry that asked for it.  The entry is recorded first, by
:meth:`labd.waste.misprints.Misprints.misprint` with ``reprint=True``: the misprint went
into the container whether or not a reprint can be made.
"""

from __future__ import annotations

from labd.journal import Journal
from labd.model import Job
from labd.printing.actions import reprint_job
from labd.waste.model import WasteEntry


def reprint_misprint(journal: Journal, entry: WasteEntry, *, by: str) -> Job:
    """Print ``entry``'s outputs (all of its job's when it names none) again as a new job."""
    if entry.job_id is None:
        raise ValueError(f"waste entry {entry.id} names no job")  # a media entry: a bug
    again = reprint_job(journal, entry.job_id, list(entry.outputs) or None, by=by)
    journal.record(
        "waste.reprinted", {"entry": entry.id, "reprint_job": again.id}, job_id=entry.job_id
    )
    return again
