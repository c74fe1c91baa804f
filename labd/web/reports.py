"""The console's reports: a day or a week of the lab in figures and charts, as CSV, and the
GDPR Art. 30 record of processing activities.

A supervisor reads the report in an office, not on the print server: the page shows what
``labd report`` prints, from the same :func:`labd.report.build` over the same period
(:func:`~labd.report.resolve_day`, :func:`~labd.report.resolve_week`, on the lab's clock),
with every figure formatted as the command formats it
(:func:`labd.cli.report.figure_text`); nothing is counted here.  Five tables get a chart
(prints per product, printer and hour of the day, quarantine reasons, time held), drawn on
the server as inline SVG whose geometry is worked out below: no script, no library, no
CDN (the Content-Security-Policy allows none), and each chart has its title, a
description and its table beside it for a screen reader and for anyone who wants the
numbers.

The CSV is for a spreadsheet, which opens one file as one grid: the whole report comes as
``labd report --format csv`` writes it (one figure a line: table, row, column, value, a
pivot table away from any view), and each table alone with ``table=NAME`` (its own columns
as the header, ready to sort or chart); a CSV of sections with different headers one
under the other would break both.  Values stay as the export writes them (seconds, UTC,
empty where a figure is not derivable), with a byte-order mark so that spreadsheets read
the lab's product and printer names (ø, ä, ü) as UTF-8.

The record page renders :func:`labd.privacy.records.records` (``labd records``); a record
without its ``[controller]`` says so, and what to add.  The handlers are registered by
:data:`HANDLERS`; :mod:`labd.web.roles` says who may use each route (supervisors and
admins: the reports name technicians).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

from starlette.responses import Response

from labd.cli.report import TOTALS, figure_text, write_csv
from labd.clock import isoformat, local, readable, zone_name
from labd.privacy.records import CONTROLLER_EXAMPLE, CONTROLLER_KEYS, records
from labd.privacy.retention import Retention
from labd.report import Period, Report, Table, Value, build, resolve_day, resolve_week
from labd.web.i18n import _
from labd.web.pages import BadInput

if TYPE_CHECKING:
    from labd.web.app import Call, Console

# A period or table name longer than this is no name labd knows: refused unread.
_ASKED_MAX: Final = 40
_TABLE_NAME: Final = re.compile(r"^[a-z_]{1,40}$")
TOTALS_TABLE: Final = "totals"  # table=totals: the totals as key, value

# The tables that get a chart: the column whose figure the bars show, and the chart's kind
# ("rows": a bar per row, labelled on the left; "hours": the 24 hours of the day).
CHARTS: Final[Mapping[str, tuple[str, str]]] = {
    "prints_per_product": ("prints", "rows"),
    "prints_per_printer": ("prints", "rows"),
    "prints_per_hour": ("prints", "hours"),
    "quarantine_reasons": ("jobs", "rows"),
    "held_per_printer": ("held_s", "rows"),
}
# Column headings where the key does not read well with its underscores as spaces.
_HEADINGS: Final = {
    "pdf_prints": "PDF prints",
    "waste_rate_pct": "waste rate",
    "median_s": "median",
    "p95_s": "95th percentile",
    "longest_s": "longest",
    "held_s": "time held",
    "still_held": "still held at the end",
}

# The charts' geometry, in SVG user units (the SVG scales to its box: see console.css).
_WIDTH: Final = 640
_LABEL_END: Final = 174  # a row's label ends here, right-aligned
_BAR_START: Final = 180
_BAR_SPAN: Final = 340  # the longest bar
_ROW: Final = 26  # one row of a "rows" chart
_BAR_THICK: Final = 18
_LABEL_CHARS: Final = 26  # longer labels are cut in the chart (whole in its table)
_PLOT_TOP: Final = 18  # room for the figure above the tallest column
_PLOT_HEIGHT: Final = 140
_AXIS_ROOM: Final = 22  # the hours under the columns
_HOURS: Final = 24
_SIDE: Final = 8


@dataclass(frozen=True)
class Cell:
    """One figure of a table: its column, its value as exported, and as a person reads it."""

    column: str
    value: str  # as the JSON/CSV export has it ("" for none)
    text: str  # as labd report prints it: "2 min 00 s", "60.0 %", "n/a"
    number: bool  # right-aligned


@dataclass(frozen=True)
class Bar:
    """One bar of a chart, placed: a row's label and figure, or an hour's column."""

    label: str
    short: str  # the label as the chart shows it
    value: str
    text: str
    x: float
    y: float
    width: float
    height: float
    text_x: float  # where its figure is written
    text_y: float


@dataclass(frozen=True)
class Tick:
    """A label on a chart's axis (an hour)."""

    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Chart:
    """An SVG chart of one table's column, its bars placed, with what a screen reader says."""

    name: str
    kind: str  # "rows" or "hours"
    title: str
    description: str
    width: int
    height: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    axis: tuple[float, float, float, float]  # x1, y1, x2, y2: under the hours, left of rows
    label_x: float = _LABEL_END  # where the rows' labels end


@dataclass(frozen=True)
class Section:
    """A table of the report as the page shows it, with its chart if it has one."""

    name: str
    title: str
    headings: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    chart: Chart | None
    csv: str  # the table alone as CSV


# -- the period asked for -----------------------------------------------------------------------


def period_key(period: Period) -> tuple[str, str]:
    """The query that names ``period``: ``("day", "2026-03-04")`` or ``("week", "2026-W10")``."""
    if period.days == 1:
        return "day", period.first.isoformat()
    year, week, _ = period.first.isocalendar()
    return "week", f"{year}-W{week:02d}"


def _today(console: Console) -> date:
    """The lab's today, on the console's clock."""
    return local(console.clock.now(), console.config.timezone).date()


def asked_period(console: Console, call: Call) -> Period:
    """The day (``day=``) or week (``week=``) the query names, in the lab's time zone;
    today without either.  What labd cannot read is refused with what it accepts."""
    q = call.request.query_params
    day, week = q.get("day") or None, q.get("week") or None
    if day is not None and week is not None:
        raise BadInput(_("ask for a day or a week, not both"))
    name, text = ("week", week) if week is not None else ("day", day or "today")
    if len(text) > _ASKED_MAX:
        raise BadInput(
            _(
                "%(field)s: give a %(field)s in at most %(most)s characters",
                field=name,
                most=_ASKED_MAX,
            )
        )
    zone = console.config.timezone
    try:
        if name == "week":
            return Period.week(resolve_week(text, _today(console)), zone)
        return Period.day(resolve_day(text, _today(console)), zone)
    except ValueError as e:
        # The command line's words for it, as the console asks: ?week=, not --week.
        raise BadInput(f"{name}: {str(e).replace('--week ', 'week=')}") from None


def _report(console: Console, period: Period) -> Report:
    """``labd report``'s report of ``period``, as the journal stands now."""
    retention = Retention(console.journal, console.config, console.clock)
    return build(console.journal, console.config, retention, period, console.clock.now())


def _link(path: str, period: Period, **more: str) -> str:
    key, value = period_key(period)
    return f"{path}?{urlencode({key: value, **more})}"


# -- the page -----------------------------------------------------------------------------------


def reports_page(console: Console, call: Call) -> Response:
    """``/reports``: a day or a week in figures, with charts and the tables behind them."""
    period = asked_period(console, call)
    report = _report(console, period)
    zone = console.config.timezone
    since, until = period.bounds()
    step = timedelta(days=period.days)
    before = Period(period.first - step, period.days, period.zone)
    after = Period(period.first + step, period.days, period.zone)
    today = _today(console)
    key, value = period_key(period)
    return console.render(
        call,
        "reports.html",
        {
            "period": period,
            "key": key,
            "value": value,
            "label": period.label(),
            "zone": zone_name(zone),
            "since": readable(since, zone),
            "until": readable(until, zone),
            "so_far": report.so_far,
            "made_at": readable(isoformat(report.made_at), zone),
            "totals": [
                (k, label, _value(report.totals.get(k)), figure_text(k, report.totals.get(k)))
                for k, label in TOTALS
            ],
            "sections": [_section(t, period) for t in report.tables],
            "report_notes": report.notes,
            "links": {
                "previous": _link("/reports", before),
                "next": _link("/reports", after) if after.first <= today else None,
                "today": "/reports?day=today",
                "this_week": "/reports?week=this",
                "csv": _link("/reports.csv", period),
                "totals_csv": _link("/reports.csv", period, table=TOTALS_TABLE),
            },
        },
    )


def _value(value: Value) -> str:
    return "" if value is None else str(value)


def _heading(column: str) -> str:
    text = _HEADINGS.get(column, column.replace("_", " "))
    return text[:1].upper() + text[1:]


def _section(table: Table, period: Period) -> Section:
    rows = tuple(
        tuple(
            Cell(column, _value(v), figure_text(column, v), i > 0)
            for i, (column, v) in enumerate(zip(table.columns, row, strict=True))
        )
        for row in table.rows
    )
    chart = None
    if table.name in CHARTS and table.rows:
        column, kind = CHARTS[table.name]
        draw = _hours_chart if kind == "hours" else _rows_chart
        chart = draw(table, column)
    return Section(
        name=table.name,
        title=table.title,
        headings=tuple(_heading(c) for c in table.columns),
        rows=rows,
        chart=chart,
        csv=_link("/reports.csv", period, table=table.name),
    )


# -- charts -------------------------------------------------------------------------------------


def _figures(table: Table, column: str) -> list[tuple[str, Value]]:
    """(row name, figure of ``column``) of each row."""
    at = table.columns.index(column)
    return [(str(row[0]), row[at]) for row in table.rows]


def _number(value: Value) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _description(table: Table, column: str, figures: Sequence[tuple[str, Value]]) -> str:
    """What the chart shows, in words: a screen reader's way into it."""
    said = "; ".join(f"{name}: {figure_text(column, v)}" for name, v in figures)
    return f"{_heading(column)} per {_heading(table.columns[0]).lower()}. {said}."


def _chart(
    table: Table,
    column: str,
    kind: str,
    *,
    bars: Sequence[Bar],
    height: float,
    axis: tuple[float, float, float, float],
    ticks: tuple[Tick, ...] = (),
) -> Chart:
    """The chart of ``table``'s ``column``, its bars placed, with its words."""
    return Chart(
        name=table.name,
        kind=kind,
        title=table.title,
        description=_description(table, column, _figures(table, column)),
        width=_WIDTH,
        height=height,
        bars=tuple(bars),
        ticks=ticks,
        axis=axis,
    )


def _rows_chart(table: Table, column: str) -> Chart:
    """A horizontal bar per row, labelled on the left, its figure after it."""
    figures = _figures(table, column)
    longest = max(_number(v) for _, v in figures) or 1.0
    bars = []
    for i, (name, v) in enumerate(figures):
        top = 4 + i * _ROW
        width = _BAR_SPAN * _number(v) / longest
        bars.append(
            Bar(
                label=name,
                short=name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…",
                value=_value(v),
                text=figure_text(column, v),
                x=_BAR_START,
                y=top,
                width=round(max(width, 1.0 if _number(v) else 0.0), 1),  # a figure shows
                height=_BAR_THICK,
                text_x=round(_BAR_START + width + 6, 1),
                text_y=top + _BAR_THICK / 2 + 4,  # the text's baseline, across the bar's middle
            )
        )
    height = 8 + len(figures) * _ROW
    axis = (_BAR_START, 0.0, _BAR_START, height)
    return _chart(table, column, "rows", bars=bars, height=height, axis=axis)


def _hours_chart(table: Table, column: str) -> Chart:
    """A column for each hour of the day that has prints, on an axis of all 24."""
    figures = _figures(table, column)
    tallest = max(_number(v) for _, v in figures) or 1.0
    slot = (_WIDTH - 2 * _SIDE) / _HOURS
    thick = slot * 0.7
    axis = _PLOT_TOP + _PLOT_HEIGHT
    bars = []
    for name, v in figures:
        hour = int(name[:2])  # "08:00-09:00"
        x = _SIDE + hour * slot + (slot - thick) / 2
        height = max(_PLOT_HEIGHT * _number(v) / tallest, 1.0 if _number(v) else 0.0)
        bars.append(
            Bar(
                label=name,
                short=name[:5],
                value=_value(v),
                text=figure_text(column, v),
                x=round(x, 1),
                y=round(axis - height, 1),
                width=round(thick, 1),
                height=round(height, 1),
                text_x=round(x + thick / 2, 1),  # the figure over its column
                text_y=round(axis - height - 4, 1),
            )
        )
    ticks = tuple(
        Tick(f"{h:02d}", round(_SIDE + h * slot + slot / 2, 1), axis + 16)
        for h in range(0, _HOURS, 3)
    )
    line = (_SIDE, axis, _WIDTH - _SIDE, axis)
    return _chart(
        table, column, "hours", bars=bars, height=axis + _AXIS_ROOM, axis=line, ticks=ticks
    )


# -- CSV ----------------------------------------------------------------------------------------


def reports_csv(console: Console, call: Call) -> Response:
    """``/reports.csv``: the report as ``labd report --format csv`` writes it, or one table
    of it (``table=``) with its own header; a file named for the period (and the table)."""
    period = asked_period(console, call)
    name = call.request.query_params.get("table") or None
    if name is not None and not _TABLE_NAME.match(name):
        raise BadInput(
            _(
                "table: %(value)r is not a table's name like prints_per_hour",
                value=name[:_ASKED_MAX],
            )
        )
    report = _report(console, period)
    out = io.StringIO()
    if name is None:
        write_csv(out, report)
    elif name == TOTALS_TABLE:
        _write_rows(out, ("total", "value"), list(report.totals.items()))
    else:
        tables = {t.name: t for t in report.tables}
        if name not in tables:
            known = ", ".join([TOTALS_TABLE, *tables])
            raise BadInput(
                _(
                    "table: %(value)r is no table of the report; one of: %(known)s",
                    value=name,
                    known=known,
                )
            )
        _write_rows(out, tables[name].columns, tables[name].rows)
    stem = "-".join(["labd-report", period_key(period)[1], *([name] if name else [])])
    return Response(
        "\ufeff" + out.getvalue(),  # the byte-order mark: spreadsheets then read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
    )


def _write_rows(out: io.StringIO, header: Sequence[str], rows: Sequence[Sequence[Value]]) -> None:
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_value(v) for v in row] for row in rows)


# -- the record of processing activities --------------------------------------------------------


def records_page(console: Console, call: Call) -> Response:
    """``/records``: the record of processing activities (``labd records``), and what the
    configuration still lacks for it."""
    config = console.config
    record = records(config)
    return console.render(
        call,
        "records.html",
        {
            "record": record.data,
            "missing": record.missing,
            "source": str(config.source),
            "example": CONTROLLER_EXAMPLE,
            "keys": CONTROLLER_KEYS,
        },
    )


Handler = Callable[["Console", "Call"], Response]

HANDLERS: Final[Mapping[tuple[str, str], Handler]] = {
    ("GET", "/reports"): reports_page,
    ("GET", "/reports.csv"): reports_csv,
    ("GET", "/records"): records_page,
}

__all__ = ["CHARTS", "HANDLERS", "TOTALS_TABLE", "asked_period", "period_key"]
