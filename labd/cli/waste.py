"""``labd waste``: secure-waste containers, misprints, uncollected orders, reports."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import TextIO

from labd.cli.common import Subparsers
from labd.cli.media import Actions, cell, default_user, ledgers, write_records
from labd.errors import WasteError
from labd.waste.model import Container, ContainerState, WasteMaterial
from labd.waste.reprint import reprint_misprint

_CONTAINER_COLUMNS = (
    "id", "state", "din_level", "location", "seal", "company", "collected_on", "certificate",
    "certified_on", "overdue",
)  # fmt: skip
_MANIFEST_COLUMNS = (
    "entry", "kind", "job", "outputs", "sheets", "reason", "media_item", "media_kind", "orders",
    "added_at",
)  # fmt: skip


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from e


def _outputs(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of output numbers") from e


def _show(out: TextIO, box: Container) -> None:
    out.write(f"container {box.id}: {box.state.value} ({box.din_level}, {box.location})\n")


def _container(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (_, _m, waste):
        today = waste.journal.clock.now().date()
        if args.step == "open":
            box = waste.open(
                args.container,
                material=WasteMaterial(args.material),
                level=args.level,
                location=args.location,
                by=args.by,
            )
        elif args.step == "seal":
            box = waste.seal(args.container, seal=args.seal, by=args.by)
        elif args.step == "collect":
            box = waste.collect(
                args.container, company=args.company, on=args.date or today, by=args.by
            )
        elif args.step == "certify":
            box = waste.certify(
                args.container, certificate=args.certificate, on=args.date or today, by=args.by
            )
        else:
            raise WasteError(f"unknown step {args.step}")  # argparse allows only the above
        _show(out, box)
    return 0


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (config, _m, waste):
        overdue = {c.id for c in waste.overdue()}
        state = ContainerState(args.state) if args.state else None
        rows = [
            {**c.as_row(), "overdue": c.id in overdue}
            for c in waste.containers(state=state)
            if not args.overdue or c.id in overdue
        ]
    columns = list(rows[0]) if rows and args.format != "table" else list(_CONTAINER_COLUMNS)
    write_records(out, rows, columns, args.format, zone=config.timezone)
    return 0


def _manifest(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (config, _m, waste):
        manifest = waste.manifest(args.container)
    if args.format == "json":
        out.write(json.dumps(manifest.as_dict(), ensure_ascii=False, indent=2) + "\n")
        return 0
    if args.format == "table":
        for key, value in manifest.header.items():
            out.write(f"{key:13} {cell(value)}\n")
    write_records(out, manifest.entries, _MANIFEST_COLUMNS, args.format, zone=config.timezone)
    return 0


def _misprint(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (_, _m, waste):
        journal = waste.journal
        entry = waste.misprint(
            args.job,
            container=args.container,
            reason=args.reason,
            by=args.by,
            outputs=args.outputs or (),
            sheets=args.sheets,
            text=args.text,
            reprint=args.reprint,
        )
        out.write(
            f"waste entry {entry.id}: job {args.job}, {entry.sheets} sheets ({entry.reason}) "
            f"into {entry.container}\n"
        )
        if args.reprint:
            # The misprinted outputs print again as a new job, linked to this entry; the
            # running daemon submits it on its next follow pass.
            again = reprint_misprint(journal, entry, by=args.by)
            out.write(f"job {again.id}: reprint of job {args.job} for waste entry {entry.id}\n")
    return 0


def _duplicates(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (config, _m, waste):
        if args.step == "confirm":
            entry = waste.confirm_duplicate(
                args.event, container=args.container, by=args.by, sheets=args.sheets
            )
            out.write(f"waste entry {entry.id}: duplicate of job {entry.job_id} confirmed\n")
            return 0
        if args.step == "dismiss":
            waste.dismiss_duplicate(args.event, by=args.by, reason=args.reason)
            out.write(f"event {args.event}: dismissed\n")
            return 0
        found = waste.possible_duplicates()
    rows = [
        {"event": d.event, "ts": d.ts, "job": d.job_id, "output": d.output, "why": d.why}
        for d in found
    ]
    write_records(
        out, rows, ["event", "ts", "job", "output", "why"], args.format, zone=config.timezone
    )
    return 0


def _uncollected(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (config, _m, waste):
        if args.step == "mark":
            waste.mark_uncollected(args.job, by=args.by)
        elif args.step == "destroy":
            entry = waste.destroy_uncollected(
                args.job, container=args.container, sheets=args.sheets, by=args.by
            )
            out.write(f"waste entry {entry.id}: job {args.job} into {entry.container}\n")
            return 0
        rows = [
            {"job": u.job_id, "done_at": u.done_at, "marked_by": u.marked_by, "due": u.due,
             "destroyed_in": u.destroyed_in}
            for u in waste.uncollected(due_only=args.step == "due")
        ]  # fmt: skip
    columns = ["job", "done_at", "marked_by", "due", "destroyed_in"]
    write_records(out, rows, columns, args.format, zone=config.timezone)
    return 0


def _report(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (config, _m, waste):
        if args.report == "certificates":
            rows = waste.certificates()
            columns = ["container", "din_level", "company", "collected_on", "certificate",
                       "certified_on", "overdue"]  # fmt: skip
        else:
            rows = waste.per_reason_month()
            columns = ["month", "kind", "reason", "entries", "sheets"]
    write_records(out, rows, columns, args.format, zone=config.timezone)
    return 0


def _common(p: argparse.ArgumentParser, *, by: bool = True, fmt: bool = False) -> None:
    if by:
        p.add_argument("--by", default=default_user(), help="who does it (default: you)")
    if fmt:
        p.add_argument("--format", choices=["table", "csv", "json"], default="table")


def register(sub: Subparsers) -> None:
    """Add ``waste``."""
    waste = sub.add_parser("waste", help="secure waste: containers, misprints, reports")
    areas = waste.add_subparsers(dest="area", required=True, metavar="AREA")

    _register_containers(areas)
    _register_entries(areas)


def _register_containers(areas: Actions) -> None:
    container = areas.add_parser("container", help="open, seal, collect, certify, list, manifest")
    steps = container.add_subparsers(dest="step", required=True, metavar="STEP")
    p = steps.add_parser("open", help="put a new container into service")
    p.add_argument("container")
    p.add_argument(
        "--class",
        dest="material",
        required=True,
        choices=[m.value for m in WasteMaterial],
        help="DIN 66399 material class: P prints, F film, O optical, E electronic",
    )
    p.add_argument("--level", type=int, required=True, help="DIN 66399 security level 1-7")
    p.add_argument("--location", required=True, help="where it stands")
    _common(p)
    p = steps.add_parser("seal", help="seal it for good")
    p.add_argument("container")
    p.add_argument("--seal", required=True, help="the seal number")
    _common(p)
    p = steps.add_parser("collect", help="handed over to the disposal company")
    p.add_argument("container")
    p.add_argument("--company", required=True)
    p.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today)")
    _common(p)
    p = steps.add_parser("certify", help="the certificate of destruction arrived")
    p.add_argument("container")
    p.add_argument("--certificate", required=True, help="the certificate number")
    p.add_argument("--date", type=_date, help="date on the certificate (default: today)")
    _common(p)
    for p in (steps.choices["open"], steps.choices["seal"], steps.choices["collect"],
              steps.choices["certify"]):  # fmt: skip
        p.set_defaults(func=_container)
    p = steps.add_parser("list", help="every container (CSV/JSON export)")
    p.add_argument("--state", choices=[s.value for s in ContainerState])
    p.add_argument("--overdue", action="store_true", help="collected, certificate overdue")
    _common(p, by=False, fmt=True)
    p.set_defaults(func=_list)
    p = steps.add_parser("manifest", help="what is in a container (order references only)")
    p.add_argument("container")
    _common(p, by=False, fmt=True)
    p.set_defaults(func=_manifest)


def _register_entries(areas: Actions) -> None:

    p = areas.add_parser("misprint", help="misprints of a job went into a container")
    p.add_argument("job", type=int)
    p.add_argument("--outputs", type=_outputs, help="output numbers, e.g. 1,3")
    p.add_argument("--sheets", type=int, help="sheets (default: one per output)")
    p.add_argument("--reason", required=True, help="a configured reason, or 'other' with --text")
    p.add_argument("--text", help="what was wrong, for reason 'other'")
    p.add_argument("--container", required=True)
    p.add_argument("--reprint", action="store_true", help="record that it is to be printed again")
    _common(p)
    p.set_defaults(func=_misprint)

    uncollected = areas.add_parser("uncollected", help="finished orders nobody picked up")
    steps = uncollected.add_subparsers(dest="step", required=True, metavar="STEP")
    p = steps.add_parser("mark", help="mark a done job as not picked up")
    p.add_argument("job", type=int)
    _common(p, fmt=True)
    p = steps.add_parser("list", help="every order marked as not picked up")
    _common(p, by=False, fmt=True)
    p = steps.add_parser("due", help="those due for destruction now")
    _common(p, by=False, fmt=True)
    p = steps.add_parser("destroy", help="its prints went into a container")
    p.add_argument("job", type=int)
    p.add_argument("--container", required=True)
    p.add_argument("--sheets", type=int, required=True)
    _common(p)
    for p in steps.choices.values():
        p.set_defaults(func=_uncollected)

    duplicates = areas.add_parser("duplicates", help="possible extra prints to confirm")
    steps = duplicates.add_subparsers(dest="step", required=True, metavar="STEP")
    p = steps.add_parser("list", help="possible duplicates nobody has looked at yet")
    _common(p, by=False, fmt=True)
    p = steps.add_parser("confirm", help="the extra print was found: into a container")
    p.add_argument("event", type=int, help="the event number from `list`")
    p.add_argument("--container", required=True)
    p.add_argument("--sheets", type=int, help="sheets (default: one)")
    _common(p)
    p = steps.add_parser("dismiss", help="no extra print came out")
    p.add_argument("event", type=int)
    p.add_argument("--reason", required=True, help="why it is no duplicate")
    _common(p)
    for p in steps.choices.values():
        p.set_defaults(func=_duplicates)

    p = areas.add_parser("report", help="certificates register, or waste per reason and month")
    p.add_argument("report", nargs="?", choices=["reasons", "certificates"], default="reasons")
    _common(p, by=False, fmt=True)
    p.set_defaults(func=_report)
