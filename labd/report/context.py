"""What every section of the report reads: the period's events and the jobs they name.

The sections (production, waste, trouble, media) share one :class:`Context` so the
period's state changes and reprints are read once, each job is read once however many
tables name it, and the notes come out in the order the sections add them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from labd.config import Config
from labd.journal import Journal
from labd.journal.view import copies_of_outputs
from labd.model import Event, Job, JobOutput, JobState, Product
from labd.report.period import Period
from labd.store import chain

# A print-ready JPEG is one photo print: one sheet per copy.  A PDF's sheets are not known.
_PHOTO_SUFFIXES = (".jpg", ".jpeg")


class Jobs:
    """The jobs a report names, each read once, with its product, printer and prints."""

    def __init__(self, journal: Journal, config: Config) -> None:
        self.journal = journal
        self.config = config
        self._jobs: dict[int, Job] = {}
        self._outputs: dict[int, list[JobOutput]] = {}
        # A queue named by two printers counts under the first name.
        self._printer_of_queue = {
            p.queue: name for name, p in sorted(config.printers.items(), reverse=True)
        }
        self.unconfigured: set[str] = set()  # hot folders of jobs no longer configured

    def job(self, job_id: int) -> Job:
        if job_id not in self._jobs:
            self._jobs[job_id] = self.journal.job(job_id)
        return self._jobs[job_id]

    def outputs(self, job_id: int) -> list[JobOutput]:
        if job_id not in self._outputs:
            self._outputs[job_id] = self.journal.outputs(job_id)
        return self._outputs[job_id]

    def product(self, job_id: int) -> Product | None:
        hotfolder = self.config.hotfolders.get(self.job(job_id).hotfolder)
        if hotfolder is None:
            self.unconfigured.add(self.job(job_id).hotfolder)
            return None
        return self.config.products.get(hotfolder.product)

    def product_name(self, job_id: int) -> str:
        product = self.product(job_id)
        return product.name if product else f"hot folder {self.job(job_id).hotfolder} (removed)"

    def printer(self, job_id: int) -> str:
        """The printer that printed it (by its CUPS queue), else its hot folder's."""
        outputs = self.outputs(job_id)
        if outputs:
            queue = outputs[0].cups_queue
            return self._printer_of_queue.get(queue, f"queue {queue}")
        hotfolder = self.config.hotfolders.get(self.job(job_id).hotfolder)
        return hotfolder.printer if hotfolder else "unknown"

    def printer_of(self, job_id: int | None) -> str:
        """:meth:`printer`, for an event that may name no job."""
        return self.printer(job_id) if job_id is not None else "unknown"

    def prints(self, job_id: int) -> list[tuple[int, bool]]:
        """(copies, is a photo print) of each output: the ticket's copies, else the product's."""
        product = self.product(job_id)
        outputs = self.outputs(job_id)
        copies = copies_of_outputs(
            self.journal.files(job_id), outputs, product.copies if product else 1
        )
        return [(copies[o.seq], o.path.lower().endswith(_PHOTO_SUFFIXES)) for o in outputs]


@dataclass
class Context:
    """The period, its state changes and reprints, the jobs they name, and the report's notes."""

    journal: Journal
    config: Config
    period: Period
    now: datetime
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.since, self.until = self.period.bounds()
        self.jobs = Jobs(self.journal, self.config)
        # A report of one node (--node): the events of its jobs, and those of no job.
        self._node_jobs = (
            None if self.journal.scope is None else {j.id for j in self.journal.jobs()}
        )
        self.moves = self.events("job.state_changed")
        # Reprints made before the period may print in it: every one up to its end.
        self.reprints = {
            e.job_id: e for e in self.events_to_end("job.reprint") if e.job_id is not None
        }

    def events(self, *kinds: str) -> list[Event]:
        """Events of these kinds in the period."""
        found = chain.find(self.journal.store, kinds=kinds, since=self.since, until=self.until)
        return self._of_node(found)

    def events_to_end(self, *kinds: str, data: Mapping[str, object] | None = None) -> list[Event]:
        """Events of these kinds (with these data) up to the period's end, earlier ones too."""
        return self._of_node(
            chain.find(self.journal.store, kinds=kinds, until=self.until, data=data)
        )

    def _of_node(self, events: list[Event]) -> list[Event]:
        if self._node_jobs is None:
            return events
        return [e for e in events if e.job_id is None or e.job_id in self._node_jobs]

    def in_period(self, event: Event) -> bool:
        return self.since <= event.ts < self.until

    def moved(self, state: JobState) -> list[Event]:
        """The first move of each job into ``state`` in the period."""
        seen: set[int] = set()
        found = []
        for e in self.moves:
            if e.data.get("to") == state.value and e.job_id is not None and e.job_id not in seen:
                seen.add(e.job_id)
                found.append(e)
        return found


def int_of(value: object) -> int:
    """A count from an event's data; 0 when it holds none."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def ints_of(value: object) -> list[int]:
    """A list of numbers (output seqs) from an event's data; empty when it holds none."""
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []
