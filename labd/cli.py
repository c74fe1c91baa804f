"""``labd``: the command line.  The only place that maps errors to exit codes."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Final, TextIO

import structlog

from labd import __version__
from labd.config import Config, check_paths, load
from labd.errors import LabdError
from labd.journal import Journal
from labd.logging import configure as configure_logging
from labd.model import Event, Job, JobState

log = structlog.get_logger(__name__)

DEFAULT_CONFIG: Final = Path(os.environ.get("LABD_CONFIG", "/etc/labd/labd.toml"))
EXIT_INTERNAL: Final = 1


def _config(args: argparse.Namespace) -> Config:
    config = load(args.config)
    if args.base is not None:
        config = config.rebased(args.base)
    return config


def _journal(config: Config) -> Journal:
    return Journal.open(config.journal_path, create=False)


# -- commands ---------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    """Validate the configuration file and the paths it names."""
    config = _config(args)
    check_paths(config)
    out.write(
        f"{config.source}: OK ({len(config.hotfolders)} hot folders, "
        f"{len(config.products)} products, {len(config.printers)} printers)\n"
    )
    for hf in config.hotfolders.values():
        queue = config.printers[hf.printer].queue
        out.write(f"  {hf.name}: {hf.path} -> product {hf.product} -> queue {queue}\n")
    return 0


def cmd_run(args: argparse.Namespace, _out: TextIO) -> int:
    """Run the daemon in the foreground."""
    from labd.daemon import Daemon  # noqa: PLC0415  # only `run` pays for the whole daemon

    return Daemon(_config(args)).run()


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Run labd on an embedded CUPS with a virtual printer, everything under --dir."""
    from labd.demo import run_demo  # noqa: PLC0415  # only the demo starts a private CUPS

    return run_demo(load(args.config), args.dir.absolute(), out=out, config_path=args.config)


def _job_row(job: Job, journal: Journal) -> dict[str, object]:
    files = journal.files(job.id)
    return {
        "id": job.id,
        "state": job.state.value,
        "hotfolder": job.hotfolder,
        "kind": job.kind.value,
        "entry": job.entry,
        "files": [f.name for f in files],
        "queue": next((f.cups_queue for f in files if f.cups_queue), None),
        "cups_job_ids": [f.cups_job_id for f in files if f.cups_job_id is not None],
        "technician": job.technician,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "rule": job.rule,
        "reason": job.reason,
    }


def cmd_jobs(args: argparse.Namespace, out: TextIO) -> int:
    """List jobs, newest first, or show one job with its files and events."""
    journal = _journal(_config(args))
    try:
        if args.job is not None:
            return _show_job(journal, args.job, args.format, out)
        states = [JobState(s.upper()) for s in args.state] if args.state else None
        rows = [
            _job_row(j, journal)
            for j in journal.jobs(states, hotfolder=args.hotfolder, limit=args.limit)
        ]
    finally:
        journal.close()
    if args.format == "json":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    table = [
        [
            str(r["id"]),
            str(r["state"]),
            str(r["hotfolder"]),
            _files_cell(r["files"]),
            str(r["queue"] or "-"),
            ",".join(map(str, r["cups_job_ids"])) or "-",  # type: ignore[call-overload]
            str(r["technician"]),
            str(r["created_at"]),
            str(r["updated_at"]),
        ]
        for r in rows
    ]
    _table(
        out,
        ["ID", "STATE", "HOTFOLDER", "FILES", "QUEUE", "CUPS", "TECHNICIAN", "CREATED", "UPDATED"],
        table,
    )
    return 0


def _files_cell(files: object) -> str:
    names = list(files) if isinstance(files, list) else []
    if len(names) <= 2:
        return ", ".join(names) or "-"
    return f"{names[0]}, ... ({len(names)} files)"


def _show_job(journal: Journal, job_id: int, fmt: str, out: TextIO) -> int:
    job = journal.job(job_id)
    row = _job_row(job, journal)
    events = journal.events(job_id=job_id)
    if fmt == "json":
        row["file_details"] = [asdict(f) for f in journal.files(job_id)]
        row["events"] = [_event_row(e) for e in events]
        out.write(json.dumps(row, ensure_ascii=False, indent=2) + "\n")
        return 0
    for key in (
        "id",
        "state",
        "hotfolder",
        "kind",
        "entry",
        "technician",
        "created_at",
        "updated_at",
        "rule",
        "reason",
    ):
        if row[key] is not None:
            out.write(f"{key:11} {row[key]}\n")
    out.write("files:\n")
    for f in journal.files(job_id):
        out.write(
            f"  {f.seq:>3}  {f.name}  {f.size} bytes  -> {f.output or '-'}  "
            f"cups {f.cups_queue or '-'}#{f.cups_job_id or '-'} {f.cups_state or ''}\n"
        )
    out.write("events:\n")
    for e in events:
        out.write(f"  {e.seq:>5}  {e.ts}  {e.kind:18} {_event_summary(e)}\n")
    return 0


def _event_row(e: Event) -> dict[str, object]:
    return {
        "seq": e.seq,
        "ts": e.ts,
        "job_id": e.job_id,
        "kind": e.kind,
        "data": dict(e.data),
        "detail": e.detail,
        "hash": e.hash,
    }


def _event_summary(e: Event) -> str:
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
    journal = _journal(_config(args))
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
            return 10
        events = journal.events(job_id=args.job, after=args.after, limit=args.limit)
    finally:
        journal.close()
    if args.format == "json":
        for e in events:
            out.write(json.dumps(_event_row(e), ensure_ascii=False) + "\n")
    elif args.format == "csv":
        writer = csv.writer(out)
        writer.writerow(["seq", "ts", "job_id", "kind", "data", "detail"])
        for e in events:
            writer.writerow(
                [
                    e.seq,
                    e.ts,
                    e.job_id or "",
                    e.kind,
                    json.dumps(dict(e.data), sort_keys=True),
                    e.detail or "",
                ]
            )
    else:
        _table(
            out,
            ["SEQ", "TIME", "JOB", "EVENT", "DETAILS"],
            [[str(e.seq), e.ts, str(e.job_id or "-"), e.kind, _event_summary(e)] for e in events],
        )
    return 0


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    """Jobs per state and the hot folders, from the journal."""
    config = _config(args)
    journal = _journal(config)
    try:
        counts = journal.counts()
        attention = journal.jobs([JobState.HELD, JobState.UNCERTAIN])
    finally:
        journal.close()
    out.write(f"journal {config.journal_path}\n")
    for hf in config.hotfolders.values():
        out.write(f"hot folder {hf.name}: {hf.path}\n")
    out.write(
        "jobs: " + (", ".join(f"{s.value} {n}" for s, n in sorted(counts.items())) or "none") + "\n"
    )
    for job in attention:
        out.write(f"needs attention: job {job.id} {job.state.value} {job.rule}: {job.reason}\n")
    return 0


def _table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    for row in [header, *rows]:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    if not rows:
        out.write("(none)\n")


# -- parsing ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every labd command."""
    parser = argparse.ArgumentParser(
        prog="labd", description="Print-production daemon of a photo lab."
    )
    parser.add_argument("--version", action="version", version=f"labd {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="configuration file (default: $LABD_CONFIG or %(default)s)",
    )
    parser.add_argument(
        "--base",
        type=Path,
        default=None,
        help="move every path of the configuration under this folder "
        "(a local trial; `labd demo --dir` uses the same layout)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LABD_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="run the daemon in the foreground").set_defaults(func=cmd_run)
    sub.add_parser("check-config", help="validate the configuration and exit").set_defaults(
        func=cmd_check_config
    )

    demo = sub.add_parser("demo", help="run on an embedded CUPS with a virtual printer")
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("demo"),
        help="where hot folders, spool, journal and printer output go",
    )
    demo.set_defaults(func=cmd_demo)

    jobs = sub.add_parser("jobs", help="list jobs, or show one")
    jobs.add_argument("job", nargs="?", type=int, help="show this job in full")
    jobs.add_argument(
        "--state",
        action="append",
        choices=[s.value.lower() for s in JobState],
        help="only jobs in this state (repeatable)",
    )
    jobs.add_argument("--hotfolder", help="only jobs from this hot folder")
    jobs.add_argument("--limit", type=int, default=50)
    jobs.add_argument("--format", choices=["table", "json"], default="table")
    jobs.set_defaults(func=cmd_jobs)

    journal = sub.add_parser("journal", help="show the event log, or verify its hash chain")
    journal.add_argument("action", nargs="?", choices=["show", "verify"], default="show")
    journal.add_argument("--job", type=int, help="only events of this job")
    journal.add_argument("--after", type=int, default=0, help="only events after this number")
    journal.add_argument("--limit", type=int, default=None)
    journal.add_argument("--format", choices=["table", "json", "csv"], default="table")
    journal.set_defaults(func=cmd_journal)

    sub.add_parser("status", help="jobs per state, jobs needing attention").set_defaults(
        func=cmd_status
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``labd`` console script."""
    args = build_parser().parse_args(argv)
    configure_logging(level=args.log_level)
    out = out or sys.stdout
    try:
        return int(args.func(args, out))
    except LabdError as e:
        sys.stderr.write(f"labd: {e.get_message()}\n")
        log.debug("cli.failed", code=e.code, exit_code=e.exit_code)
        return e.exit_code
    except BrokenPipeError:
        return 0  # `labd journal | head`: the reader has what it wanted
    except KeyboardInterrupt:
        return 130
