"""``labd report`` and ``labd records``: the supervisor's report and the GDPR Art. 30 record."""

from __future__ import annotations

import argparse
import csv
import io
import json
import textwrap
from collections.abc import Callable, Sequence
from datetime import date
from typing import Final, TextIO

from labd.cli.common import (
    Subparsers,
    add_node_option,
    config_of,
    open_journal,
    select_node,
    write_table,
)
from labd.clock import SystemClock, isoformat, local, readable, zone_name
from labd.config import Config
from labd.errors import ConfigError
from labd.privacy.records import CONTROLLER_EXAMPLE, CONTROLLER_KEYS, Record, records
from labd.privacy.retention import Retention
from labd.report import Period, Report, Table, Value, build, resolve_day, resolve_week
from labd.report.period import DAY_FORMS, WEEK_FORMS

# -- labd report -----------------------------------------------------------------------------

# Totals as a manager reads them, in this order; keys ending in _s are seconds.
TOTALS = (
    ("jobs_received", "jobs received"),
    ("jobs_printed", "jobs printed"),
    ("jobs_done", "jobs done"),
    ("jobs_held", "jobs held"),
    ("jobs_quarantined", "jobs quarantined"),
    ("jobs_uncertain", "jobs uncertain"),
    ("jobs_canceled", "jobs canceled"),
    ("jobs_withdrawn", "jobs withdrawn"),
    ("prints", "prints"),
    ("sheets", "sheets"),
    ("pdf_prints", "PDF prints (sheets unknown)"),
    ("reprints", "reprint jobs"),
    ("misprints", "misprints"),
    ("sheets_misprinted", "sheets misprinted"),
    ("waste_rate_pct", "waste rate"),
    ("drop_to_print_median_s", "drop to print, median"),
    ("drop_to_print_p95_s", "drop to print, 95th percentile"),
    ("held_s", "held time"),
    ("media_received", "media received"),
    ("media_returned", "media returned"),
    ("media_destroyed", "media destroyed"),
    ("media_lost", "media lost"),
    ("media_outstanding_now", "media outstanding now"),
    ("media_overdue_now", "media overdue now"),
    ("deletions_done", "deletions done"),
    ("erasures", "erasures"),
    ("deletions_due", "deletions due"),
    ("deletions_held", "deletions held"),
)
_HEADERS = {"pdf_prints": "PDF PRINTS", "waste_rate_pct": "WASTE RATE", "p95_s": "95TH PCT"}


def _checked(resolve: Callable[[str, date], date]) -> Callable[[str], str]:
    """An argparse type that refuses what ``resolve`` cannot read (at parse time, with
    today's date; the command resolves it again on the lab's clock)."""

    def check(text: str) -> str:
        try:
            resolve(text, date.today())
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text

    return check


def period_of(args: argparse.Namespace, config: Config, today: date) -> Period:
    """The day or week asked for (default: today), in the lab's time zone."""
    if args.week is not None:
        return Period.week(resolve_week(args.week, today), config.timezone)
    return Period.day(resolve_day(args.day or "today", today), config.timezone)


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    """What happened in a day or a week: prints, waste, waits, holds, quarantine, media."""
    config = config_of(args)
    with open_journal(config) as journal:
        select_node(journal, args.node)
        now = journal.clock.now()
        period = period_of(args, config, local(now, config.timezone).date())
        report = build(journal, config, Retention(journal, config, SystemClock()), period, now)
    if args.format == "json":
        out.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
    elif args.format == "csv":
        write_csv(out, report)
    else:
        _write_text(out, report, config)
    return 0


def write_csv(out: TextIO, report: Report) -> None:
    """One figure a line (table, row, column, value): every table in one sheet, UTC times,
    seconds, empty where a figure is not derivable."""
    writer = csv.writer(out)
    writer.writerow(["table", "row", "column", "value"])
    data = report.as_dict()
    for key in ("from", "to", "since", "until", "timezone", "made_at", "so_far"):
        writer.writerow(["period", "", key, _csv(data[key])])
    for key, value in report.totals.items():
        writer.writerow(["totals", "", key, _csv(value)])
    for table in report.tables:
        for row in table.rows:
            for column, value in zip(table.columns[1:], row[1:], strict=True):
                writer.writerow([table.name, row[0], column, _csv(value)])
    for note in report.notes:
        writer.writerow(["notes", "", "", note])


def _csv(value: object) -> object:
    return "" if value is None else value


def _write_text(out: TextIO, report: Report, config: Config) -> None:
    zone = config.timezone
    period = report.period
    out.write(f"labd report: {period.label()}, times in {zone_name(zone)}\n")
    since, until = period.bounds()
    if report.so_far:
        made = readable(isoformat(report.made_at), zone)
        out.write(f"from {readable(since, zone)}, so far: up to {made}\n")
    else:
        out.write(f"from {readable(since, zone)} to {readable(until, zone)}\n")
    out.write("\nTotals\n")
    width = max(len(label) for _, label in TOTALS)
    for key, label in TOTALS:
        out.write(f"  {label:{width}}  {figure_text(key, report.totals.get(key))}\n")
    for table in report.tables:
        out.write(f"\n{table.title}\n")
        _write_table(out, table)
    if report.notes:
        out.write("\nNot in the journal, and how figures are counted\n")
        _bullets(out, report.notes)


def _write_table(out: TextIO, table: Table) -> None:
    """A table with its numbers right-aligned."""
    header = [
        _HEADERS.get(c, c.removesuffix("_s").replace("_", " ").upper()) for c in table.columns
    ]
    cells = [
        [figure_text(c, v) for c, v in zip(table.columns, row, strict=True)] for row in table.rows
    ]
    for i in range(1, len(header)):
        width = max(len(header[i]), *(len(r[i]) for r in cells)) if cells else len(header[i])
        header[i] = header[i].rjust(width)
        for r in cells:
            r[i] = r[i].rjust(width)
    write_table(out, header, cells)


def figure_text(key: str, value: Value) -> str:
    """A figure as a person reads it: durations in h/min/s, rates in %, 'n/a' for none."""
    if value is None:
        return "n/a"
    if key.endswith("_s") and isinstance(value, int | float):
        return _duration(float(value))
    if key.endswith("_pct"):
        return f"{value} %"
    return str(value)


def _duration(seconds: float) -> str:
    """``45.2 s``, ``3 min 05 s``, ``2 h 03 min``, ``1 d 02 h``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


# -- labd records ----------------------------------------------------------------------------


def cmd_records(args: argparse.Namespace, out: TextIO) -> int:
    """The record of processing activities (GDPR Art. 30) from the configuration."""
    config = config_of(args)
    record = records(config)
    if args.format == "json":
        out.write(json.dumps(record.data, ensure_ascii=False, indent=2) + "\n")
    else:
        _write_record(out, record, config)
    if record.missing:
        raise ConfigError(
            str(config.source),
            "controller",
            "missing; the record of processing activities must name the controller "
            f"({', '.join(record.missing)}): add a [controller] section (see README)",
        )
    return 0


def _write_record(out: TextIO, record: Record, config: Config) -> None:
    data = record.data
    title = "Record of processing activities (GDPR Art. 30(1))"
    out.write(f"{title}\n{'=' * len(title)}\n")
    out.write(f"from the configuration {config.source}\n\n")
    out.write("Controller\n")
    controller = config.controller
    if controller is None:
        out.write(
            "  MISSING: the record must name the controller and how to reach them "
            "(Art. 30(1)(a)).\n"
            f"  Add to {config.source}:\n\n"
        )
        out.writelines(f"    {line}\n" for line in CONTROLLER_EXAMPLE.splitlines())
        out.write("\n  with:\n")
        out.writelines(f"    {key:8} {what}\n" for key, what in CONTROLLER_KEYS)
    else:
        out.write(f"  name:     {controller.name}\n")
        out.write(f"  address:  {controller.address}\n")
        out.write(f"  e-mail:   {controller.email}\n")
        out.write(f"  data protection officer: {controller.dpo or 'none designated'}\n")
    out.write(f"\nProcessing\n  {data['processing']}\n")
    for key, heading in (
        ("purposes", "Purposes"),
        ("categories_of_data_subjects", "Categories of data subjects"),
        ("categories_of_personal_data", "Categories of personal data"),
        ("recipients", "Recipients"),
    ):
        out.write(f"\n{heading}\n")
        _bullets(out, _strings(data[key]))
    out.write(f"\nTransfers to third countries\n  {data['transfers_to_third_countries']}\n")
    out.write("\nTime limits for erasure\n")
    _line(
        out,
        f"customer files and personal data: {config.retention.days} days by default, "
        "from DONE, QUARANTINED or CANCELED; a legal hold suspends it. Per hot folder:",
    )
    rows = [
        [hf.name, hf.product, str(config.retention_days(hf.name))]
        for hf in config.hotfolders.values()
    ]
    _indented(out, ["HOT FOLDER", "PRODUCT", "DAYS"], rows)
    _line(
        out,
        f"customer media: overdue when still in the house {config.media.overdue_days} days "
        "after the order is ready; returned or destroyed (DIN 66399)",
    )
    _line(
        out,
        f"orders nobody picked up: destroyed {config.waste.uncollected_days} days after "
        "they were done",
    )
    _line(out, "the journal: events are kept; their personal fields are erased with the job")
    out.write("\nTechnical and organisational measures (Art. 32)\n")
    _bullets(out, _strings(data["measures"]))


def _indented(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table two spaces in, as the record's other lines."""
    table = io.StringIO()
    write_table(table, header, rows)
    out.writelines(f"  {line}\n" for line in table.getvalue().splitlines())


# Text output is wrapped to this width, indented under its heading.
_WIDTH: Final = 96


def _line(out: TextIO, text: str) -> None:
    """A sentence under a heading, wrapped."""
    out.write(textwrap.fill(text, _WIDTH, initial_indent="  ", subsequent_indent="    ") + "\n")


def _bullets(out: TextIO, items: Sequence[str]) -> None:
    """A list under a heading, each item wrapped."""
    for item in items:
        out.write(textwrap.fill(item, _WIDTH, initial_indent="  - ", subsequent_indent="    "))
        out.write("\n")


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def register(sub: Subparsers) -> None:
    """Add ``report`` and ``records``."""
    rep = sub.add_parser("report", help="what happened on a day or in a week")
    when = rep.add_mutually_exclusive_group()
    when.add_argument(
        "--day", type=_checked(resolve_day), help=f"{DAY_FORMS} (default: today, local time)"
    )
    when.add_argument("--week", type=_checked(resolve_week), help=WEEK_FORMS)
    rep.add_argument("--format", choices=["text", "table", "json", "csv"], default="text")
    add_node_option(rep, "jobs (and their prints)")
    rep.set_defaults(func=cmd_report)
    rec = sub.add_parser("records", help="the GDPR Art. 30 record of processing activities")
    rec.add_argument("--format", choices=["text", "json"], default="text")
    rec.set_defaults(func=cmd_records)
