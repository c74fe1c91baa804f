"""The figures of a supervisor's report, drawn from the journal and the ledgers.

Everything comes from what labd journaled: the chained events of the period (state
changes, reprints, misprints, media moves, deletions) through :func:`labd.store.chain.find`,
the jobs, their files and outputs through the journal's reads, media items and waste
entries through their ledgers.  Where the journal cannot answer a question (how many
sheets a PDF took, when a technician began copying), the report says so in its notes
rather than guess.  No personal data: jobs appear only as counts, reasons only by rule.

Each section a lab manager reads has its module, all reading one
:class:`~labd.report.context.Context`: :mod:`~labd.report.production` (prints, sheets,
drop to print), :mod:`~labd.report.waste` (misprints, waste rate, reprints),
:mod:`~labd.report.trouble` (held time, quarantine) and :mod:`~labd.report.media`
(customer media).  Here they are put together in the report's order.
"""

from __future__ import annotations

from datetime import datetime

from labd.config import Config
from labd.journal import Journal
from labd.model import JobState
from labd.privacy.retention import Retention
from labd.report.context import Context
from labd.report.media import read_media
from labd.report.model import Report, Table, Value
from labd.report.period import Period
from labd.report.production import read_production
from labd.report.trouble import read_trouble
from labd.report.waste import read_waste

__all__ = ["Report", "Table", "Value", "build"]


def build(
    journal: Journal, config: Config, retention: Retention, period: Period, now: datetime
) -> Report:
    """The report of ``period`` as the journal stands at ``now``."""
    ctx = Context(journal, config, period, now)
    made = read_production(ctx)
    waste = read_waste(ctx, made)
    trouble = read_trouble(ctx)
    media = read_media(ctx)
    due = retention.due(until=min(period.until, now))
    totals: dict[str, Value] = {
        "jobs_received": len(ctx.events("job.discovered")),
        "jobs_printed": len(made.printed),
        "jobs_done": len(ctx.moved(JobState.DONE)),
        "jobs_held": len(ctx.moved(JobState.HELD)),
        "jobs_quarantined": len(ctx.moved(JobState.QUARANTINED)),
        "jobs_uncertain": len(ctx.moved(JobState.UNCERTAIN)),
        "jobs_canceled": len(ctx.moved(JobState.CANCELED)),
        "jobs_withdrawn": len(ctx.moved(JobState.WITHDRAWN)),
        "prints": made.prints,
        "sheets": made.sheets,
        "pdf_prints": made.pdf_prints,
        "reprints": waste.reprints,
        "misprints": waste.misprints,
        "sheets_misprinted": waste.sheets_misprinted,
        "waste_rate_pct": waste.rate_pct,
        "drop_to_print_median_s": made.wait_median,
        "drop_to_print_p95_s": made.wait_p95,
        "held_s": trouble.held_s,
        **media.totals,
        "deletions_done": len(ctx.events("retention.purged")),
        "erasures": len(ctx.events("erasure.requested")),
        "deletions_due": sum(1 for d in due if not d.held),
        "deletions_held": sum(1 for d in due if d.held),
    }
    tables: tuple[Table, ...] = (*made.tables(), *waste.tables, *trouble.tables, media.table)
    return Report(period, now, totals, tables, tuple(ctx.notes))
