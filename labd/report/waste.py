"""Waste: misprints per reason and printer, the waste rate, and reprints per reason.

Misprints come from the waste ledger's ``waste.misprint`` events; the waste rate sets
their sheets against the photo sheets each printer printed (:mod:`labd.report.production`),
so PDF prints, whose sheets are not known, stay out of it.  Reprints are new jobs
(``labd reprint``, a misprint's ``--reprint``) and outputs sent again in place (retry,
resolve), each under the reason it was journaled with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from labd.media.ledger import MediaLedger
from labd.model import Event
from labd.report.context import Context, int_of, ints_of
from labd.report.model import Table
from labd.report.production import Output, Production
from labd.waste.ledger import WasteLedger

# What ``print_again`` journals as ``why``, as a reason a manager reads.
_AGAIN_REASONS = {
    "retry": "labd retry (outputs CUPS aborted)",
    "resolved: reprint": "labd resolve reprint (uncertain job)",
}
NO_REASON = "no reason given (labd reprint)"


@dataclass(frozen=True)
class Waste:
    """The period's misprints and reprints, as tables and as totals."""

    misprints: int  # entries
    sheets_misprinted: int
    rate_pct: float | None  # misprinted sheets per photo sheet printed, all printers
    reprints: int  # new jobs made in the period to print again
    tables: tuple[Table, Table, Table]  # misprints, waste rate, reprints


def read_waste(ctx: Context, production: Production) -> Waste:
    """The waste figures of ``ctx``'s period, against what ``production`` printed."""
    misprints = ctx.events("waste.misprint")
    per_reason, per_printer, wasted = _misprints(ctx, misprints, production.per_printer)
    return Waste(
        misprints=len(misprints),
        sheets_misprinted=wasted,
        rate_pct=_rate(wasted, production.sheets),
        reprints=sum(1 for e in ctx.reprints.values() if ctx.in_period(e)),
        tables=(per_reason, per_printer, _reprints(ctx)),
    )


def _misprints(
    ctx: Context, misprints: list[Event], printed: Mapping[str, Output]
) -> tuple[Table, Table, int]:
    """Misprints per reason and printer, the waste rate per printer, and the sheets wasted."""
    entries: Counter[tuple[str, str]] = Counter()
    sheets: Counter[tuple[str, str]] = Counter()
    for e in misprints:
        key = (str(e.data.get("reason") or "-"), ctx.jobs.printer_of(e.job_id))
        entries[key] += 1
        sheets[key] += int_of(e.data.get("sheets"))
    per_reason = Table(
        "misprints",
        "Misprints per reason and printer",
        ("reason", "printer", "entries", "sheets"),
        tuple((r, p, entries[r, p], sheets[r, p]) for r, p in sorted(entries)),
    )
    wasted: Counter[str] = Counter()
    for (_, printer), n in sheets.items():
        wasted[printer] += n
    rows = []
    for printer in sorted(set(printed) | set(wasted)):
        made = printed[printer].sheets if printer in printed else 0
        rows.append((printer, made, wasted[printer], _rate(wasted[printer], made)))
    rate = Table(
        "waste_rate",
        "Waste rate per printer (misprinted sheets per sheet printed)",
        ("printer", "sheets_printed", "sheets_misprinted", "waste_rate_pct"),
        tuple(rows),
    )
    return per_reason, rate, sum(sheets.values())


def _reprints(ctx: Context) -> Table:
    """Reprints per reason and printer: new jobs (labd reprint, a misprint's --reprint)
    and outputs sent again in place (retry, resolve)."""
    ledger = WasteLedger(ctx.journal, ctx.config.waste, MediaLedger(ctx.journal, ctx.config.media))
    reason_of: dict[int, str] = {}
    for e in ctx.events_to_end("waste.reprinted"):
        job, entry = e.data.get("reprint_job"), e.data.get("entry")
        if isinstance(job, int) and isinstance(entry, int):
            reason_of[job] = ledger.entry(entry).reason or "-"
    count: Counter[tuple[str, str]] = Counter()
    outputs: Counter[tuple[str, str]] = Counter()
    for job_id, e in ctx.reprints.items():
        if not ctx.in_period(e):
            continue
        key = (reason_of.get(job_id, NO_REASON), ctx.jobs.printer(job_id))
        count[key] += 1
        outputs[key] += len(ints_of(e.data.get("outputs")))
    for e in ctx.moves:
        again = ints_of(e.data.get("again"))
        if again and e.job_id is not None:
            why = str(e.data.get("why") or "-")
            key = (_AGAIN_REASONS.get(why, why), ctx.jobs.printer(e.job_id))
            count[key] += 1
            outputs[key] += len(again)
    if any(reason == NO_REASON for reason, _ in count):
        ctx.notes.append(
            "Reprints made with `labd reprint` carry no reason; `labd waste misprint "
            "--reprint` records the misprint's."
        )
    return Table(
        "reprints",
        "Reprints per reason and printer",
        ("reason", "printer", "reprints", "outputs"),
        tuple((r, p, count[r, p], outputs[r, p]) for r, p in sorted(count)),
    )


def _rate(part: int, whole: int) -> float | None:
    """``part`` per ``whole`` in percent; None (not derivable) when nothing was printed."""
    return round(100.0 * part / whole, 1) if whole else None
