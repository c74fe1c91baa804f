"""``labd journal``: the event log, and the check of its hash chain."""

from __future__ import annotations

import argparse
import csv
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, TextIO

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.clock import isoformat, parse_timestamp
from labd.journal import ChainCheck, EventFilter
from labd.model import Event, JobState

EXIT_CHAIN_BROKEN: Final = 10


def event_row(e: Event) -> dict[str, object]:
    """An event as JSON-ready data."""
    return {
        "seq": e.seq,
        "ts": e.ts,
        "job_id": e.job_id,
        "kind": e.kind,
        "data": dict(e.data),
        "detail": e.detail,
        "hash": e.hash,
    }


def event_summary(e: Event) -> str:
    """An event's data on one line: 'A -> B key=value ... (detail)'."""
    data = dict(e.data)
    parts = []
    if "from" in data and "to" in data:
        parts.append(f"{data.pop('from')} -> {data.pop('to')}")
    parts.extend(f"{k}={v}" for k, v in sorted(data.items()))
    if e.detail:
        parts.append(f"({e.detail})")
    return " ".join(parts)


def cmd_journal(args: argparse.Namespace, out: TextIO) -> int:
    """Show the event log (every state change with its time), or verify its hash chain."""
    with open_journal(config_of(args)) as journal:
        if args.action == "verify":
            return _verify(journal.verify(args.head), out)
        events = journal.find_events(_filter(args))
    if args.format == "json":
        for e in events:
            out.write(json.dumps(event_row(e), ensure_ascii=False) + "\n")
    elif args.format == "csv":
        writer = csv.writer(out)
        writer.writerow(["seq", "ts", "job_id", "kind", "data", "detail"])
        for e in events:
            data = json.dumps(dict(e.data), sort_keys=True)
            writer.writerow([e.seq, e.ts, e.job_id or "", e.kind, data, e.detail or ""])
    else:
        write_table(
            out,
            ["SEQ", "TIME", "JOB", "EVENT", "DETAILS"],
            [[str(e.seq), e.ts, str(e.job_id or "-"), e.kind, event_summary(e)] for e in events],
        )
    return 0


def _verify(check: ChainCheck, out: TextIO) -> int:
    if check.first_bad is not None and check.head_found is not False:
        out.write(
            f"BROKEN at event {check.first_bad}: {check.problem}\n"
            f"{check.events} events verified before it, last good head {check.head}\n"
        )
        return EXIT_CHAIN_BROKEN
    if check.head_found is False:
        at = f" (event {check.first_bad})" if check.first_bad is not None else ""
        out.write(
            f"HEAD NOT FOUND{at}: {check.problem}\n"
            f"{check.events} events verify, head now {check.events}:{check.head}\n"
        )
        return EXIT_CHAIN_BROKEN
    out.write(f"OK: {check.events} events, head {check.head}\n")
    if check.head_found:
        out.write(f"the noted head is event {check.head_seq}: nothing up to it was rewritten\n")
    return 0


def _day(text: str) -> str:
    """A date (YYYY-MM-DD) or a full timestamp, as the journal writes timestamps."""
    try:
        return isoformat(datetime.combine(date.fromisoformat(text), time(), UTC))
    except ValueError:
        try:
            return isoformat(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _raw_day(text: str) -> str:
    _day(text)  # refuse a bad date while parsing
    return text


def _filter(args: argparse.Namespace) -> EventFilter:
    until = None if args.until is None else _day(args.until)
    if until is not None and len(args.until) == 10:
        # --until 2026-01-31 means up to the end of that day.
        until = isoformat(parse_timestamp(until) + timedelta(days=1))
    return EventFilter(
        since=args.since,
        until=until,
        job=args.job,
        after=args.after,
        hotfolder=args.hotfolder,
        order=args.order,
        technician=args.technician,
        state=JobState(args.state.upper()) if args.state else None,
        kinds=tuple(args.kind or ()),
        limit=args.limit,
    )


def register(sub: Subparsers) -> None:
    """Add ``journal``."""
    journal = sub.add_parser("journal", help="show the event log, or verify its hash chain")
    journal.add_argument("action", nargs="?", choices=["show", "verify"], default="show")
    journal.add_argument("--job", type=int, help="only events of this job")
    journal.add_argument("--after", type=int, default=0, help="only events after this number")
    journal.add_argument("--limit", type=int, default=None)
    journal.add_argument("--since", type=_day, help="from this date (YYYY-MM-DD, UTC) on")
    journal.add_argument("--until", type=_raw_day, help="up to this date (YYYY-MM-DD), inclusive")
    journal.add_argument("--hotfolder", help="only events of jobs from this hot folder")
    journal.add_argument("--order", help="only events of jobs of this order")
    journal.add_argument("--technician", help="jobs dropped by, or events done by, this user")
    journal.add_argument(
        "--state",
        choices=[s.value.lower() for s in JobState],
        help="only state changes into this state",
    )
    journal.add_argument(
        "--kind", action="append", help="only this event kind (repeatable; 'media.' = prefix)"
    )
    journal.add_argument("--head", help="verify: a head noted earlier (HASH or SEQ:HASH)")
    journal.add_argument("--format", choices=["table", "json", "csv"], default="table")
    journal.set_defaults(func=cmd_journal)
