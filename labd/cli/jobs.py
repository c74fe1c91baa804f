"""``labd jobs`` and ``labd status``: what the journal says about jobs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TextIO, cast

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.cli.journal import event_row, event_summary
from labd.config import Config
from labd.errors import PrintError
from labd.intake.safety import check_folder
from labd.journal import Journal
from labd.journal.summary import summarize
from labd.media.ledger import MediaLedger
from labd.media.model import MediaState
from labd.model import Job, JobState
from labd.printing import CupsClient
from labd.running import DaemonStatus, holder_of, last_run, read_status
from labd.waste.ledger import WasteLedger

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
    """Whether labd runs, its printers, jobs per state and the hot folders."""
    config = config_of(args)
    daemon = _daemon_status(config, out)
    _printer_status(config, daemon.cups_server if daemon else config.cups_server, out)
    if not config.journal_path.exists() and daemon is None:
        out.write(f"journal {config.journal_path}: none yet (labd has not run here)\n")
        return 0
    with open_journal(config) as journal:
        summary = summarize(journal)
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
    out.write(f"jobs: {summary.per_state()}\n")
    for job in summary.attention:
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


def _daemon_status(config: Config, out: TextIO) -> DaemonStatus | None:
    """Say whether a daemon runs on this state directory; its status if it does."""
    holder = holder_of(config.state_dir)
    status = read_status(config.state_dir)
    if holder is None:
        last = last_run(config.state_dir)
        if last is None:
            out.write(f"labd: NOT RUNNING (it has never run on {config.state_dir})\n")
        elif status is not None:
            # A clean stop removes the status file: this one was killed or crashed.
            out.write(
                f"labd: NOT RUNNING; the last one (PID {last.pid}, started {last.since}) "
                "did not stop cleanly (killed, or crashed): start it again "
                "(systemctl start labd); it finishes what was cut short\n"
            )
        else:
            out.write(f"labd: NOT RUNNING (last run: PID {last.pid}, started {last.since})\n")
        return None
    out.write(f"labd: running, PID {holder.pid}, since {holder.since or 'unknown'}\n")
    if status is None or status.pid != holder.pid:
        out.write("  (it has not said how it is yet: starting)\n")
        return None
    ages = status.beat_ages()
    beats = ", ".join(
        f"{loop} {age:.1f} s ago" + (" STALLED" if age >= config.stall_seconds else "")
        for loop, age in sorted(ages.items())
    )
    out.write(f"  loops' last heartbeat: {beats}\n")
    if any(age >= config.stall_seconds for age in ages.values()):
        out.write(
            f"  a loop has not moved for stall_seconds ({config.stall_seconds:g} s): systemd's "
            "watchdog restarts labd; the log says what it was doing (daemon.stalled)\n"
        )
    if status.held:
        out.write(f"  NOT TAKING JOBS: {status.held}\n")
    if status.set_aside:
        out.write(
            f"  {status.set_aside} hot-folder entries set aside after an error "
            "(the log: intake.entry_set_aside); copy them again to retry\n"
        )
    return status


def _printer_status(config: Config, server: str | None, out: TextIO) -> None:
    """Each configured queue's state and reasons, and labd's jobs waiting in CUPS."""
    cups = CupsClient(server)
    try:
        waiting = [j for j in cups.unfinished() if j.name.startswith("labd-")]
        for name, printer in sorted(config.printers.items()):
            info = cups.queue_info(printer.queue)
            if info is None:
                out.write(f"printer {name}: NO CUPS QUEUE {printer.queue!r} at {cups.where}\n")
                continue
            state = info.state.upper() if info.stopped else info.state
            accepting = "accepting jobs" if info.accepting else "NOT ACCEPTING JOBS"
            detail = "; ".join(x for x in (info.message, ", ".join(info.reasons)) if x)
            mine = sum(1 for j in waiting if j.queue in ("", printer.queue))
            out.write(
                f"printer {name}: queue {printer.queue}: {state}, {accepting}"
                + (f" ({detail})" if detail else "")
                + f", {mine} of labd's jobs waiting\n"
            )
    except PrintError as e:
        out.write(f"printers: CUPS at {cups.where} cannot be asked: {e.problem}\n")


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
    sub.add_parser(
        "status", help="is labd running; printers; jobs per state, jobs needing attention"
    ).set_defaults(func=cmd_status)
