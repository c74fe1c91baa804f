"""``labd report`` and ``labd records``: the supervisor's summaries."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import TextIO

from labd.cli.common import Subparsers, config_of, open_journal
from labd.clock import SystemClock
from labd.privacy.report import Period, records, report
from labd.privacy.retention import Retention


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    """Jobs, misprints, media and deletions of one day or week."""
    config = config_of(args)
    period = Period.week(args.week) if args.week else Period.day(args.day or date.today())
    with open_journal(config) as journal:
        data = report(journal, Retention(journal, config, SystemClock()), period)
    if args.format == "json":
        out.write(json.dumps(data) + "\n")
        return 0
    for key, value in data.items():
        out.write(f"{key.replace('_', ' '):20} {value}\n")
    return 0


def cmd_records(args: argparse.Namespace, out: TextIO) -> int:
    """The record of processing activities (GDPR Art. 30) from the configuration."""
    data = records(config_of(args))
    if args.format == "json":
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    for key, value in data.items():
        out.write(f"{key.replace('_', ' ')}:\n")
        if isinstance(value, list):
            out.writelines(f"  - {v}\n" for v in value)
        elif isinstance(value, dict):
            out.writelines(f"  {k}: {v}\n" for k, v in value.items())
        else:
            out.write(f"  {value}\n")
    return 0


def register(sub: Subparsers) -> None:
    """Add ``report`` and ``records``."""
    rep = sub.add_parser("report", help="what happened on a day or in a week")
    when = rep.add_mutually_exclusive_group()
    when.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: today, UTC)")
    when.add_argument("--week", type=date.fromisoformat, help="any day of the ISO week")
    rep.add_argument("--format", choices=["table", "json"], default="table")
    rep.set_defaults(func=cmd_report)
    rec = sub.add_parser("records", help="the GDPR Art. 30 record of processing activities")
    rec.add_argument("--format", choices=["text", "json"], default="text")
    rec.set_defaults(func=cmd_records)
