"""The console's pages and actions: the board, the printers, a job, the journal, accounts.

Each handler reads through the journal's own view (:class:`labd.journal.JournalView`, the
summary the status line uses) and acts through :mod:`labd.printing.actions`, exactly as
the command line does; none has SQL of its own.  A refusal (a job in the wrong state, no
such job, a bad form value) is a :class:`~labd.errors.LabdError` that the guard in
:mod:`labd.web.app` turns into an error page: nothing was changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

import structlog
from starlette.responses import RedirectResponse, Response

from labd.cli.common import hotfolders_filter
from labd.cli.journal import event_summary
from labd.errors import JobNotFound, LabdError, PrintError
from labd.journal.summary import IN_PROGRESS_STATES, summarize
from labd.journal.view import EventFilter, JournalView, copies_of_outputs
from labd.media.ledger import MediaLedger
from labd.model import Job, JobOutput, JobState
from labd.printing.actions import cancel_job, close_job, reprint_job, resolve_job, retry_job
from labd.printing.supplies import Supply
from labd.web.accounts import Role
from labd.web.i18n import _

if TYPE_CHECKING:
    from labd.web.app import Call, Console

log = structlog.get_logger(__name__)

# The newest jobs the board lists besides those that need a person or are in progress.
BOARD_RECENT: Final = 100
JOURNAL_PAGE: Final = 50
_TECHNICIAN: Final = re.compile(r"^[\w.@-]{1,64}$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KIND: Final = re.compile(r"^[a-z_]+(\.[a-z_]+)?$")
_MAX_ID: Final = 2**63 - 1  # the journal's integers; a larger number is no job
_REASON_MAX: Final = 500
_WORKING: Final = (JobState.DISCOVERED, *IN_PROGRESS_STATES)


class BadInput(LabdError):
    """{}"""

    # A form or a query with a value the console cannot take; nothing was done.
    code = "web.bad_input"


_LOCAL: Final = re.compile(r"^/(?![/\\])[^\s]*$")


def local_path(target: str | None, default: str = "/") -> str:
    """A path on this console to go to after a login or an action; anything else (another
    site: ``//evil.example``) goes to ``default``."""
    return target if target and _LOCAL.match(target) else default


# -- the board ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows: jobs of a hot folder, a printer, a technician (None: all)."""

    hotfolder: str | None
    printer: str | None
    technician: str | None

    @property
    def query(self) -> str:
        """The filter as the board's query string (without ``?``)."""
        given = {
            k: v
            for k, v in (
                ("hotfolder", self.hotfolder),
                ("printer", self.printer),
                ("technician", self.technician),
            )
            if v
        }
        return urlencode(given)


def _board_filter(call: Call) -> BoardFilter:
    q = call.request.query_params
    technician = q.get("technician") or None
    if technician is not None and not _TECHNICIAN.match(technician):
        raise BadInput(
            _(
                "%(value)r is not a technician's name (letters, digits, '.', '@', '-')",
                value=technician,
            )
        )
    return BoardFilter(q.get("hotfolder") or None, q.get("printer") or None, technician)


def _board_context(console: Console, call: Call) -> dict[str, object]:
    chosen = _board_filter(call)
    journal = console.journal
    hotfolders = hotfolders_filter(
        console.config, journal, hotfolder=chosen.hotfolder, printer=chosen.printer
    )

    def wanted(job: Job) -> bool:
        if hotfolders is not None and job.hotfolder not in hotfolders:
            return False
        return chosen.technician is None or job.technician == chosen.technician

    summary = summarize(journal)
    attention = [j for j in summary.attention if wanted(j)]
    working = [j for j in journal.jobs(_WORKING, hotfolders=hotfolders) if wanted(j)]
    shown = {j.id for j in (*attention, *working)}
    recent = [
        j
        for j in journal.jobs(hotfolders=hotfolders, limit=BOARD_RECENT)
        if j.id not in shown and wanted(j)
    ]
    # The order references stay in the journal: the board shows how far, never which order.
    progress = journal.progress([*attention, *working, *recent])
    return {
        "progress": progress,
        "filter": chosen,
        "counts": sorted(summary.counts.items()),
        "sections": [
            ("attention", _("Needs attention"), attention),
            ("working", _("In progress"), working),
            ("recent", _("Recent"), recent),
        ],
        "hotfolders": sorted(console.config.hotfolders),
        "printers": sorted(console.config.printers),
        "back": "/?" + chosen.query if chosen.query else "/",
        "head": journal.last_seq(),
    }


def board(console: Console, call: Call) -> Response:
    """``/``: jobs by state, those waiting for a person first, with their actions."""
    return console.render(call, "board.html", _board_context(console, call))


def board_table(console: Console, call: Call) -> Response:
    """``/board/table``: the board's table alone, which the page's script swaps in."""
    return console.render(call, "board_table.html", _board_context(console, call))


# -- printers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One configured printer as CUPS sees it, and labd's jobs waiting there."""

    printer: str
    queue: str
    known: bool  # CUPS has the queue
    state: str
    accepting: bool
    reasons: tuple[str, ...]
    message: str
    in_cups: tuple[int, ...]  # labd's jobs with unfinished CUPS jobs on the queue
    held: tuple[Job, ...]  # labd's HELD jobs of the hot folders printing here
    supplies: tuple[Supply, ...] = ()  # as the printer last reported them; (): none


_CUPS_NAME: Final = re.compile(r"^labd-(\d+)-\d+$")


def printers(console: Console, call: Call) -> Response:
    """``/printers``: each queue's CUPS state and reasons (as ``labd status``) and the jobs
    of labd that wait there."""
    rows, problem = queue_rows(console)
    return console.render(call, "printers.html", {"rows": rows, "problem": problem})


def queue_rows(console: Console) -> tuple[list[QueueRow], str | None]:
    """Each configured printer's queue as CUPS sees it (the page's and the API's), and why
    CUPS could not be asked (None: it answered)."""
    config, cups = console.config, console.cups
    held = console.journal.jobs([JobState.HELD])
    rows: list[QueueRow] = []
    problem = None
    try:
        unfinished = [j for j in cups.unfinished() if _CUPS_NAME.match(j.name)]
        for name, printer in sorted(config.printers.items()):
            info = cups.queue_info(printer.queue)
            on_it = {hf.name for hf in config.hotfolders.values() if hf.printer == name}
            jobs = sorted(
                {
                    int(m.group(1))
                    for j in unfinished
                    if j.queue in ("", printer.queue) and (m := _CUPS_NAME.match(j.name))
                }
            )
            rows.append(
                QueueRow(
                    printer=name,
                    queue=printer.queue,
                    known=info is not None,
                    state=info.state if info else "",
                    accepting=info.accepting if info else False,
                    reasons=tuple(r for r in info.reasons if r != "none") if info else (),
                    message=info.message if info else "",
                    in_cups=tuple(jobs),
                    held=tuple(j for j in held if j.hotfolder in on_it),
                    supplies=info.supplies if info else (),
                )
            )
    except PrintError as e:
        problem = _(
            "CUPS at %(where)s cannot be asked: %(problem)s", where=cups.where, problem=e.problem
        )
    return rows, problem


# -- one job ------------------------------------------------------------------------------------


def _job_id(console: Console, call: Call) -> int:
    """The job of the route; no such job is refused before anything else is looked at."""
    job_id = int(call.request.path_params["job_id"])
    if job_id > _MAX_ID:
        raise JobNotFound(job_id)
    console.journal.job(job_id)
    return job_id


def route_job(console: Console, call: Call) -> Job:
    """The job a ``/jobs/{job_id}`` route names (no such job: refused)."""
    return console.journal.job(_job_id(console, call))


def output_asked(call: Call, outputs: Sequence[JobOutput], name: str) -> JobOutput | None:
    """The output a query's ``name`` asks for (``?preview=2``); None when not asked."""
    value = call.request.query_params.get(name, "").strip()
    if not value:
        return None
    found = [o for o in outputs if value.isdecimal() and str(o.seq) == value.lstrip("0")]
    if not found:
        known = ", ".join(str(o.seq) for o in outputs) or _("none yet")
        raise BadInput(
            _(
                "%(field)s: %(value)r is no output of this job (its outputs: %(known)s)",
                field=name,
                value=value,
                known=known,
            )
        )
    return found[0]


def output_path(job: Job, output: JobOutput) -> Path:
    """Where the output's print-ready file is (or was) in the spool."""
    return Path(job.spool) / output.path


def no_preview(console: Console, job: Job, output: JobOutput) -> str | None:
    """Why the output has no preview, for a person; None: it has one.  Looks at the file's
    first bytes only: the job page says so before any picture is asked for."""
    from labd.convert.preview import Unpreviewable, why_no_preview  # noqa: PLC0415  # Pillow and libvips load with the first preview, not with the console

    if not console.journal.holds_files_of(job):
        return _("its print file is on the print server %(node)s, not on this one", node=job.node)
    why = why_no_preview(output_path(job, output))
    if why is Unpreviewable.GONE:
        if job.state is JobState.PURGED:
            return _("its print file was deleted by retention or erasure")
        return _("its print file is no longer in the spool")
    if why is Unpreviewable.PDF:
        return _("it is a PDF (a photobook or document): PDFs have no preview")
    return None


def sees_personal(call: Call) -> bool:
    """Whether the caller's role is shown personal details (supervisor, admin)."""
    return call.role is not None and call.role.rank >= Role.SUPERVISOR.rank


def personal_viewed(
    console: Console, call: Call, data: Mapping[str, object], *, job_id: int | None = None
) -> None:
    """Journal that the caller was shown personal details (``web.personal_viewed``)."""
    with console.journal.transaction() as tx:
        tx.event("web.personal_viewed", {**data, "by": call.user}, job_id=job_id)


def job_detail(console: Console, call: Call) -> Response:
    """``/jobs/N``: files, outputs, copies, CUPS job ids, the whole history.  A supervisor
    or admin also sees the order reference and the identifiers of the job's carriers, and
    that they were shown is journaled; ``?preview=N`` shows output N's preview (the
    picture's own look is journaled by :mod:`labd.web.preview`)."""
    journal = console.journal
    job = route_job(console, call)
    outputs, files = journal.outputs_and_files(job.id)
    hf = console.config.hotfolders.get(job.hotfolder)
    product = console.config.products.get(hf.product) if hf is not None else None
    copies = copies_of_outputs(files, outputs, product.copies if product else None)
    preview = output_asked(call, outputs, "preview")
    media = MediaLedger(journal, console.config.media).of_job(job)
    personal = sees_personal(call)
    if personal:
        data: dict[str, object] = {"job": job.id, "order_ref": job.order_ref is not None}
        shown = [i.id for i in media if i.identifier or i.label or i.orders or i.shipment]
        if shown:
            data["media_items"] = shown
        personal_viewed(console, call, data, job_id=job.id)
    events = journal.events(job_id=job.id)
    return console.render(
        call,
        "job.html",
        {
            "job": job,
            "files": files,
            "outputs": outputs,
            "copies": copies,
            "personal": personal,
            "media": media,
            "preview": preview,
            "no_preview": no_preview(console, job, preview) if preview else None,
            "events": [(e, event_summary(e)) for e in events],
            "back": f"/jobs/{job.id}",
        },
    )


def _done(console: Console, call: Call, job_id: int, said: str) -> Response:
    """After an action: say what happened on the next page, and go back where it was asked."""
    if call.session is not None:
        call.session.notes.append(_("Job %(job)s: %(said)s", job=job_id, said=said))
    log.info("web.action", job_id=job_id, said=said, by=call.user)
    return RedirectResponse(local_path(call.form.get("back")), status_code=303)


def retry(console: Console, call: Call) -> Response:
    """Put a HELD job back into the life cycle (``labd retry``)."""
    job_id = _job_id(console, call)
    again = retry_job(console.journal, console.cups, job_id, by=call.user)
    state = console.journal.job(job_id).state.value
    said = _("retried, now %(state)s", state=state)
    if again:
        said += _("; outputs printed again: %(outputs)s", outputs=", ".join(map(str, again)))
    return _done(console, call, job_id, said)


def cancel(console: Console, call: Call) -> Response:
    """Cancel a job and its unfinished CUPS jobs (``labd cancel``)."""
    job_id = _job_id(console, call)
    cancelled = cancel_job(console.journal, console.cups, job_id, by=call.user)
    ids = ", ".join(map(str, cancelled)) or _("none")
    return _done(console, call, job_id, _("cancelled; CUPS jobs cancelled: %(ids)s", ids=ids))


def reprint(console: Console, call: Call) -> Response:
    """Print a job's outputs (all, or those given) again as a new job (``labd reprint``)."""
    job_id = _job_id(console, call)
    seqs = _numbers(call.form.get("outputs", ""), "outputs")
    new = reprint_job(console.journal, job_id, seqs or None, by=call.user)
    return _done(console, call, job_id, _("reprinted as job %(job)s", job=new.id))


def resolve(console: Console, call: Call) -> Response:
    """A supervisor's decision on an UNCERTAIN job (``labd resolve``)."""
    job_id = _job_id(console, call)
    decision = call.form.get("decision", "")
    if decision not in ("printed", "reprint"):
        raise BadInput(_("%(value)r is no decision: printed (it did) or reprint", value=decision))
    state = resolve_job(console.journal, job_id, decision, by=call.user)
    said = _("resolved (%(decision)s), now %(state)s", decision=decision, state=state.value)
    return _done(console, call, job_id, said)


def close(console: Console, call: Call) -> Response:
    """Close a QUARANTINED job whose files will not come again (``labd close``)."""
    job_id = _job_id(console, call)
    reason = call.form.get("reason", "").strip()
    if not reason or len(reason) > _REASON_MAX:
        raise BadInput(
            _("say why the job is closed, in 1 to %(most)s characters", most=_REASON_MAX)
        )
    replaced = _numbers(call.form.get("replaced_by", ""), "replaced_by")
    replaced_by = replaced[0] if replaced else None
    close_job(console.journal, job_id, by=call.user, reason=reason, replaced_by=replaced_by)
    return _done(console, call, job_id, _("closed"))


def _numbers(text: str, field: str) -> list[int]:
    """``"1, 3"``: job or output numbers from a form field (empty: none)."""
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if not all(p.isdecimal() and 0 < int(p) <= _MAX_ID for p in parts):
        raise BadInput(
            _("%(field)s: %(value)r is not a list of numbers like 1, 2", field=field, value=text)
        )
    if field == "replaced_by" and len(parts) > 1:
        raise BadInput(_("%(field)s: one job number", field=field))
    return [int(p) for p in parts]


# -- the journal --------------------------------------------------------------------------------


def _event_filter(call: Call) -> tuple[EventFilter, dict[str, str]]:
    """The journal page's filter from its query; what was asked, to fill the form again."""
    q = call.request.query_params
    asked = {k: q.get(k, "").strip() for k in ("job", "kind", "technician", "since", "until")}
    checks: Sequence[tuple[str, Callable[[str], bool], str]] = (
        ("job", lambda v: v.isdecimal() and int(v) <= _MAX_ID, _("a job number")),
        ("kind", lambda v: bool(_KIND.match(v)), _("an event kind like job.state_changed or web")),
        ("technician", lambda v: bool(_TECHNICIAN.match(v)), _("a technician's name")),
        ("since", lambda v: bool(_DATE.match(v)), _("a date like 2026-12-01")),
        ("until", lambda v: bool(_DATE.match(v)), _("a date like 2026-12-01")),
    )
    for key, ok, what in checks:
        if asked[key] and not ok(asked[key]):
            raise BadInput(
                _("%(field)s: %(value)r is not %(what)s", field=key, value=asked[key], what=what)
            )
    after, before = q.get("after", ""), q.get("before", "")
    for key, value in (("after", after), ("before", before)):
        if value and not (value.isdecimal() and int(value) <= _MAX_ID):
            raise BadInput(
                _(
                    "%(field)s: %(value)r is not %(what)s",
                    field=key,
                    value=value,
                    what=_("an event number"),
                )
            )
    if after and before:
        raise BadInput(_("a page is either after an event or before one, not both"))
    kind = asked["kind"]
    # A domain alone ("web", "job") is a prefix: its every kind, as `labd journal --kind web.`.
    kinds = (kind if "." in kind else kind + ".",) if kind else ()
    f = EventFilter(
        since=asked["since"] or None,
        until=asked["until"] or None,
        job=int(asked["job"]) if asked["job"] else None,
        technician=asked["technician"] or None,
        kinds=kinds,
        after=int(after) if after else 0,
        before=int(before) if before else None,
        # One more than a page: whether there is another page that way.
        limit=JOURNAL_PAGE + 1,
        oldest=bool(after),
    )
    return f, asked


def journal_page(console: Console, call: Call) -> Response:
    """``/journal``: events, filtered; the newest page, a page onwards from ``after``
    (newer) or back from ``before`` (older), each with links both ways that keep the
    filter."""
    f, asked = _event_filter(call)
    journal = console.journal
    found = journal.find_events(f)
    more = len(found) > JOURNAL_PAGE
    events = found[:JOURNAL_PAGE] if f.oldest else found[-JOURNAL_PAGE:]
    query = {k: v for k, v in asked.items() if v}

    def link(**where: str) -> str:
        return "/journal?" + urlencode({**query, **where})

    pages: dict[str, str] = {"newest": link(), "first": link(after="0")}
    if events:
        # The way the page was asked for, the extra event tells; the other way, one look.
        if f.oldest:
            newer, older = more, _any(journal, f, before=events[0].seq)
        else:
            newer = f.before is not None and _any(journal, f, after=events[-1].seq)
            older = more
        if newer:
            pages["newer"] = link(after=str(events[-1].seq))
        if older:
            pages["older"] = link(before=str(events[0].seq))
    return console.render(
        call,
        "journal.html",
        {
            "events": [(e, event_summary(e)) for e in events],
            "asked": asked,
            "pages": pages,
            "head": console.journal.last_seq(),
        },
    )


def _any(journal: JournalView, f: EventFilter, **where: int) -> bool:
    """Whether an event of the filter is past ``after`` or before ``before``."""
    edge = replace(f, after=where.get("after", 0), before=where.get("before"), limit=1)
    return bool(journal.find_events(replace(edge, oldest="after" in where)))


def verify(console: Console, call: Call) -> Response:
    """``/journal/verify``: walk the chain (optionally against a head noted earlier)."""
    head = call.request.query_params.get("head", "").strip() or None
    if head is not None and not re.fullmatch(r"(\d+:)?[0-9a-f]{64}", head):
        raise BadInput(
            _(
                "head: %(value)r is not a head noted from the journal (SEQ:HASH or HASH)",
                value=head,
            )
        )
    check = console.journal.verify(head)
    return console.render(call, "verify.html", {"check": check, "head": head})


# -- accounts -----------------------------------------------------------------------------------


def users(console: Console, call: Call) -> Response:
    """``/users``: the accounts, for an admin (changed on the server: ``labd user``)."""
    return console.render(call, "users.html", {"accounts": console.accounts.all()})
