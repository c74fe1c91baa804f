"""``labd jobs`` and ``labd status``: what the journal says about jobs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Final, TextIO, cast

from labd.cli.common import (
    Subparsers,
    add_node_option,
    config_of,
    hotfolders_filter,
    job_state,
    open_journal,
    select_node,
    write_table,
)
from labd.cli.journal import event_row, event_summary
from labd.clock import isoformat, readable
from labd.config import Config
from labd.errors import PrintError
from labd.intake.safety import check_folder
from labd.journal import Journal
from labd.journal.nodes import nodes
from labd.journal.summary import summarize
from labd.journal.view import (
    CLOSED_EVENT,
    LATE_FILES_ARRIVED_EVENT,
    LATE_FILES_EVENT,
    LOW_RESOLUTION_EVENT,
    REPLACES_EVENT,
    EventFilter,
    JournalView,
    Resolution,
    copies_of_outputs,
)
from labd.media.ledger import MediaLedger
from labd.media.model import MediaItem, MediaState
from labd.model import Event, Job, JobFile, JobState
from labd.printing import CupsClient
from labd.running import DaemonStatus, holder_of, last_run, read_status
from labd.waste.ledger import WasteLedger
from labd.waste.model import WasteEntry

_DETAIL_KEYS = (
    "id", "state", "hotfolder", "kind", "entry", "order", "technician", "created_at",
    "updated_at", "rule", "reason",
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
        "order": job.order_ref,
        "files": [f.name for f in journal.files(job.id)],
        "queue": outputs[0].cups_queue if outputs else None,
        "cups_job_ids": [o.cups_job_id for o in outputs if o.cups_job_id is not None],
        "technician": job.technician,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "rule": job.rule,
        "reason": job.reason,
        "node": job.node,
    }


def _files_cell(names: list[str]) -> str:
    if len(names) <= 2:
        return ", ".join(names) or "-"
    return f"{names[0]}, ... ({len(names)} files)"


def cmd_jobs(args: argparse.Namespace, out: TextIO) -> int:
    """List jobs, newest first, or show one job with its files and events."""
    config = config_of(args)
    with open_journal(config) as journal:
        if args.job is not None:
            _show_job(journal, config, args.job, args.format, out)
            return 0
        select_node(journal, args.node)
        shared = journal.store.shared
        hotfolders = hotfolders_filter(
            config, journal, hotfolder=args.hotfolder, printer=args.printer
        )
        jobs = journal.jobs(args.state, hotfolders=hotfolders, limit=args.limit)
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
            readable(str(r["created_at"]), config.timezone),
            readable(str(r["updated_at"]), config.timezone),
        ]
        + ([str(r["node"] or "-")] if shared else [])
        for r in rows
    ]
    header = ["ID", "STATE", "HOTFOLDER", "FILES", "QUEUE", "CUPS", "TECHNICIAN", "CREATED",
              "UPDATED"] + (["NODE"] if shared else [])  # fmt: skip
    write_table(out, header, cells)
    return 0


def _show_job(journal: Journal, config: Config, job_id: int, fmt: str, out: TextIO) -> None:
    job = journal.job(job_id)
    row = job_row(job, journal)
    linked = _linked(journal, config, job)
    events = linked.events
    if fmt == "json":
        row["file_details"] = [
            {**asdict(f), "copies": linked.copies[f.seq], "ticket_copies": f.copies}
            for f in journal.files(job_id)
        ]
        row.update(linked.as_row())
        row["links"] = [link for _, link in _intake_links(events, job_id)]
        row["outputs"] = [asdict(o) for o in journal.outputs(job_id)]
        row["events"] = [event_row(e) for e in events]
        resolution = journal.notes.resolution(job_id)
        row["resolution"] = None if resolution is None else _resolution_row(resolution)
        out.write(json.dumps(row, ensure_ascii=False, indent=2) + "\n")
        return
    for key in _DETAIL_KEYS:
        if row[key] is not None:
            value = readable(str(row[key]), config.timezone) if key.endswith("_at") else row[key]
            out.write(f"{key:11} {value}\n")
    out.writelines(linked.summary())
    out.writelines(_intake_link_lines(events, job_id, config))
    out.write("files:\n")
    resolution = journal.notes.resolution(job_id)
    for f in journal.files(job_id):
        out.write(
            f"  {f.seq:>3}  {f.name}  {f.size} bytes  {linked.copies_note(f)}"
            f"{_ppi_note(resolution, f.seq)}\n"
        )
    if resolution is not None and resolution.upscaled():
        out.write(f"{_resolution_line(resolution)}\n")
    out.write("outputs:\n")
    for o in journal.outputs(job_id):
        out.write(
            f"  {o.seq:>3}  {o.path}  from file {o.source_seq or '-'}  "
            f"CUPS {o.cups_queue}#{o.cups_job_id or '-'} {o.cups_state or ''}\n"
        )
    out.writelines(linked.sections())
    out.write("events:\n")
    for e in events:
        out.write(
            f"  {e.seq:>5}  {readable(e.ts, config.timezone)}  {e.kind:18} {event_summary(e)}\n"
        )


@dataclass(frozen=True)
class _Linked:
    """What belongs to a job besides its own files: copies, carriers, waste, reprints."""

    copies: dict[int, int | None]  # file seq -> copies (the ticket's, else the product's)
    total: int | None  # None: the product is no longer configured
    media: list[MediaItem]  # linked to the job or to its order
    waste: list[WasteEntry]
    reprint_of: int | None
    reprints: list[int]
    events: list[Event]  # the job's, its carriers' and its waste's, in order

    def copies_note(self, f: JobFile) -> str:
        n = self.copies[f.seq]
        if n is None:
            return "copies: the product's (not configured now)"
        return f"{n} {'copy' if n == 1 else 'copies'}" + (" (ticket)" if f.copies else "")

    def summary(self) -> list[str]:
        """Lines under the job's details: total copies and the jobs it is linked to."""
        lines = []
        if self.total is not None:
            lines.append(f"{'copies':11} {self.total} in total\n")
        if self.reprint_of is not None:
            lines.append(f"{'reprint of':11} job {self.reprint_of}\n")
        if self.reprints:
            lines.append(f"{'reprints':11} {', '.join(f'job {j}' for j in self.reprints)}\n")
        return lines

    def sections(self) -> list[str]:
        """The carriers of the job and its order, and its waste entries (when it has any)."""
        lines = []
        if self.media:
            lines.append("media:\n")
            lines.extend(
                f"  item {i.id}  {i.kind.value}  {i.state.value}  {i.disposition.value}  "
                f"{i.id_kind.value} {i.identifier or '-'}  order {', '.join(i.orders) or '-'}  "
                f"jobs {', '.join(map(str, i.jobs)) or '-'}\n"
                for i in self.media
            )
        if self.waste:
            lines.append("waste:\n")
            lines.extend(
                f"  entry {w.id}  {w.kind.value}  container {w.container}  outputs "
                f"{', '.join(map(str, w.outputs)) or '-'}  {w.sheets} sheets  {w.reason or '-'}"
                + (f"  reprint {w.reprint}" if w.reprint else "")
                + "\n"
                for w in self.waste
            )
        return lines

    def as_row(self) -> dict[str, object]:
        return {
            "copies_total": self.total,
            "media": [i.as_row() for i in self.media],
            "waste": [w.as_row() for w in self.waste],
            "reprint_of": self.reprint_of,
            "reprints": self.reprints,
        }


def _linked(journal: Journal, config: Config, job: Job) -> _Linked:
    hf = config.hotfolders.get(job.hotfolder)
    product = config.products.get(hf.product) if hf is not None else None
    default = product.copies if product is not None else None
    files, outputs = journal.files(job.id), journal.outputs(job.id)
    copies = {f.seq: f.copies if f.copies is not None else default for f in files}
    # What prints: each output as often as its file (a photobook's one PDF: the product's).
    printed = list(
        copies_of_outputs(files, outputs, default).values() if outputs else copies.values()
    )
    total = None if None in printed else sum(n for n in printed if n is not None)
    media_ledger = MediaLedger(journal, config.media)
    media = media_ledger.of_job(job)
    waste = WasteLedger(journal, config.waste, media_ledger).entries(job=job.id)
    events = journal.find_events(EventFilter(job=job.id, media_items=tuple(i.id for i in media)))
    reprint_of = next(
        (
            int(str(e.data["original"]))
            for e in events
            if e.kind == "job.reprint" and e.job_id == job.id
        ),
        None,
    )
    reprints = [
        int(str(e.data["reprint"]))
        for e in events
        if e.kind == "job.reprinted" and e.job_id == job.id
    ]
    return _Linked(copies, total, media, waste, reprint_of, reprints, events)


# The jobs intake links a job to: the job's event (and the data field naming the other job)
# -> the relation, as JSON names it and as a line of `labd jobs N` says it.
_INTAKE_LINKS: Final = {
    CLOSED_EVENT: ("replaced_by", "replaced_by", "closed", "replaced by job {job}"),
    REPLACES_EVENT: ("closed", "replaces", "replaces", "quarantined job {job}, closed by this one"),
    LATE_FILES_EVENT: (
        "first_job", "late_files_of", "late files", "of the order taken as job {job}"
    ),
    LATE_FILES_ARRIVED_EVENT: (
        "late_job", "late_files", "late files", "of this order came later as job {job}"
    ),
}  # fmt: skip


def _intake_links(events: list[Event], job_id: int) -> list[tuple[Event, dict[str, object]]]:
    """How intake linked this job to others (its fixed files, the rest of its order): each
    link's event, and the link as JSON shows it."""
    links = []
    for e in events:
        if e.job_id != job_id or e.kind not in _INTAKE_LINKS:
            continue
        field, relation, _, _ = _INTAKE_LINKS[e.kind]
        link: dict[str, object] = {"relation": relation, "job": e.data.get(field), "at": e.ts}
        if e.kind == CLOSED_EVENT:
            link.update(by=e.data.get("by"), reason=e.detail)
        if e.kind == LATE_FILES_EVENT:
            link["repeated"] = e.data.get("repeated", 0)
        links.append((e, link))
    return links


def _intake_link_lines(events: list[Event], job_id: int, config: Config) -> list[str]:
    """The links of :func:`_intake_links`, one line each, under the job's details."""
    lines = []
    for e, link in _intake_links(events, job_id):
        _, _, label, text = _INTAKE_LINKS[e.kind]
        line = f"{label:11} {text.format(job=link['job'])}"
        if e.kind == CLOSED_EVENT:
            how = line if link["job"] is not None else f"{label:11} by hand"
            why = f": {link['reason']}" if link["reason"] else ""
            line = f"{how}, by {link['by']} at {readable(e.ts, config.timezone)}{why}"
        elif link.get("repeated"):
            line += f"; {link['repeated']} of its file names were in that order already"
        lines.append(line + "\n")
    return lines


# How far back `labd status` lists jobs with photos below their product's min_ppi.
LOW_RESOLUTION_HOURS: Final = 24


def _low_resolution_warnings(journal: JournalView) -> list[str]:
    """Lines on the jobs of the last day with photos below the minimum resolution.

    A job held for it is listed among those needing attention already, so not here.
    """
    since = isoformat(journal.clock.now() - timedelta(hours=LOW_RESOLUTION_HOURS))
    events = journal.find_events(EventFilter(kinds=(LOW_RESOLUTION_EVENT,), since=since))
    states = journal.states(e.job_id for e in events if e.job_id is not None)
    lines = []
    for e in events:
        state = states.get(e.job_id) if e.job_id is not None else None
        if state is None or state is JobState.HELD:
            continue
        # The detail names the files; once erased, the numbers are what is left.
        what = e.detail or (
            f"files {e.data.get('files')} at {e.data.get('ppi')} ppi, "
            f"below the {e.data.get('min_ppi')} ppi minimum"
        )
        lines.append(
            f"low resolution (last {LOW_RESOLUTION_HOURS} h): job {e.job_id} {state.value}: "
            f"{what}\n"
        )
    return lines


def _ppi_note(resolution: Resolution | None, seq: int) -> str:
    """A file's effective resolution, and whether it was scaled up or is below the minimum."""
    ppi = None if resolution is None else resolution.ppi.get(seq)
    if resolution is None or ppi is None:
        return ""
    note = f"  {ppi} ppi"
    if ppi < resolution.dpi:
        note += f", UPSCALED to {resolution.dpi} dpi"
    if ppi < resolution.min_ppi:
        note += f", LOW: below the {resolution.min_ppi} ppi minimum"
    return note


def _resolution_line(resolution: Resolution) -> str:
    """One line on the files scaled up (and those below the minimum) of a job."""
    upscaled, low, total = resolution.upscaled(), resolution.low(), len(resolution.ppi)
    line = f"resolution  {len(upscaled)} of {total} files upscaled to {resolution.dpi} dpi"
    if low:
        line += f", {len(low)} below the {resolution.min_ppi} ppi minimum"
    return line


def _resolution_row(resolution: Resolution) -> dict[str, object]:
    return {
        "dpi": resolution.dpi,
        "min_ppi": resolution.min_ppi,
        "ppi": {str(seq): ppi for seq, ppi in resolution.ppi.items()},
        "upscaled": resolution.upscaled(),
        "low": resolution.low(),
    }


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    """Whether labd runs, its printers, jobs per state and the hot folders."""
    config = config_of(args)
    daemon = _daemon_status(config, out)
    _printer_status(config, daemon.cups_server if daemon else config.cups_server, out)
    if not config.journal_exists and daemon is None:
        out.write(f"journal {config.journal_path}: none yet (labd has not run here)\n")
        return 0
    with open_journal(config) as journal:
        select_node(journal, args.node)
        summary = summarize(journal)
        media = MediaLedger(journal, config.media)
        overdue_media = media.overdue()
        unlinked = media.items(states=[MediaState.UNLINKED])
        overdue_containers = WasteLedger(journal, config.waste, media).overdue()
        low_resolution = _low_resolution_warnings(journal)
        where = journal.name
        peers = nodes(journal.store, down_seconds=config.journal.node_down_seconds)
    out.write(f"journal {where}\n")
    if config.journal.postgres is not None:
        out.write(f"node {config.journal.node}; nodes: {len(peers)}\n")
    for node in peers:
        if node.down:
            out.write(
                f"node down: {node.name} silent for {int(node.silent_seconds)} s (last seen "
                f"{readable(node.last_seen, config.timezone)}); its jobs wait for it: "
                f"start labd there (labd nodes)\n"
            )
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
        out.write(f"needs attention: job {job.id} {job.state.value} {job.rule}: {job.reason}")
        if job.state is JobState.QUARANTINED:
            out.write(
                f" (drop the fixed files in again under the same name, or: labd close {job.id} "
                '--reason "...")'
            )
        out.write("\n")
    out.writelines(low_resolution)
    for item in overdue_media:
        ready = readable(item.ready_at, config.timezone)
        out.write(
            f"media overdue: item {item.id} ({item.kind.value}, {item.disposition.value}) "
            f"ready since {ready}, jobs {', '.join(map(str, item.jobs)) or '-'}\n"
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
        started = readable(last.since, config.timezone) if last is not None else "-"
        if last is None:
            out.write(f"labd: NOT RUNNING (it has never run on {config.state_dir})\n")
        elif status is not None:
            # A clean stop removes the status file: this one was killed or crashed.
            out.write(
                f"labd: NOT RUNNING; the last one (PID {last.pid}, started {started}) "
                "did not stop cleanly (killed, or crashed): start it again "
                "(systemctl start labd); it finishes what was cut short\n"
            )
        else:
            out.write(f"labd: NOT RUNNING (last run: PID {last.pid}, started {started})\n")
        return None
    since = readable(holder.since, config.timezone) if holder.since else "unknown"
    out.write(f"labd: running, PID {holder.pid}, since {since}\n")
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
        type=job_state,
        metavar="STATE",
        help="only jobs in this state, in any case (repeatable): "
        + ", ".join(s.value for s in JobState),
    )
    jobs.add_argument("--hotfolder", help="only jobs from this hot folder")
    jobs.add_argument("--printer", help="only jobs of the hot folders printing on this printer")
    add_node_option(jobs)
    jobs.add_argument("--limit", type=int, default=50)
    jobs.add_argument("--format", choices=["table", "json"], default="table")
    jobs.set_defaults(func=cmd_jobs)
    status = sub.add_parser(
        "status", help="is labd running; printers; jobs per state, jobs needing attention"
    )
    add_node_option(status)
    status.set_defaults(func=cmd_status)
