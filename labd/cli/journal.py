"""``labd journal``: the event log, and the check of its hash chain."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from time import sleep
from typing import Final, TextIO

from labd.cli import journal_admin
from labd.cli.common import (
    Subparsers,
    add_node_option,
    config_of,
    hotfolders_filter,
    job_state,
    open_journal,
    select_node,
    table_line,
    write_table,
)
from labd.clock import isoformat, parse_timestamp, readable
from labd.config import Config
from labd.errors import LabdError
from labd.journal import ChainCheck, EventFilter, Journal, JournalView
from labd.journal.view import event_data
from labd.media.queries import MediaQueries
from labd.model import Event, JobState
from labd.store import PostgresLocation, StoreLocation

EXIT_CHAIN_BROKEN: Final = 10
FOLLOW_SECONDS: Final = 0.5  # how often --follow looks for new events
FOLLOW_FIRST: Final = 10  # --follow without --limit starts with the newest this many


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
    data = event_data(e)  # older events' fields under today's names
    parts = []
    if "from" in data and "to" in data:
        parts.append(f"{data.pop('from')} -> {data.pop('to')}")
    parts.extend(f"{k}={v}" for k, v in sorted(data.items()))
    if e.detail:
        parts.append(f"({e.detail})")
    return " ".join(parts)


def cmd_journal(args: argparse.Namespace, out: TextIO) -> int:
    """Show the event log (every state change with its time), or verify its hash chain;
    migrate the journal, or print the privileges labd's role needs (journal_admin)."""
    config = config_of(args)
    if args.action in _ADMIN:
        where = _admin_location(args, config)
        if args.action == "migrate":
            return journal_admin.migrate(where, config.journal.node, out)
        if args.role is None:
            raise LabdError("`labd journal grants` needs the ROLE labd runs as")
        return journal_admin.grants(where, args.role, out)
    if args.role is not None or args.url is not None or args.password_file is not None:
        raise LabdError("ROLE, --url and --password-file are for `labd journal migrate|grants`")
    with open_journal(config) as journal:
        if args.action == "verify":
            return _verify(journal.verify(args.head), out)
        select_node(journal, args.node)
        f = _filter(args, config, journal)
        if args.follow and f.limit is None:
            f = replace(f, limit=FOLLOW_FIRST)  # as tail -f: the last few, then what comes
        head = journal.last_seq()
        events = journal.find_events(f)
        printer = _EventPrinter(args.format, out, follow=args.follow, zone=config.timezone)
        printer.first(events)
        if args.follow:
            after = max(head, f.after, *(e.seq for e in events))
            _follow(journal, replace(f, limit=None), after, printer)
    return 0


class _EventPrinter:
    """Events in the chosen format: the first ones, and (--follow) those that come later."""

    def __init__(self, fmt: str, out: TextIO, *, follow: bool, zone: tzinfo | None = None) -> None:
        self.fmt = fmt
        self.out = out
        self.follow = follow
        self.zone = zone  # the table's times; exports keep UTC
        self.widths: list[int] = []

    def first(self, events: Sequence[Event]) -> None:
        if self.fmt == "csv":
            csv.writer(self.out).writerow(["seq", "ts", "job_id", "kind", "data", "detail"])
        elif self.fmt == "table":
            rows = [_cells(e, self.zone) for e in events]
            if not self.follow:
                write_table(self.out, _HEADER, rows)
                return
            # Columns wide enough for the rows to come, and no "(none)": events may come.
            self.widths = [
                max(least, len(h), *(len(r[i]) for r in rows))
                for i, (h, least) in enumerate(zip(_HEADER, _FOLLOW_WIDTHS, strict=True))
            ]
            for row in [_HEADER, *rows]:
                self.out.write(table_line(row, self.widths))
            self.out.flush()
            return
        self.more(events)

    def more(self, events: Sequence[Event]) -> None:
        if self.fmt == "json":
            for e in events:
                self.out.write(json.dumps(event_row(e), ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            writer = csv.writer(self.out)
            for e in events:
                data = json.dumps(dict(e.data), sort_keys=True)
                writer.writerow([e.seq, e.ts, e.job_id or "", e.kind, data, e.detail or ""])
        else:
            for e in events:
                self.out.write(table_line(_cells(e, self.zone), self.widths))
        self.out.flush()  # a reader at the other end of a pipe sees each event as it comes


_HEADER: Final = ("SEQ", "TIME", "JOB", "EVENT", "DETAILS")
_FOLLOW_WIDTHS: Final = (6, 23, 5, 22, 0)  # the least widths of the columns, following


def _cells(e: Event, zone: tzinfo | None) -> list[str]:
    """An event as a row of the table, its time in the lab's time zone."""
    return [str(e.seq), readable(e.ts, zone), str(e.job_id or "-"), e.kind, event_summary(e)]


def _follow(journal: JournalView, f: EventFilter, after: int, printer: _EventPrinter) -> None:
    """Print the events that match ``f`` as they are written, until Ctrl-C (exit 130).

    The journal is another process's (the daemon's) SQLite file: looking every
    FOLLOW_SECONDS is what it offers; each look reads only events after the last one seen.
    """
    while True:
        sleep(FOLLOW_SECONDS)
        head = journal.last_seq()
        new = journal.find_events(replace(f, after=after))
        printer.more(new)
        after = max(head, after, *(e.seq for e in new))


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


_ADMIN: Final = ("migrate", "grants")


def _admin_location(args: argparse.Namespace, config: Config) -> StoreLocation:
    """The journal ``migrate`` and ``grants`` work on: ``--url`` (the owner's role), else the
    configured one."""
    if args.url is None:
        if args.password_file is not None:
            raise LabdError("--password-file is the password of --url's role: give --url too")
        if args.role is not None and args.action == "migrate":
            raise LabdError("ROLE is for `labd journal grants`")
        return config.journal_location
    try:
        return PostgresLocation(args.url, args.password_file)
    except ValueError as e:
        raise LabdError(f"--url: {e}") from None


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


def _filter(args: argparse.Namespace, config: Config, journal: Journal) -> EventFilter:
    until = None if args.until is None else _day(args.until)
    if until is not None and len(args.until) == 10:
        # --until 2026-01-31 means up to the end of that day.
        until = isoformat(parse_timestamp(until) + timedelta(days=1))
    return EventFilter(
        since=args.since,
        until=until,
        job=args.job,
        media_items=_carriers(config, journal, args.job),
        after=args.after,
        hotfolders=hotfolders_filter(
            config, journal, hotfolder=args.hotfolder, printer=args.printer
        ),
        order=args.order,
        technician=args.technician,
        state=args.state,
        kinds=tuple(args.kind or ()),
        limit=args.limit,
        oldest=args.oldest,
    )


def _carriers(config: Config, journal: Journal, job_id: int | None) -> tuple[int, ...]:
    """The media items of a job (and of its order), whose events name no job."""
    if job_id is None:
        return ()
    media = MediaQueries(journal, config.media)
    return tuple(item.id for item in media.of_job(journal.job(job_id)))


def register(sub: Subparsers) -> None:
    """Add ``journal``."""
    journal = sub.add_parser(
        "journal",
        help="show the event log, verify its hash chain, migrate the journal's schema, or "
        "print the privileges labd's PostgreSQL role needs",
    )
    journal.add_argument(
        "action", nargs="?", choices=["show", "verify", "migrate", "grants"], default="show"
    )
    journal.add_argument(
        "role",
        nargs="?",
        type=journal_admin.role_arg,
        metavar="ROLE",
        help="grants: the PostgreSQL role labd runs as",
    )
    journal.add_argument(
        "--url",
        help="migrate, grants: this postgresql:// URL (the tables' owner's role) instead of "
        "[journal] url",
    )
    journal.add_argument(
        "--password-file", type=Path, help="migrate, grants: the password of --url's role"
    )
    journal.add_argument(
        "--job", type=int, help="only events of this job, its media items' and its waste's"
    )
    journal.add_argument("--after", type=int, default=0, help="only events after this number")
    journal.add_argument(
        "--limit", type=int, default=None, help="only the newest this many, in order"
    )
    journal.add_argument(
        "--oldest", action="store_true", help="with --limit: the oldest ones instead"
    )
    journal.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help=f"print events as they come, until Ctrl-C (starts with the newest {FOLLOW_FIRST}, "
        "or --limit)",
    )
    journal.add_argument("--since", type=_day, help="from this date (YYYY-MM-DD, UTC) on")
    journal.add_argument("--until", type=_raw_day, help="up to this date (YYYY-MM-DD), inclusive")
    journal.add_argument("--hotfolder", help="only events of jobs from this hot folder")
    add_node_option(journal, "jobs' events")
    journal.add_argument(
        "--printer", help="only events of jobs of the hot folders printing on this printer"
    )
    journal.add_argument("--order", help="only events of jobs of this order")
    journal.add_argument("--technician", help="jobs dropped by, or events done by, this user")
    journal.add_argument(
        "--state",
        type=job_state,
        metavar="STATE",
        help="only state changes into this state, in any case: "
        + ", ".join(s.value for s in JobState),
    )
    journal.add_argument(
        "--kind", action="append", help="only this event kind (repeatable; 'media.' = prefix)"
    )
    journal.add_argument("--head", help="verify: a head noted earlier (HASH or SEQ:HASH)")
    journal.add_argument("--format", choices=["table", "json", "csv"], default="table")
    journal.set_defaults(func=cmd_journal)
