"""``labd journal``: the event log, and the check of its hash chain."""

from __future__ import annotations

import argparse
import csv
import json
from typing import Final, TextIO

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.model import Event

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
    journal = open_journal(config_of(args))
    try:
        if args.action == "verify":
            check = journal.verify()
            if check.first_bad is None:
                out.write(f"OK: {check.events} events, head {check.head}\n")
                return 0
            out.write(
                f"BROKEN at event {check.first_bad}: {check.problem}\n"
                f"{check.events} events verified before it, last good head {check.head}\n"
            )
            return EXIT_CHAIN_BROKEN
        events = journal.events(job_id=args.job, after=args.after, limit=args.limit)
    finally:
        journal.close()
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


def register(sub: Subparsers) -> None:
    """Add ``journal``."""
    journal = sub.add_parser("journal", help="show the event log, or verify its hash chain")
    journal.add_argument("action", nargs="?", choices=["show", "verify"], default="show")
    journal.add_argument("--job", type=int, help="only events of this job")
    journal.add_argument("--after", type=int, default=0, help="only events after this number")
    journal.add_argument("--limit", type=int, default=None)
    journal.add_argument("--format", choices=["table", "json", "csv"], default="table")
    journal.set_defaults(func=cmd_journal)
