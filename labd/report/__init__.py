"""The supervisor's report: what happened in a day or a week, as a lab manager asks it.

- :mod:`labd.report.period`: the day or week asked for, bounded by the lab's midnights
- :mod:`labd.report.figures`: the figures, from the journal, the media and waste ledgers
  and the retention schedule, each through its own reads; what the journal cannot tell
  is said in the report's notes.  One module per section, sharing a
  :mod:`labd.report.context`: :mod:`~labd.report.production` (prints, sheets, drop to
  print), :mod:`~labd.report.waste` (misprints, waste rate, reprints),
  :mod:`~labd.report.trouble` (held time, quarantine), :mod:`~labd.report.media`
  (customer media)
- :mod:`labd.report.model`: the report as data (:class:`Report`, :class:`Table`)

The command line (``labd report``) renders it as text tables, JSON or CSV.
"""

from __future__ import annotations

from labd.report.figures import build
from labd.report.model import Report, Table, Value
from labd.report.period import Period, resolve_day, resolve_week

__all__ = ["Period", "Report", "Table", "Value", "build", "resolve_day", "resolve_week"]
