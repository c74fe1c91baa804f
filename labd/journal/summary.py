"""How the jobs stand, in one read: what systemd's STATUS= line and ``labd status`` say.

Both speak from the same :class:`JobSummary`, so the line systemd shows and the
command's lines never disagree on what counts as in progress or as needing attention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from labd.journal.view import JournalView
from labd.model import Job, JobState

__all__ = ["ATTENTION_STATES", "IN_PROGRESS_STATES", "JobSummary", "summarize"]

# Jobs labd is working on: claimed and not yet printed.
IN_PROGRESS_STATES: Final = (
    JobState.CLAIMED,
    JobState.CONVERTED,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
)
# Jobs that wait for a person: a technician (HELD) or a supervisor (UNCERTAIN).  So do
# QUARANTINED jobs until they are closed (their files dropped in again, or `labd close`).
ATTENTION_STATES: Final = (JobState.HELD, JobState.UNCERTAIN)
# How many distinct troubles the one-line status names.
TROUBLES_IN_LINE: Final = 3


@dataclass(frozen=True)
class JobSummary:
    """Jobs per state and the jobs that need a person, newest first."""

    counts: Mapping[JobState, int]
    attention: tuple[Job, ...]  # held, uncertain, and quarantined jobs not closed yet

    @property
    def in_progress(self) -> int:
        """Jobs claimed and not yet printed."""
        return sum(self.counts.get(s, 0) for s in IN_PROGRESS_STATES)

    def troubles(self) -> list[str]:
        """What held jobs wait for, once per rule and reason: what a technician fixes."""
        return sorted({f"{j.rule}: {j.reason}" for j in self.attention if j.state is JobState.HELD})

    def per_state(self) -> str:
        """``CLAIMED 1, DONE 12``: every state that has jobs, by name."""
        return ", ".join(f"{s.value} {n}" for s, n in sorted(self.counts.items())) or "none"

    def line(self, *, hotfolders: int, queued: int, not_taking: str | None) -> str:
        """One line for systemd's STATUS= (and the status file ``labd status`` reads)."""
        parts = [f"{hotfolders} hot folders", f"{queued} jobs queued"]
        parts.append(f"{self.in_progress} jobs in progress")
        if not_taking is not None:
            parts.insert(0, f"NOT TAKING JOBS: {not_taking}")
        for state in (JobState.HELD, JobState.UNCERTAIN):
            if self.counts.get(state):
                parts.append(f"{self.counts[state]} {state.value.lower()}")
        # Quarantined jobs that wait for someone; closed ones are history.
        quarantined = sum(1 for j in self.attention if j.state is JobState.QUARANTINED)
        if quarantined:
            parts.append(f"{quarantined} quarantined")
        parts.extend(self.troubles()[:TROUBLES_IN_LINE])
        parts.append(f"{self.counts.get(JobState.DONE, 0)} done")
        return ", ".join(parts)


def summarize(journal: JournalView) -> JobSummary:
    """The journal's jobs as they stand now."""
    counts = journal.counts()
    waiting = any(counts.get(s) for s in ATTENTION_STATES)
    attention = journal.jobs(ATTENTION_STATES) if waiting else []
    if counts.get(JobState.QUARANTINED):
        attention = sorted([*attention, *journal.open_quarantined()], key=lambda j: -j.id)
    return JobSummary(counts=counts, attention=tuple(attention))
