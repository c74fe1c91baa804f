"""``labd jobs`` and ``labd status``: what the journal says about jobs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TextIO, cast

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.cli.journal import event_row, event_summary
from labd.intake.safety import check_folder
from labd.journal import Journal
from labd.media import MediaLedger, MediaState
from labd.model import Job, JobState
from labd.waste import WasteLedger

_DETAIL_KEYS = (
    "id", "state", "hotfolder", "kind", "entry", "technician", "created_at", "updated_at",
    "rule", "reason",
)  # fmt: skip


def job_row(job: Job, journal: Journal) -> dict[str, object]:
    """A job with its files and CUPS jobs, as JSON-ready data."""
    outputs = journal.outputs(job.id)
    return {
        "id": job.id,
        "state": job.state.value,
        "hotfolder": job.hotfolder,
        "kind": job.kind.value,
        "entry": job.entry,
        "files": [f.name for f in journal.files(job.id)],
        "queue": outputs[0].cups_queue if outputs else None,
        "cups_job_ids": [o.cups_job_id for o in outputs if o.cups_job_id is not None],
        "technician": job.technician,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "rule": job.rule,
        "reason": job.reason,
    }


def _files_cell(names: list[str]) -> str:
    if len(names) <= 2:
        return ", ".join(names) or "-"
    return f"{names[0]}, ... ({len(names)} files)"


def cmd_jobs(args: argparse.Namespace, out: TextIO) -> int:
    """List jobs, newest first, or show one job with its files and events."""
    with open_journal(config_of(args)) as journal:
        if args.job is not None:
            _show_job(journal, args.job, args.format, out)
            return 0
        states = [JobState(s.upper()) for s in args.state] if args.state else None
        jobs = journal.jobs(states, hotfolder=args.hotfolder, limit=args.limit)
        rows = [job_row(j, journal) for j in jobs]
    if args.format == "json":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    # The table shows the same rows: the journal is read once per job.
    cells = [
        [
            str(r["id"]),
            str(r["state"]),
            str(r["hotfolder"]),
            _files_cell(cast("list[str]", r["files"])),
            str(r["queue"] or "-"),
            ",".join(map(str, cast("list[int]", r["cups_job_ids"]))) or "-",
            str(r["technician"]),
            str(r["created_at"]),
            str(r["updated_at"]),
        ]
        for r in rows
    ]
    header = ["ID", "STATE", "HOTFOLDER", "FILES", "QUEUE", "CUPS", "TECHNICIAN", "CREATED",
              "UPDATED"]  # fmt: skip
    write_table(out, header, cells)
    return 0


def _show_job(journal: Journal, job_id: int, fmt: str, out: TextIO) -> None:
    job = journal.job(job_id)
    row = job_row(job, journal)
    events = journal.events(job_id=job_id)
    if fmt == "json":
        row["file_details"] = [asdict(f) for f in journal.files(job_id)]
        row["outputs"] = [asdict(o) for o in journal.outputs(job_id)]
        row["events"] = [event_row(e) for e in events]
        out.write(json.dumps(row, ensure_ascii=False, indent=2) + "\n")
        return
    for key in _DETAIL_KEYS:
        if row[key] is not None:
            out.write(f"{key:11} {row[key]}\n")
    out.write("files:\n")
    for f in journal.files(job_id):
        out.write(f"  {f.seq:>3}  {f.name}  {f.size} bytes\n")
    out.write("outputs:\n")
    for o in journal.outputs(job_id):
        out.write(
            f"  {o.seq:>3}  {o.path}  from file {o.source_seq or '-'}  "
            f"CUPS {o.cups_queue}#{o.cups_job_id or '-'} {o.cups_state or ''}\n"
        )
    out.write("events:\n")
    for e in events:
        out.write(f"  {e.seq:>5}  {e.ts}  {e.kind:18} {event_summary(e)}\n")


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    """Jobs per state and the hot folders, from the journal."""
    config = config_of(args)
    with open_journal(config) as journal:
        counts = journal.counts()
        attention = journal.jobs([JobState.HELD, JobState.UNCERTAIN])
        media = MediaLedger(journal, config.media)
        overdue_media = media.overdue()
        unlinked = media.items(states=[MediaState.UNLINKED])
        overdue_containers = WasteLedger(journal, config.waste, media).overdue()
    out.write(f"journal {config.journal_path}\n")
    for hf in config.hotfolders.values():
        check = check_folder(hf)
        how = (
            f"REFUSED: {check.problem}"
            if check.problem
            else f"{check.watch.value} on {check.filesystem}"
        )
        out.write(f"hot folder {hf.name}: {hf.path} ({how})\n")
    summary = ", ".join(f"{s.value} {n}" for s, n in sorted(counts.items())) or "none"
    out.write(f"jobs: {summary}\n")
    for job in attention:
        out.write(f"needs attention: job {job.id} {job.state.value} {job.rule}: {job.reason}\n")
    for item in overdue_media:
        out.write(
            f"media overdue: item {item.id} ({item.kind.value}, {item.disposition.value}) "
            f"ready since {item.ready_at}, jobs {', '.join(map(str, item.jobs)) or '-'}\n"
        )
    for item in unlinked:
        out.write(f"media unlinked: item {item.id} ({item.kind.value}) plugged in, no order\n")
    for container in overdue_containers:
        out.write(
            f"waste overdue: container {container.id} collected {container.collected_on}, "
            "no certificate of destruction yet\n"
        )
    return 0


def register(sub: Subparsers) -> None:
    """Add ``jobs`` and ``status``."""
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
    sub.add_parser("status", help="jobs per state, jobs needing attention").set_defaults(
        func=cmd_status
    )
