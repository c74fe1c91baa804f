"""What the journal says happened since labd started: prints, intake, conversion and print times.

Counted from the journal's state changes, not by the loops: every path that moves a job
(the loops, the recovery after a restart, a reprint or a retry a technician starts from a
shell) is counted the same way, and products, printers and prints are named and counted by
the rules of ``labd report`` (:class:`labd.report.context.Jobs`), so the two agree.

Read incrementally, by sequence number: a refresh reads only the state changes journaled
since the one before, in batches, so its cost follows what happened, not the journal's
size.  The count starts at the daemon's start (Prometheus takes a restart's reset in its
stride: ``rate()``, ``increase()``).  Latencies are measured between the journal's own
timestamps (the injected clock's), from a move recorded before the start too.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from labd.clock import epoch
from labd.config import Config
from labd.journal import Journal
from labd.journal.view import EventFilter
from labd.model import Event, JobState
from labd.report.context import Jobs

__all__ = [
    "CONVERSION_BUCKETS",
    "INTAKE_EVENTS",
    "PRINT_BUCKETS",
    "JournalTally",
    "Latencies",
]

STATE_CHANGED: Final = "job.state_changed"
# State changes read per query: a refresh after a quiet week reads them in bounded batches.
READ_BATCH: Final = 2000
# Seconds from claim to converted: a 10x15 takes a second or two, an order of hundreds of
# photos or a photobook minutes.
CONVERSION_BUCKETS: Final = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
# Seconds from submitted to printed: a print takes seconds to minutes, a job that waits for a
# stopped printer or a paper change hours.
PRINT_BUCKETS: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0)
# What happens to an entry of a hot folder, by the state it moves into.
INTAKE_EVENTS: Final = {
    JobState.CLAIMED: "claimed",  # it became a job (from DISCOVERED only: not a retry)
    JobState.WITHDRAWN: "withdrawn",  # its files left the hot folder before labd took them
    JobState.QUARANTINED: "quarantined",  # refused: at intake or on conversion
}


@dataclass
class Latencies:
    """One histogram's observations: how many fell in each bucket (the last: above all
    bounds), and their sum."""

    bounds: tuple[float, ...]
    counts: list[int] = field(init=False)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, seconds: float) -> None:
        """One observation; a bucket counts those at or below its bound (Prometheus' ``le``)."""
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[float, int]]:
        """Prometheus' buckets: ``(le, observations at or below it)``, ending with infinity."""
        found, running = [], 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += n
            found.append((bound, running))
        return found


@dataclass
class JournalTally:
    """Counts and latencies of the state changes after sequence number ``after``.

    Not thread-safe: the collector reads it under its own lock.
    """

    journal: Journal
    after: int  # the last sequence number read
    prints: Counter[tuple[str, str]] = field(default_factory=Counter)  # (product, printer)
    printed_jobs: Counter[tuple[str, str]] = field(default_factory=Counter)
    intake: Counter[tuple[str, str]] = field(default_factory=Counter)  # (hot folder, event)
    conversion: dict[str, Latencies] = field(default_factory=dict)  # by product
    printing: dict[str, Latencies] = field(default_factory=dict)  # by printer
    # When jobs on their way entered CLAIMED, and were submitted (journal timestamps): what
    # the latencies are measured from.  Only jobs between the two moves stay here.
    _claimed: dict[int, str] = field(default_factory=dict)
    _submitted: dict[int, str] = field(default_factory=dict)

    def read(self, config: Config) -> None:
        """Take in the state changes journaled since the last read; ``config`` names
        products and printers (the one in force, with hot folders a reload removed)."""
        jobs = Jobs(self.journal, config)  # read anew each time: its cache stays small
        while True:
            batch = self.journal.find_events(
                EventFilter(after=self.after, kinds=(STATE_CHANGED,), limit=READ_BATCH, oldest=True)
            )
            for event in batch:
                self._take(event, jobs)
                self.after = event.seq
            if len(batch) < READ_BATCH:
                return

    def _take(self, event: Event, jobs: Jobs) -> None:
        """Count one state change.  Everything is read before anything is counted: a read
        that fails leaves the tally as it was, and the next refresh takes the event again."""
        job_id = event.job_id
        source, to = event.data.get("from"), event.data.get("to")
        if job_id is None or not isinstance(to, str) or to not in JobState.__members__:
            return  # not a job's move (or a state this labd does not know): nothing to count
        state = JobState(to)
        intake = INTAKE_EVENTS.get(state)
        if state is JobState.CLAIMED and source != JobState.DISCOVERED:
            intake = None  # a held job retried, not an entry taken
        hotfolder = jobs.job(job_id).hotfolder if intake is not None else ""
        conversion: tuple[str, str | None] | None = None  # product, since when
        if state is JobState.CONVERTED and source == JobState.CLAIMED:
            claimed = self._claimed.get(job_id) or self._moved_at(job_id, event, JobState.CLAIMED)
            conversion = (jobs.product_name(job_id), claimed)
        printed: tuple[tuple[str, str], int, str | None] | None = None  # where, prints, since
        if state is JobState.PRINTED:
            submitted = self._submitted.get(job_id) or self._moved_at(
                job_id, event, JobState.SUBMITTED, source=JobState.SUBMITTING
            )
            where = (jobs.product_name(job_id), jobs.printer(job_id))
            printed = (where, sum(copies for copies, _ in jobs.prints(job_id)), submitted)
        if intake is not None:
            self.intake[(hotfolder, intake)] += 1
        if conversion is not None:
            product, since = conversion
            _observe(self.conversion, product, CONVERSION_BUCKETS, since, event.ts)
        if printed is not None:
            where, prints, since = printed
            self.prints[where] += prints
            self.printed_jobs[where] += 1
            _observe(self.printing, where[1], PRINT_BUCKETS, since, event.ts)
        self._note(job_id, state, source, event.ts)

    def _note(self, job_id: int, state: JobState, source: object, ts: str) -> None:
        """Keep when a job entered CLAIMED, and when it was submitted, until it moves on."""
        if state is JobState.CLAIMED:
            self._claimed[job_id] = ts
        else:
            self._claimed.pop(job_id, None)
        if state is JobState.SUBMITTED and source == JobState.SUBMITTING:
            self._submitted[job_id] = ts
        elif state not in (JobState.SUBMITTED, JobState.HELD):
            # A job held for a stopped printer waits in CUPS: it prints without a new
            # submission, and the wait is part of its print time.
            self._submitted.pop(job_id, None)

    def _moved_at(
        self, job_id: int, now: Event, into: JobState, *, source: JobState | None = None
    ) -> str | None:
        """When the job last moved into ``into`` (from ``source``) before ``now``: for a
        job that made that move before labd started (a few, after a restart)."""
        found = None
        for e in self.journal.events(job_id=job_id):
            if e.seq >= now.seq:
                break
            moved = e.kind == STATE_CHANGED and e.data.get("to") == into
            if moved and (source is None or e.data.get("from") == source):
                found = e.ts
        return found


def _observe(
    histograms: dict[str, Latencies],
    label: str,
    bounds: tuple[float, ...],
    start: str | None,
    end: str,
) -> None:
    if start is None:
        return  # the journal has no start (an older labd's job): nothing to measure
    seconds = max(0.0, epoch(end) - epoch(start))  # a clock set back is no negative wait
    histograms.setdefault(label, Latencies(bounds)).observe(seconds)
