"""What is true of the lab now that a person should hear of: the conditions alerts come from.

Each pass of the alerts loop asks :class:`Conditions` for the whole set, derived afresh
from the journal (held, uncertain and quarantined jobs, possible duplicates, unfinished
purges, the daemon's starts and stops), the media and waste ledgers (overdue carriers and
certificates) and what only the running daemon knows (loop heartbeats, intake held).
Nothing here remembers what was sent: :mod:`labd.alerts.service` compares the set with
the open alerts, so a condition is raised once when it appears and resolved once when it
is gone, across restarts too.

The hints are those of ``labd status`` and the README's troubleshooting table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from labd.alerts.model import AlertKind, Condition
from labd.clock import Clock, parse_timestamp, readable
from labd.config import Config
from labd.journal import ChainCheck, EventFilter, Journal
from labd.media.ledger import MediaLedger
from labd.model import Job, JobState
from labd.privacy.purge import Purger
from labd.waste.ledger import WasteLedger

__all__ = ["Conditions", "DaemonState", "held_hint"]

STOPPED_RULE: Final = "print.printer_stopped"
# Job ids named in one alert; the rest are counted ("and 480 more").
IDS_SHOWN: Final = 20
_HELD_HINTS: Final = {
    "print.unavailable": (
        "CUPS was unreachable or the queue rejects jobs: labd retries by itself (5 s, "
        "doubling, at most 5 min). Check the queue with `lpstat -p {queue}` and `cupsaccept "
        "{queue}`."
    ),
    "print.aborted": (
        "The printer stopped the CUPS job; `labd jobs {job}` shows CUPS' message. labd does "
        "not resubmit it by itself: `labd retry {job}` or `labd cancel {job}`."
    ),
    "print.canceled": (
        "Someone cancelled the CUPS job; `labd jobs {job}` shows it. `labd retry {job}` or "
        "`labd cancel {job}`."
    ),
    "input.low_resolution": (
        "Photos below the product's min_ppi: `labd retry {job}` prints them as they are, "
        "`labd cancel {job}` does not."
    ),
    "internal.error": (
        "labd failed on this job for a reason nobody foresaw; the log has the traceback "
        "(journalctl -u labd, job {job}). Once the cause is fixed `labd retry {job}`, or "
        "`labd cancel {job}`."
    ),
}


def held_hint(rule: str | None, job: int, queue: str) -> str:
    """What a technician does about a job held with ``rule`` (README, Troubleshooting)."""
    text = _HELD_HINTS.get(
        rule or "", "`labd jobs {job}` says why; `labd retry {job}` or `labd cancel {job}`."
    )
    return text.format(job=job, queue=queue)


@dataclass(frozen=True)
class DaemonState:
    """What only the running daemon knows; a command has no loops and holds no intake."""

    beat_ages: Callable[[], Mapping[str, float]] = dict  # loop -> seconds since its beat
    intake_held: Callable[[], str | None] = lambda: None  # why no job is taken now
    chain: Callable[[], ChainCheck | None] = lambda: None  # the last verification


@dataclass
class _Held:
    printer: str
    queue: str
    jobs: list[Job] = field(default_factory=list)


class Conditions:
    """Every condition true now; see the module's docstring."""

    def __init__(self, journal: Journal, clock: Clock, daemon: DaemonState | None = None) -> None:
        self.journal = journal
        self.clock = clock
        self.daemon = daemon or DaemonState()

    def now(self, config: Config) -> list[Condition]:
        """The conditions of the lab as it stands, ``config`` being the one in force."""
        found: list[Condition] = []
        for source in (
            self._held,
            self._uncertain,
            self._duplicates,
            self._quarantined,
            self._daemon,
            self._ledgers,
            self._purges,
        ):
            found.extend(source(config))
        return found

    # -- jobs ---------------------------------------------------------------------------------

    def _held(self, config: Config) -> Iterator[Condition]:
        limit = timedelta(minutes=config.alerts.held_minutes)
        now = self.clock.now()
        stopped: dict[str, _Held] = {}
        for job in self.journal.jobs([JobState.HELD]):
            if now - parse_timestamp(job.updated_at) < limit:
                continue
            printer, queue = self._printer_of(config, job)
            if job.rule == STOPPED_RULE:
                stopped.setdefault(printer, _Held(printer, queue)).jobs.append(job)
                continue
            since = readable(job.updated_at, config.timezone)
            yield Condition(
                key=f"job_held:{job.id}",
                kind=AlertKind.JOB_HELD,
                subject=f"job {job.id} held ({job.rule}) on printer {printer}",
                what=f"Job {job.id} from hot folder {job.hotfolder} has been held since "
                f"{since} with rule {job.rule}.",
                todo=held_hint(job.rule, job.id, queue),
                personal=_personal([job]),
            )
        for held in stopped.values():
            jobs = sorted(held.jobs, key=lambda j: j.id)
            since = readable(min(j.updated_at for j in jobs), config.timezone)
            yield Condition(
                key=f"printer_stopped:{held.printer}",
                kind=AlertKind.PRINTER_STOPPED,
                subject=f"printer {held.printer} stopped, {_count(jobs, 'job')} waiting",
                what=f"Printer {held.printer} (CUPS queue {held.queue}) is stopped: "
                f"{_ids(jobs)} wait for it, the first since {since} "
                f"(longer than {config.alerts.held_minutes:g} min).",
                todo=f"Fix the printer (paper, ink, a jam; `lpstat -p {held.queue}` says why) "
                f"and enable its queue: `cupsenable {held.queue}`. The jobs resume by "
                "themselves.",
                personal=_personal(jobs),
            )

    @staticmethod
    def _printer_of(config: Config, job: Job) -> tuple[str, str]:
        hotfolder = config.hotfolders.get(job.hotfolder)
        printer = config.printers.get(hotfolder.printer) if hotfolder is not None else None
        if hotfolder is None or printer is None:
            return f"of hot folder {job.hotfolder}", "?"
        return printer.name, printer.queue

    def _uncertain(self, config: Config) -> Iterator[Condition]:
        for job in self.journal.jobs([JobState.UNCERTAIN]):
            printer, _ = self._printer_of(config, job)
            yield Condition(
                key=f"job_uncertain:{job.id}",
                kind=AlertKind.JOB_UNCERTAIN,
                subject=f"job {job.id} UNCERTAIN: did it print on {printer}?",
                what=f"After a restart CUPS' history cannot prove whether job {job.id} "
                f"(hot folder {job.hotfolder}, printer {printer}) printed ({job.rule}). "
                "Nothing of it prints until a supervisor decides.",
                todo=f"Look at the printer's output, then `labd resolve {job.id} printed` or "
                f"`labd resolve {job.id} reprint`.",
                personal=_personal([job]),
            )

    def _duplicates(self, config: Config) -> Iterator[Condition]:
        for dup in WasteLedger(self.journal, config.waste).possible_duplicates():
            yield Condition(
                key=f"possible_duplicate:{dup.event}",
                kind=AlertKind.POSSIBLE_DUPLICATE,
                subject=f"job {dup.job_id} may have printed twice (event {dup.event})",
                what=f"Output {dup.output} of job {dup.job_id} may have come out twice: "
                f"{dup.why} (journal event {dup.event}).",
                todo="Check the printer for an extra print, then `labd waste duplicates "
                f"confirm {dup.event} --container W-…` puts it into secure waste, or `labd "
                f'waste duplicates dismiss {dup.event} --reason "…"` if none came out.',
            )

    def _quarantined(self, config: Config) -> Iterator[Condition]:
        by_folder: dict[str, list[Job]] = {}
        for job in self.journal.open_quarantined():
            by_folder.setdefault(job.hotfolder, []).append(job)
        for hotfolder, jobs in sorted(by_folder.items()):
            jobs.sort(key=lambda j: j.id)
            rules = Counter(j.rule or "unknown" for j in jobs)
            why = ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items()))
            folder = config.quarantine_dir / hotfolder
            yield Condition(
                key=f"quarantined:{hotfolder}",
                kind=AlertKind.QUARANTINED,
                subject=f"hot folder {hotfolder}: {_count(jobs, 'job')} quarantined",
                what=f"Input dropped into hot folder {hotfolder} was refused and waits in the "
                f"quarantine: {_ids(jobs)} ({why}). Nothing of it was printed.",
                todo=f"Read the reason files in {folder} (<job>-<name>.reason.txt); drop the "
                "fixed files in again under the same name, or close a job with `labd close "
                'JOB --reason "…"`.',
                personal=_personal(jobs),
            )

    # -- the daemon ---------------------------------------------------------------------------

    def _daemon(self, config: Config) -> Iterator[Condition]:
        stall = config.stall_seconds
        for loop, age in sorted(self.daemon.beat_ages().items()):
            if age >= stall:
                yield Condition(
                    key=f"loop_stalled:{loop}",
                    kind=AlertKind.LOOP_STALLED,
                    subject=f"the {loop} loop has stalled",
                    what=f"labd's {loop} loop has made no progress for {age:.0f} s (stall_seconds "
                    f"{stall:g}): systemd's watchdog restarts labd.",
                    todo="If it repeats, the log says what the loop was doing (daemon.stalled, "
                    "journalctl -u labd); a file that hangs its conversion: `labd cancel JOB`.",
                )
        held = self.daemon.intake_held()
        if held is not None:
            yield Condition(
                key="intake_held",
                kind=AlertKind.INTAKE_HELD,
                subject="NOT TAKING JOBS",
                what=f"labd takes no new jobs: {held}. What it has stays where it is.",
                todo="Free space on the disk, fix the spool's permissions (`labd doctor`), or "
                "stop the program holding the journal (a sqlite3 shell left open); labd "
                "resumes by itself.",
            )
        check = self.daemon.chain()
        if check is not None and check.first_bad is not None:
            yield Condition(
                key="journal_broken",
                kind=AlertKind.JOURNAL_BROKEN,
                subject="the journal's hash chain does not verify",
                what=f"`labd journal verify` fails at event {check.first_bad}: {check.problem}. "
                f"{check.events} events verify before it.",
                todo="Keep the journal file for the record; compare with the head the daily "
                "digest mailed (`labd journal verify --head SEQ:HASH`) and restore the last "
                "backup (README, Troubleshooting).",
            )
        yield from self._restarted()

    def _restarted(self) -> Iterator[Condition]:
        """labd's last start followed a run that did not stop cleanly (killed, the watchdog)."""
        kinds = ("daemon.started", "daemon.stopped")
        last = self.journal.find_events(EventFilter(kinds=kinds, limit=2))
        if len(last) < 2 or last[-1].kind != "daemon.started":
            return
        before, start = last
        if before.kind == "daemon.stopped" and before.data.get("clean") is True:
            return
        how = (
            "stopped after an error in one of its loops"
            if before.kind == "daemon.stopped"
            else "was killed, crashed or was restarted by the watchdog"
        )
        yield Condition(
            key=f"daemon_restarted:{start.seq}",
            kind=AlertKind.DAEMON_RESTARTED,
            subject="labd restarted after an unclean stop",
            what=f"labd started again (journal event {start.seq}); the run before {how}. It "
            "has finished what was cut short.",
            todo="Look at the log of the run before (journalctl -u labd: daemon.stalled, "
            "daemon.loop_crashed); `labd status` says whether anything needs a decision.",
            notice=True,
        )

    # -- the ledgers and retention ------------------------------------------------------------

    def _ledgers(self, config: Config) -> Iterator[Condition]:
        media = MediaLedger(self.journal, config.media)
        for item in media.overdue(self.clock.now()):
            act = (
                f"labd media return {item.id}"
                if item.disposition.value == "return"
                else f"labd media destroy {item.id} --container W-…"
            )
            jobs = ", ".join(map(str, item.jobs)) or "none"
            yield Condition(
                key=f"media_overdue:{item.id}",
                kind=AlertKind.MEDIA_OVERDUE,
                subject=f"customer medium {item.id} overdue",
                what=f"Customer medium {item.id} ({item.kind.value}, to "
                f"{item.disposition.value}) has been ready since "
                f"{readable(item.ready_at, config.timezone)}, longer than "
                f"{config.media.overdue_days} days (jobs {jobs}).",
                todo=f"Give it back or destroy it as its disposition says: `{act}`.",
                personal=", ".join(f"order {o}" for o in item.orders),
            )
        for container in WasteLedger(self.journal, config.waste, media).overdue():
            yield Condition(
                key=f"waste_certificate_overdue:{container.id}",
                kind=AlertKind.WASTE_CERTIFICATE_OVERDUE,
                subject=f"waste container {container.id}: no certificate of destruction",
                what=f"Secure-waste container {container.id} was collected on "
                f"{container.collected_on} by {container.company}; no certificate of "
                f"destruction after {config.waste.certificate_overdue_days} days.",
                todo="Ask the disposal company for it, then `labd waste container certify "
                f"{container.id} --certificate C-…`.",
            )

    def _purges(self, config: Config) -> Iterator[Condition]:
        """Purges begun (retention or erasure) and not finished for longer than held_minutes."""
        limit = timedelta(minutes=config.alerts.held_minutes)
        now = self.clock.now()
        for job_id, cause in Purger(self.journal, config).unfinished():
            begun = self.journal.find_events(
                EventFilter(job=job_id, kinds=("retention.purge_started",), limit=1)
            )
            if begun and now - parse_timestamp(begun[0].ts) < limit:
                continue
            yield Condition(
                key=f"retention_failed:{job_id}",
                kind=AlertKind.RETENTION_FAILED,
                subject=f"job {job_id}: deletion ({cause}) not finished",
                what=f"The deletion of job {job_id}'s files and personal data ({cause}) began "
                "and has not finished: labd tries again at every retention run.",
                todo="The log says why (retention.failed, journalctl -u labd): often CUPS "
                "unreachable, or a file labd may not delete. Once fixed it finishes by itself "
                "(or `labd retention run`).",
            )


def _count(jobs: Sequence[Job], what: str) -> str:
    return f"1 {what}" if len(jobs) == 1 else f"{len(jobs)} {what}s"


def _ids(jobs: Sequence[Job]) -> str:
    """``job 12`` or ``jobs 12, 13 and 480 more``."""
    ids = [str(j.id) for j in jobs]
    if len(ids) == 1:
        return f"job {ids[0]}"
    shown = ", ".join(ids[:IDS_SHOWN])
    more = f" and {len(ids) - IDS_SHOWN} more" if len(ids) > IDS_SHOWN else ""
    return f"jobs {shown}{more}"


def _personal(jobs: Sequence[Job]) -> str:
    """What may name a customer: entries, order references, reasons (they quote files)."""
    lines = []
    for job in jobs[:IDS_SHOWN]:
        parts = [f"entry {job.entry!r}"]
        if job.order_ref:
            parts.append(f"order {job.order_ref}")
        if job.reason:
            parts.append(f"reason: {job.reason}")
        lines.append(f"job {job.id}: " + ", ".join(parts))
    return "\n".join(lines)
