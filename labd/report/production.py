"""Production: the jobs printed in the period, their prints and sheets, and drop to print.

Prints count per product, printer, technician and hour of the day (the lab's, when CUPS
completed the job) from each printed job's outputs (the ticket's copies, else the
product's).  A photo print is one sheet per copy; how many sheets a PDF took the journal
does not know, so PDF prints stand apart and the report's notes say why.  Drop to print
runs from labd taking a job to CUPS completing it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from labd.clock import epoch, local, parse_timestamp
from labd.model import Event, JobState
from labd.report.context import Context
from labd.report.model import Table, Value

_OUTPUT_COLUMNS = ("jobs", "prints", "sheets", "pdf_prints")
# The tables of prints, by what their first column names: (key, name, title).
_OUTPUT_TABLES = (
    ("product", "prints_per_product", "Prints per product"),
    ("printer", "prints_per_printer", "Prints per printer"),
    ("technician", "prints_per_technician", "Prints per technician"),
    ("hour", "prints_per_hour", "Prints per hour of day"),
)


@dataclass
class Output:
    """Prints of some jobs."""

    jobs: int = 0
    prints: int = 0
    sheets: int = 0
    pdf_prints: int = 0  # prints of PDF products: how many sheets they took is not known

    def add(self, outputs: Sequence[tuple[int, bool]]) -> None:
        """One job's outputs: (copies, is a photo print) each."""
        self.jobs += 1
        for copies, photo in outputs:
            self.prints += copies
            if photo:
                self.sheets += copies
            else:
                self.pdf_prints += copies

    def row(self, name: str) -> tuple[Value, ...]:
        return (name, self.jobs, self.prints, self.sheets, self.pdf_prints)


@dataclass(frozen=True)
class Production:
    """The period's printed jobs, their prints by product, printer, technician and hour, and
    the seconds from drop to print of each per printer."""

    printed: Sequence[Event]  # the first move of each job to PRINTED
    by: Mapping[str, Mapping[str, Output]]  # "product", "printer", ... "hour" -> name -> prints
    waits: Mapping[str, list[float]]

    @property
    def per_printer(self) -> Mapping[str, Output]:
        return self.by["printer"]

    @property
    def prints(self) -> int:
        return sum(o.prints for o in self.per_printer.values())

    @property
    def sheets(self) -> int:
        return sum(o.sheets for o in self.per_printer.values())

    @property
    def pdf_prints(self) -> int:
        return sum(o.pdf_prints for o in self.per_printer.values())

    @property
    def wait_median(self) -> float | None:
        """Drop to print, all printers: the median in seconds."""
        return _median(_everyone(self.waits))

    @property
    def wait_p95(self) -> float | None:
        """Drop to print, all printers: the 95th percentile in seconds."""
        return _p95(_everyone(self.waits))

    def tables(self) -> tuple[Table, ...]:
        """Prints per product, printer, technician and hour; time from drop to print."""
        return (
            *(_output_table(name, title, key, self.by[key]) for key, name, title in _OUTPUT_TABLES),
            _waits_table(self.waits),
        )


def read_production(ctx: Context) -> Production:
    """The production figures of ``ctx``'s period; notes what they cannot count."""
    printed = ctx.moved(JobState.PRINTED)
    return Production(printed, _outputs(ctx, printed), _drop_to_print(ctx, printed))


def _outputs(ctx: Context, printed: Sequence[Event]) -> dict[str, dict[str, Output]]:
    """Jobs, prints and sheets per product, printer, technician and hour of the day."""
    by: dict[str, dict[str, Output]] = {
        "product": defaultdict(Output),
        "printer": defaultdict(Output),
        "technician": defaultdict(Output),
        "hour": defaultdict(Output),
    }
    jobs = ctx.jobs
    for e in printed:
        job_id = e.job_id or 0
        outputs = jobs.prints(job_id)
        for key, name in (
            ("product", jobs.product_name(job_id)),
            ("printer", jobs.printer(job_id)),
            ("technician", jobs.job(job_id).technician),
            ("hour", hour_of_day(e.ts, ctx.period.zone)),
        ):
            by[key][name].add(outputs)
    if any(o.pdf_prints for o in by["printer"].values()):
        ctx.notes.append(
            "PDF prints (photobooks, pass-through PDFs): the journal does not record how "
            "many sheets each took (pages per sheet, both sides or one), so they are "
            "counted under pdf_prints, not in sheets or the waste rate."
        )
    if jobs.unconfigured:
        ctx.notes.append(
            "Jobs of hot folders no longer configured "
            f"({', '.join(sorted(jobs.unconfigured))}): their product's copies are "
            "not known; outputs without copies in the ticket are counted once."
        )
    return by


def _drop_to_print(ctx: Context, printed: Sequence[Event]) -> dict[str, list[float]]:
    """Seconds from taking each job to CUPS completing it, per printer (reprints left out)."""
    waits: dict[str, list[float]] = defaultdict(list)
    for e in printed:
        if e.job_id is None or e.job_id in ctx.reprints:
            continue
        job = ctx.jobs.job(e.job_id)
        waits[ctx.jobs.printer(e.job_id)].append(epoch(e.ts) - epoch(job.created_at))
    if waits:
        ctx.notes.append(
            "Drop to print runs from when labd took the job (once the copy had been quiet "
            "for stability_seconds, or READY appeared) to CUPS reporting its last output "
            "completed; when the technician began copying is not in the journal."
        )
    return waits


def hour_of_day(ts: str, zone: tzinfo | None) -> str:
    """The hour of the lab's day a journal timestamp falls in: ``08:00-09:00`` (the hour an
    autumn night repeats counts once, under its name)."""
    hour = local(parse_timestamp(ts), zone).hour
    return f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"


def _output_table(name: str, title: str, key: str, rows: Mapping[str, Output]) -> Table:
    return Table(name, title, (key, *_OUTPUT_COLUMNS), tuple(rows[n].row(n) for n in sorted(rows)))


def _waits_table(waits: Mapping[str, list[float]]) -> Table:
    rows = [(p, len(w), _median(w), _p95(w), round(max(w), 1)) for p, w in sorted(waits.items())]
    if len(waits) > 1:
        everyone = _everyone(waits)
        rows.append(("all printers", len(everyone), _median(everyone), _p95(everyone),
                     round(max(everyone), 1)))  # fmt: skip
    return Table(
        "drop_to_print",
        "Time from drop to print",
        ("printer", "jobs", "median_s", "p95_s", "longest_s"),
        tuple(rows),
    )


def _everyone(waits: Mapping[str, list[float]]) -> list[float]:
    return [w for ws in waits.values() for w in ws]


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p95(values: Sequence[float]) -> float | None:
    """The 95th percentile by nearest rank: a time that 95 % of the jobs did not exceed."""
    if not values:
        return None
    ranked = sorted(values)
    return round(ranked[math.ceil(0.95 * len(ranked)) - 1], 1)
