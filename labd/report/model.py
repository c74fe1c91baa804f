"""The report as data: its tables, totals and notes, with no reading behind them.

Every section of the report (:mod:`labd.report.production`, :mod:`labd.report.waste`,
:mod:`labd.report.trouble`, :mod:`labd.report.media`) hands back :class:`Table` rows;
:mod:`labd.report.figures` puts them into one :class:`Report`, which the command line
renders as text, JSON or CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from labd.clock import isoformat
from labd.report.period import Period

Value = int | float | str | None


@dataclass(frozen=True)
class Table:
    """One table of the report: its first column names the row (a printer, a reason ...)."""

    name: str  # the key in JSON and CSV: "prints_per_printer"
    title: str  # the heading in text: "Prints per printer"
    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]

    def as_dicts(self) -> list[dict[str, Value]]:
        """The rows as JSON-ready mappings."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Report:
    """A period's figures: totals, tables, and what the journal cannot tell."""

    period: Period
    made_at: datetime  # aware UTC
    totals: Mapping[str, Value]
    tables: tuple[Table, ...]
    notes: tuple[str, ...]

    @property
    def so_far(self) -> bool:
        """True while the period has not ended: its figures are up to ``made_at``."""
        return self.period.until > self.made_at

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data; times as the journal writes them (UTC), durations in seconds."""
        since, until = self.period.bounds()
        return {
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "since": since,
            "until": until,
            # The IANA name of the lab's zone; None: the server's (since/until say where).
            "timezone": None if self.period.zone is None else str(self.period.zone),
            "made_at": isoformat(self.made_at),
            "so_far": self.so_far,
            "totals": dict(self.totals),
            **{t.name: t.as_dicts() for t in self.tables},
            "notes": list(self.notes),
        }
