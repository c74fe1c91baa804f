"""The console's pages for the lab's physical duties: quarantine, customer media, secure
waste and retention.

These are the duties that happen away from the print server: a technician at the QC table
puts misprints into a locked container and asks for a reprint, hands a USB stick back with
its order, seals a full container for the disposal company; a supervisor places a legal
hold or answers a customer's erasure request.  Each page reads the ledger the command line
reads (:class:`~labd.media.ledger.MediaLedger`, :class:`~labd.waste.ledger.WasteLedger`,
:class:`~labd.privacy.retention.Retention`, :meth:`labd.journal.JournalView.open_quarantined`)
and each form calls the very method the matching ``labd`` command calls, with the web
user's name as ``by``: the journal tells a form from a command only by that name.  A
refusal is the ledger's own :class:`~labd.errors.LabdError`, which the guard in
:mod:`labd.web.app` turns into an error page; every check a form needs beyond the
ledger's is made before the ledger is called, so a refused form changes nothing.

What identifies a customer (a carrier's serial or label, order references, a hold's
reason) is shown to supervisors and admins only, and each time it is shown the look is
journaled (``web.personal_viewed``), as the job page does.  The handlers are registered by
:data:`HANDLERS`; :mod:`labd.web.roles` says who may use each route.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

import structlog
from starlette.responses import RedirectResponse, Response

from labd.errors import LabdError
from labd.media.ledger import MediaLedger
from labd.media.model import Disposition, IdKind, Material, MediaItem, MediaKind
from labd.model import Job, JobState
from labd.privacy.model import ErasurePlan
from labd.privacy.retention import Retention
from labd.quarantine import REASON_SUFFIX, target_name
from labd.waste.ledger import WasteLedger
from labd.waste.model import OTHER, Container, ContainerState, WasteMaterial
from labd.waste.reprint import reprint_misprint
from labd.web.i18n import _
from labd.web.pages import BadInput, local_path, personal_viewed, sees_personal

if TYPE_CHECKING:
    from labd.web.app import Call, Console

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=StrEnum)

_MAX_ID: Final = 2**63 - 1  # the journal's integers
_TEXT_MAX: Final = 500  # a reason, a note
_NAME_MAX: Final = 200  # an identifier, an order reference, a seal or certificate number
# The newest printed jobs the tablet form offers as one tap each.
MISPRINT_RECENT: Final = 12
# How far ahead the retention page looks for deletions, unless asked otherwise.
DUE_WITHIN_DAYS: Final = 7
# An erasure request's reference is chained and never erased: a ticket number, not a name
# (no spaces, so "Kari Nordmann" is refused).
_REQUEST: Final = re.compile(r"^[\w./#-]{1,64}$")
_OUTPUT_FIELD: Final = re.compile(r"^output-(\d{1,6})$")
_PRINTED: Final = (JobState.DONE, JobState.PRINTED)


class ReprintRefused(LabdError):
    """The misprint is recorded (waste entry {} in container {}), but it cannot be printed
    again: {}"""

    code = "web.reprint_refused"

    def get_message(self) -> str:
        """The docstring's message in the request's language."""
        entry, container, why = self.args
        return _(
            "The misprint is recorded (waste entry %(entry)s in container %(container)s), but "
            "it cannot be printed again: %(why)s",
            entry=entry,
            container=container,
            why=why,
        )


# -- form fields --------------------------------------------------------------------------------


def _text(call: Call, name: str, what: str, *, required: bool = True, most: int = _NAME_MAX) -> str:
    """A text field, trimmed; required ones must say something, none may be too long."""
    value = call.form.get(name, "").strip()
    if required and not value:
        raise BadInput(_("%(field)s: give %(what)s", field=name, what=what))
    if len(value) > most:
        raise BadInput(
            _(
                "%(field)s: %(what)s in at most %(most)s characters",
                field=name,
                what=what,
                most=most,
            )
        )
    return value


def _maybe_number(call: Call, name: str, what: str) -> int | None:
    """A whole number field (a job, a number of sheets); None when empty."""
    value = call.form.get(name, "").strip()
    return _number(call, name, what) if value else None


def _number(call: Call, name: str, what: str) -> int:
    """A whole number field that must be given (an item, a job, an event, a level)."""
    value = call.form.get(name, "").strip()
    if not (value.isdecimal() and 0 < int(value) <= _MAX_ID):
        raise BadInput(
            _("%(field)s: %(value)r is not %(what)s", field=name, value=value, what=what)
        )
    return int(value)


def _choice(call: Call, name: str, kind: type[E], *, default: E | None = None) -> E:
    """One of an enumeration's values (a select); the default when the field is empty."""
    value = call.form.get(name, "").strip()
    if not value and default is not None:
        return default
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise BadInput(
            _("%(field)s: %(value)r is not one of: %(known)s", field=name, value=value, known=known)
        ) from None


def _date(call: Call, name: str, console: Console) -> date:
    """A date field (YYYY-MM-DD), today when empty."""
    value = call.form.get(name, "").strip()
    if not value:
        return console.clock.now().date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(
            _("%(field)s: %(value)r is not a date like 2026-01-31", field=name, value=value)
        ) from None


def _yes(call: Call, name: str) -> bool:
    """A checkbox or a yes/no choice."""
    value = call.form.get(name, "")
    if value not in ("", "yes", "no"):
        raise BadInput(_("%(field)s: %(value)r is neither yes nor no", field=name, value=value))
    return value == "yes"


def _orders(call: Call) -> list[str]:
    """Order references, comma-separated (a carrier may hold several orders)."""
    text = _text(call, "order", _("order references"), required=False)
    return [o.strip() for o in text.split(",") if o.strip()]


def _done(console: Console, call: Call, said: str, back: str) -> Response:
    """After an action: say what happened on the next page, and go back to it."""
    if call.session is not None:
        call.session.notes.append(said)
    log.info("web.action", said=said, by=call.user, path=call.request.url.path)
    return RedirectResponse(local_path(call.form.get("back"), back), status_code=303)


def _ledgers(console: Console) -> tuple[MediaLedger, WasteLedger]:
    """Both ledgers over the console's journal, with the configured settings (as the CLI)."""
    media = MediaLedger(console.journal, console.config.media)
    return media, WasteLedger(console.journal, console.config.waste, media)


# -- quarantine ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantineRow:
    """An open quarantined job and where its files and reason file wait."""

    job: Job
    files: Path
    note: Path


def quarantine(console: Console, call: Call) -> Response:
    """``/quarantine``: quarantined jobs nobody has closed, why, and what to do."""
    rows = []
    for job in console.journal.open_quarantined():
        files = console.config.quarantine_dir / job.hotfolder / target_name(job.id, job.entry)
        rows.append(QuarantineRow(job, files, files.with_name(files.name + REASON_SUFFIX)))
    return console.render(call, "quarantine.html", {"rows": rows, "back": "/quarantine"})


# -- customer media -----------------------------------------------------------------------------


def media_page(console: Console, call: Call) -> Response:
    """``/media``: carriers still in the house, overdue ones first, and the forms to act."""
    media, waste = _ledgers(console)
    overdue = {i.id for i in media.overdue()}
    items = sorted(media.items(outstanding=True), key=lambda i: (i.id not in overdue, i.id))
    personal = sees_personal(call)
    shown = [i.id for i in items if i.identifier or i.label or i.orders or i.shipment]
    if personal and shown:
        personal_viewed(console, call, {"media_items": shown})
    open_boxes = waste.containers(state=ContainerState.OPEN)
    return console.render(
        call,
        "media.html",
        {
            "items": items,
            "overdue": overdue,
            "overdue_days": console.config.media.overdue_days,
            "personal": personal,
            "kinds": list(MediaKind),
            "id_kinds": list(IdKind),
            "dispositions": list(Disposition),
            # The open containers a carrier of each material class may go into.
            "boxes": {m.value: [b for b in open_boxes if b.material.value == m] for m in Material},
            "back": "/media",
        },
    )


def _item(call: Call) -> int:
    return _number(call, "item", _("a media item's number"))


def _moved(console: Console, call: Call, item: MediaItem, what: str) -> Response:
    said = _(
        "Media item %(item)s: %(what)s, now %(state)s", item=item.id, what=what, state=item.state
    )
    return _done(console, call, said, "/media")


def media_register(console: Console, call: Call) -> Response:
    """Receive a carrier with its order (``labd media register``)."""
    media = _ledgers(console)[0]
    kind = _choice(call, "kind", MediaKind)
    identifier = _text(call, "identifier", _("the serial, volume label or tag number"))
    id_kind = _choice(call, "id_kind", IdKind, default=IdKind.TAG)
    disposition = (
        _choice(call, "disposition", Disposition) if call.form.get("disposition") else None
    )
    job = _maybe_number(call, "job", _("a job number"))
    item = media.register(
        kind,
        identifier,
        by=call.user,
        id_kind=id_kind,
        orders=_orders(call),
        jobs=[job] if job is not None else [],
        disposition=disposition,
    )
    what = _("received (%(kind)s, to %(to)s)", kind=item.kind, to=item.disposition)
    return _moved(console, call, item, what)


def media_link(console: Console, call: Call) -> Response:
    """Tie a carrier (a detected stick, say) to its order or job (``labd media link``)."""
    media = _ledgers(console)[0]
    item_id = _item(call)
    job = _maybe_number(call, "job", _("a job number"))
    item = media.link(
        item_id, by=call.user, orders=_orders(call), jobs=[job] if job is not None else []
    )
    return _moved(console, call, item, _("linked"))


def media_ready(console: Console, call: Call) -> Response:
    """Its order is done: it waits to go back or to be destroyed (``labd media ready``)."""
    media = _ledgers(console)[0]
    return _moved(console, call, media.ready(_item(call), by=call.user), _("ready"))


def _override(call: Call) -> tuple[bool, str | None]:
    """Whether the form overrides the carrier's disposition, and why."""
    reason = _text(call, "reason", _("why"), required=False, most=_TEXT_MAX) or None
    return _yes(call, "override"), reason


def media_return(console: Console, call: Call) -> Response:
    """Handed back to the customer, with the order or by parcel (``labd media return``)."""
    media = _ledgers(console)[0]
    override, reason = _override(call)
    shipment = _text(call, "shipment", _("the parcel's reference"), required=False) or None
    item = media.returned(
        _item(call), by=call.user, shipment=shipment, override=override, reason=reason
    )
    return _moved(console, call, item, _("returned"))


def media_destroy(console: Console, call: Call) -> Response:
    """Destroyed into a secure-waste container or in the lab's shredder run at a DIN 66399
    level (``labd media destroy --container`` or ``--shredder-run --level``)."""
    media, waste = _ledgers(console)
    item_id = _item(call)
    override, reason = _override(call)
    container = _text(call, "container", _("the container"), required=False)
    run = _text(call, "shredder_run", _("the shredder run"), required=False)
    if bool(container) == bool(run):
        raise BadInput(
            _("say where it was destroyed: a container, or a shredder run with its level")
        )
    if container:
        waste.destroy_media(
            item_id, container=container, by=call.user, override=override, reason=reason
        )
        item = media.item(item_id)
    else:
        level = _text(call, "level", _("the shredder run's DIN 66399 level, e.g. O-3"))
        item = media.destroyed(
            item_id, by=call.user, level=level, shredder_run=run, override=override, reason=reason
        )
    where = container or run
    return _moved(
        console, call, item, _("destroyed (%(level)s, %(where)s)", level=item.level, where=where)
    )


# -- secure waste -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerRow:
    """A container, how many entries it took, and whether its certificate is overdue."""

    box: Container
    entries: int
    overdue: bool


def waste_page(console: Console, call: Call) -> Response:
    """``/waste``: containers through their life cycle, possible duplicates to decide."""
    waste = _ledgers(console)[1]
    overdue = {c.id for c in waste.overdue()}
    boxes = sorted(
        waste.containers(),
        key=lambda c: (c.state is ContainerState.CERTIFIED, c.state.value, c.id),
    )
    rows = [ContainerRow(b, len(waste.entries(b.id)), b.id in overdue) for b in boxes]
    return console.render(
        call,
        "waste.html",
        {
            "rows": rows,
            "duplicates": waste.possible_duplicates(),
            "open_p": [r.box for r in rows if _takes_prints(r.box)],
            "materials": list(WasteMaterial),
            "today": console.clock.now().date().isoformat(),
            "back": "/waste",
        },
    )


def _takes_prints(box: Container) -> bool:
    return box.state is ContainerState.OPEN and box.material is WasteMaterial.P


def _box(console: Console, call: Call, box: Container, what: str) -> Response:
    said = _("Container %(box)s: %(what)s, now %(state)s", box=box.id, what=what, state=box.state)
    return _done(console, call, said, "/waste")


def container_open(console: Console, call: Call) -> Response:
    """Put a new, empty container into service (``labd waste container open``)."""
    waste = _ledgers(console)[1]
    box = waste.open(
        _text(call, "container", _("the new container's id")),
        material=_choice(call, "material", WasteMaterial),
        level=_number(call, "level", _("a DIN 66399 security level 1-7")),
        location=_text(call, "location", _("where it stands")),
        by=call.user,
    )
    opened = _("opened (%(level)s, %(location)s)", level=box.din_level, location=box.location)
    return _box(console, call, box, opened)


def container_seal(console: Console, call: Call) -> Response:
    """Seal it for good with a numbered seal (``labd waste container seal``)."""
    waste = _ledgers(console)[1]
    box = waste.seal(
        _text(call, "container", _("the container")),
        seal=_text(call, "seal", _("the seal number")),
        by=call.user,
    )
    return _box(console, call, box, _("sealed with %(seal)s", seal=box.seal))


def container_collect(console: Console, call: Call) -> Response:
    """Handed over to the disposal company (``labd waste container collect``)."""
    waste = _ledgers(console)[1]
    box = waste.collect(
        _text(call, "container", _("the container")),
        company=_text(call, "company", _("the disposal company")),
        on=_date(call, "date", console),
        by=call.user,
    )
    return _box(console, call, box, _("collected by %(company)s", company=box.company))


def container_certify(console: Console, call: Call) -> Response:
    """The certificate of destruction arrived (``labd waste container certify``)."""
    waste = _ledgers(console)[1]
    box = waste.certify(
        _text(call, "container", _("the container")),
        certificate=_text(call, "certificate", _("the certificate number")),
        on=_date(call, "date", console),
        by=call.user,
    )
    return _box(console, call, box, _("certified (%(certificate)s)", certificate=box.certificate))


def misprint_form(console: Console, call: Call) -> Response:
    """``/waste/misprint``: the tablet form at the QC table; ``?job=N`` shows N's outputs."""
    journal = console.journal
    asked = call.request.query_params.get("job", "").strip()
    job = outputs = None
    if asked:
        if not (asked.isdecimal() and 0 < int(asked) <= _MAX_ID):
            raise BadInput(_("job: %(value)r is not a job number", value=asked))
        job = journal.job(int(asked))  # JobNotFound: 404
        outputs = journal.outputs(job.id)
    waste = _ledgers(console)[1]
    boxes = [b for b in waste.containers(state=ContainerState.OPEN) if _takes_prints(b)]
    return console.render(
        call,
        "misprint.html",
        {
            "job": job,
            "outputs": outputs,
            "recent": journal.jobs(_PRINTED, limit=MISPRINT_RECENT),
            "reasons": [*console.config.waste.reasons, OTHER],
            "boxes": boxes,
        },
    )


def _ticked_outputs(call: Call) -> list[int]:
    """The outputs ticked on the form (one checkbox ``output-N`` each)."""
    ticked = []
    for key, value in call.form.items():
        match = _OUTPUT_FIELD.match(key)
        if match and value == "yes":
            ticked.append(int(match.group(1)))
    if not ticked:
        raise BadInput(_("outputs: tick the outputs that misprinted"))
    return sorted(ticked)


def misprint(console: Console, call: Call) -> Response:
    """Misprints into a container, and optionally printed again (``labd waste misprint
    [--reprint]``): the same ledger call, the same reprint."""
    waste = _ledgers(console)[1]
    job_id = _number(call, "job", _("a job number"))
    outputs = _ticked_outputs(call)
    reason = _text(call, "reason", _("a reason"))
    text = _text(call, "text", _("what was wrong"), required=False, most=_TEXT_MAX) or None
    if call.form.get("reprint") not in ("yes", "no"):
        raise BadInput(_("reprint: say whether it is printed again (yes or no)"))
    reprint = _yes(call, "reprint")
    entry = waste.misprint(
        job_id,
        container=_text(call, "container", _("the container it went into")),
        reason=reason,
        by=call.user,
        outputs=outputs,
        text=text,
        reprint=reprint,
    )
    said = _(
        "Job %(job)s: outputs %(outputs)s (%(reason)s) into %(container)s, waste entry %(entry)s",
        job=job_id,
        outputs=", ".join(map(str, entry.outputs)),
        reason=entry.reason,
        container=entry.container,
        entry=entry.id,
    )
    if reprint:
        try:
            again = reprint_misprint(console.journal, entry, by=call.user)
        except LabdError as e:
            raise ReprintRefused(entry.id, entry.container, e.get_message()) from e
        said += _("; printed again as job %(job)s", job=again.id)
    return _done(console, call, said, "/waste/misprint")


def duplicate_confirm(console: Console, call: Call) -> Response:
    """The extra print was found: into a container (``labd waste duplicates confirm``)."""
    waste = _ledgers(console)[1]
    event = _number(call, "event", _("a possible duplicate's event number"))
    sheets = _maybe_number(call, "sheets", _("a number of sheets"))
    entry = waste.confirm_duplicate(
        event,
        container=_text(call, "container", _("the container it went into")),
        by=call.user,
        sheets=sheets,
    )
    said = _(
        "Event %(event)s: duplicate of job %(job)s into %(container)s",
        event=event,
        job=entry.job_id,
        container=entry.container,
    )
    return _done(console, call, said, "/waste")


def duplicate_dismiss(console: Console, call: Call) -> Response:
    """No extra print came out (``labd waste duplicates dismiss``)."""
    waste = _ledgers(console)[1]
    event = _number(call, "event", _("a possible duplicate's event number"))
    reason = _text(call, "reason", _("why it is no duplicate"), most=_TEXT_MAX)
    waste.dismiss_duplicate(event, by=call.user, reason=reason)
    said = _("Event %(event)s: no duplicate (%(reason)s)", event=event, reason=reason)
    return _done(console, call, said, "/waste")


# -- retention and erasure ----------------------------------------------------------------------


def _retention(console: Console) -> Retention:
    return Retention(console.journal, console.config, console.clock, console.cups)


def retention_page(console: Console, call: Call) -> Response:
    """``/retention``: deletions due, legal holds, the erasure request form."""
    asked = call.request.query_params.get("within", "").strip()
    if asked and not (asked.isdecimal() and int(asked) <= 3650):
        raise BadInput(_("within: %(value)r is not a number of days (0 to 3650)", value=asked))
    within = int(asked) if asked else DUE_WITHIN_DAYS
    retention = _retention(console)
    now = console.clock.now()
    due = retention.due(until=now + timedelta(days=within))
    holds = retention.holds()
    shown = [h.id for h in holds if h.order_ref or h.reason]
    if shown:
        personal_viewed(console, call, {"holds": shown})
    return console.render(
        call,
        "retention.html",
        {
            "due": due,
            "within": within,
            "now": now.isoformat(),
            "holds": holds,
            "back": "/retention",
        },
    )


def _target(call: Call) -> tuple[int | None, str | None]:
    """The job or the order a hold or an erasure is for: one of them."""
    job = _maybe_number(call, "job", _("a job number"))
    order = _text(call, "order", _("the order reference"), required=False) or None
    if (job is None) == (order is None):
        raise BadInput(_("name a job or an order (one of them)"))
    return job, order


def hold_place(console: Console, call: Call) -> Response:
    """Stop the deletion of a job or of an order's jobs (``labd hold``)."""
    job, order = _target(call)
    reason = _text(call, "reason", _("why (the complaint's number, say)"), most=_TEXT_MAX)
    hold = _retention(console).hold(job_id=job, order_ref=order, by=call.user, reason=reason)
    if job is not None:
        said = _("Hold %(hold)s placed on job %(job)s", hold=hold.id, job=job)
    else:
        said = _("Hold %(hold)s placed on the order", hold=hold.id)
    return _done(console, call, said, "/retention")


def hold_release(console: Console, call: Call) -> Response:
    """Release a legal hold by its number (``labd release --hold``)."""
    hold = _number(call, "hold", _("a hold's number"))
    reason = _text(call, "reason", _("why it is released"), most=_TEXT_MAX)
    released = _retention(console).release(hold_id=hold, by=call.user, reason=reason)
    said = _("Hold %(holds)s released", holds=", ".join(str(h.id) for h in released))
    return _done(console, call, said, "/retention")


def _request(call: Call) -> str:
    request = _text(call, "request", _("the request's reference (a ticket number)"), most=64)
    if not _REQUEST.match(request):
        raise BadInput(
            _(
                "request: %(value)r is not a reference like R-2031 (letters, digits, '.', '/', "
                "'#', '-'): it is kept for good in the journal, so never a name",
                value=request,
            )
        )
    return request


def erase_preview(console: Console, call: Call) -> Response:
    """What erasing would delete (``labd erase --dry-run``); changes nothing."""
    job, order = _target(call)
    request = _request(call)
    plan = _retention(console).plan(order_ref=order, job_id=job)
    return console.render(
        call,
        "erase_preview.html",
        {
            "plan": plan,
            "job": job,
            "order": order,
            "reference": request,
            "jobs": _jobs_text(plan.jobs),
        },
    )


def _jobs_text(jobs: Sequence[int]) -> str:
    return ",".join(map(str, jobs))


def erase(console: Console, call: Call) -> Response:
    """Erase an order's or a job's files and personal data (``labd erase``), as previewed:
    if the order's jobs changed since the preview, nothing is erased."""
    job, order = _target(call)
    request = _request(call)
    retention = _retention(console)
    now = _jobs_text(retention.plan(order_ref=order, job_id=job).jobs)
    previewed = call.form.get("jobs")
    if previewed is None:
        raise BadInput(_("erase from the preview page: it shows what goes before anything does"))
    if previewed != now:
        raise BadInput(
            _(
                "the jobs changed since the preview (%(then)s, now %(now)s): nothing was "
                "erased; preview again",
                then=previewed or "-",
                now=now or "-",
            )
        )
    plan = retention.erase(order_ref=order, job_id=job, by=call.user, request=request)
    return _done(console, call, _erased(plan, request), "/retention")


def _erased(plan: ErasurePlan, request: str) -> str:
    """What an erasure did and what is left, in the words of ``labd erase``."""
    said = _(
        "Erasure %(request)s: jobs %(jobs)s; files of jobs %(purge)s (%(files)s files, "
        "%(bytes)s bytes, %(cups_jobs)s CUPS jobs); personal data of %(media_items)s media "
        "items and %(waste_entries)s waste entries",
        request=request,
        jobs=_jobs_text(plan.jobs) or "-",
        purge=_jobs_text(plan.purge) or "-",
        files=plan.files,
        bytes=plan.bytes,
        cups_jobs=plan.cups_jobs,
        media_items=plan.media_items,
        waste_entries=plan.waste_entries,
    )
    if plan.pending:
        said += _(
            ". Not finished for jobs %(jobs)s (CUPS unreachable): the daemon finishes them",
            jobs=_jobs_text(plan.pending),
        )
    for node, jobs in sorted(plan.elsewhere.items()):
        said += _(
            ". Node %(node)s has still to delete the files of jobs %(jobs)s: it does on its "
            "next retention pass (labd nodes shows whether it runs)",
            node=node,
            jobs=_jobs_text(jobs),
        )
    return said


Handler = Callable[["Console", "Call"], Response]

# The routes of this module, as :func:`labd.web.app.create_app` registers them.
HANDLERS: Final[Mapping[tuple[str, str], Handler]] = {
    ("GET", "/quarantine"): quarantine,
    ("GET", "/media"): media_page,
    ("POST", "/media/register"): media_register,
    ("POST", "/media/link"): media_link,
    ("POST", "/media/ready"): media_ready,
    ("POST", "/media/return"): media_return,
    ("POST", "/media/destroy"): media_destroy,
    ("GET", "/waste"): waste_page,
    ("POST", "/waste/containers/open"): container_open,
    ("POST", "/waste/containers/seal"): container_seal,
    ("POST", "/waste/containers/collect"): container_collect,
    ("POST", "/waste/containers/certify"): container_certify,
    ("GET", "/waste/misprint"): misprint_form,
    ("POST", "/waste/misprint"): misprint,
    ("POST", "/waste/duplicates/confirm"): duplicate_confirm,
    ("POST", "/waste/duplicates/dismiss"): duplicate_dismiss,
    ("GET", "/retention"): retention_page,
    ("POST", "/retention/holds/place"): hold_place,
    ("POST", "/retention/holds/release"): hold_release,
    ("POST", "/retention/erase/preview"): erase_preview,
    ("POST", "/retention/erase"): erase,
}

__all__ = ["HANDLERS"]
