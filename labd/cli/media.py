"""``labd media``: customer media custody (register, link, list, return, destroy, lost ...)."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import tzinfo
from typing import TextIO, TypeAlias

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.clock import readable
from labd.config import Config
from labd.errors import MediaError
from labd.media.ledger import MediaLedger
from labd.media.model import Disposition, IdKind, Material, MediaItem, MediaKind, MediaState
from labd.waste.ledger import WasteLedger

# The sub-command action argparse returns; nested commands are added to it.  Quoted: the
# class is not subscriptable at run time.
Actions: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_LIST_COLUMNS = (
    "id", "state", "kind", "material", "disposition", "identifier", "orders", "jobs",
    "received_by", "received_at", "ready_at", "closed_at", "present",
)  # fmt: skip


def default_user() -> str:
    """Who is acting: the user behind sudo, else the login user."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def cell(value: object) -> str:
    """A value for a text table or CSV cell."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _csv_cell(value: object) -> str:
    # Empty, not "-", so a spreadsheet sees no value.
    if value is None or value in ([], ()):
        return ""
    return cell(value)


def is_timestamp(column: str) -> bool:
    """Whether a column holds journal timestamps (``ts``, ``*_at``); ``*_on`` are dates."""
    return column == "ts" or column.endswith("_at")


def write_records(
    out: TextIO,
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    fmt: str,
    *,
    zone: tzinfo | None,
) -> None:
    """Rows as an aligned table (times in ``zone``), CSV (with a header) or JSON lines
    (times in UTC, as the journal has them)."""
    if fmt == "json":
        for row in rows:
            out.write(json.dumps(dict(row), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
    else:
        write_table(
            out,
            [c.upper() for c in columns],
            [[_table_cell(c, row.get(c), zone) for c in columns] for row in rows],
        )


def _table_cell(column: str, value: object, zone: tzinfo | None) -> str:
    if is_timestamp(column) and isinstance(value, str):
        return readable(value, zone)
    return cell(value)


@contextmanager
def ledgers(args: argparse.Namespace) -> Iterator[tuple[Config, MediaLedger, WasteLedger]]:
    """The configuration and both ledgers on the existing journal, closed afterwards."""
    config = config_of(args)
    with open_journal(config) as journal:
        media = MediaLedger(journal, config.media)
        yield config, media, WasteLedger(journal, config.waste, media)


def _show(out: TextIO, item: MediaItem) -> None:
    out.write(
        f"media {item.id}: {item.state.value} ({item.kind.value}, class {item.material.value}, "
        f"to {item.disposition.value})\n"
    )


def _register(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (_, media, _w):
        item = media.register(
            MediaKind(args.kind),
            args.identifier,
            by=args.by,
            id_kind=IdKind(args.id_kind),
            orders=args.order or (),
            jobs=args.job or (),
            disposition=Disposition(args.disposition) if args.disposition else None,
            material=Material(args.material) if args.material else None,
        )
        _show(out, item)
    return 0


def _link(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (_, media, _w):
        _show(out, media.link(args.item, by=args.by, orders=args.order or (), jobs=args.job or ()))
    return 0


def _simple(
    action: Callable[[MediaLedger, argparse.Namespace], MediaItem],
) -> Callable[[argparse.Namespace, TextIO], int]:
    def run(args: argparse.Namespace, out: TextIO) -> int:
        with ledgers(args) as (_, media, _w):
            _show(out, action(media, args))
        return 0

    return run


def _destroy(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (_, media, waste):
        if args.container:
            waste.destroy_media(
                args.item,
                container=args.container,
                by=args.by,
                override=args.override,
                reason=args.reason,
            )
            item = media.item(args.item)
        else:
            if not args.level:
                raise MediaError(args.item, "a shredder run needs its DIN 66399 --level, e.g. O-3")
            item = media.destroyed(
                args.item,
                by=args.by,
                level=args.level,
                shredder_run=args.shredder_run,
                override=args.override,
                reason=args.reason,
            )
        _show(out, item)
    return 0


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (config, media, _w):
        if args.overdue:
            items = media.overdue()
        else:
            states = [MediaState(s) for s in args.state] if args.state else None
            items = media.items(
                states=states, outstanding=args.outstanding, order=args.order, job=args.job
            )
        rows = [i.as_row() for i in items]
    columns = list(rows[0]) if rows and args.format != "table" else list(_LIST_COLUMNS)
    write_records(out, rows, columns, args.format, zone=config.timezone)
    return 0


def _history(args: argparse.Namespace, out: TextIO) -> int:
    with ledgers(args) as (config, media, _w):
        events = media.history(args.item)
    rows = [
        {"seq": e.seq, "ts": e.ts, "event": e.kind, "data": dict(e.data), "detail": e.detail}
        for e in events
    ]
    if args.format == "table":
        for e in events:
            data = " ".join(f"{k}={v}" for k, v in sorted(e.data.items()) if k != "item")
            detail = f" ({e.detail})" if e.detail else ""
            out.write(
                f"{e.seq:>6}  {readable(e.ts, config.timezone)}  {e.kind:26} {data}{detail}\n"
            )
        return 0
    write_records(
        out, rows, ["seq", "ts", "event", "data", "detail"], args.format, zone=config.timezone
    )
    return 0


def _by(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", default=default_user(), help="who does it (default: you)")


def _format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")


def register(sub: Subparsers) -> None:
    """Add ``media``."""
    media = sub.add_parser("media", help="customer media: register, link, return, destroy ...")
    actions = media.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser("register", help="register a carrier received with an order")
    p.add_argument("--kind", required=True, choices=[k.value for k in MediaKind])
    p.add_argument("--id", dest="identifier", required=True, help="serial, volume label or tag")
    p.add_argument("--id-kind", choices=[k.value for k in IdKind], default=IdKind.TAG.value)
    p.add_argument("--order", action="append", help="the lab's order reference (repeatable)")
    p.add_argument("--job", action="append", type=int, help="a labd job id (repeatable)")
    p.add_argument("--disposition", choices=[d.value for d in Disposition])
    p.add_argument("--material", choices=[m.value for m in Material], help="DIN 66399 class")
    _by(p)
    p.set_defaults(func=_register)

    p = actions.add_parser("link", help="link an item (e.g. a detected stick) to an order")
    p.add_argument("item", type=int)
    p.add_argument("--order", action="append")
    p.add_argument("--job", action="append", type=int)
    _by(p)
    p.set_defaults(func=_link)
    _register_moves(actions)
    _register_closing(actions)
    _register_reading(actions)
    # It builds on this module's helpers, so it is imported here, not at the top.
    from labd.cli.media_import import register_import  # noqa: PLC0415

    register_import(actions)


def _register_moves(actions: Actions) -> None:

    p = actions.add_parser("dismiss", help="a detected device that is no customer's carrier")
    p.add_argument("item", type=int)
    p.add_argument("--reason", required=True)
    _by(p)
    p.set_defaults(func=_simple(lambda m, a: m.dismiss(a.item, by=a.by, reason=a.reason)))

    p = actions.add_parser("use", help="the order's files are being taken from it")
    p.add_argument("item", type=int)
    _by(p)
    p.set_defaults(func=_simple(lambda m, a: m.in_use(a.item, by=a.by)))

    p = actions.add_parser("ready", help="its order is done; it waits to go back or be destroyed")
    p.add_argument("item", type=int)
    _by(p)
    p.set_defaults(func=_simple(lambda m, a: m.ready(a.item, by=a.by)))

    p = actions.add_parser("disposition", help="change return/destroy (with a reason)")
    p.add_argument("item", type=int)
    p.add_argument("disposition", choices=[d.value for d in Disposition])
    p.add_argument("--reason", required=True)
    _by(p)
    p.set_defaults(
        func=_simple(
            lambda m, a: m.set_disposition(
                a.item, Disposition(a.disposition), by=a.by, reason=a.reason
            )
        )
    )


def _register_closing(actions: Actions) -> None:
    p = actions.add_parser("return", help="handed back to the customer")
    p.add_argument("item", type=int)
    p.add_argument("--shipment", help="parcel or shipment reference")
    p.add_argument("--override", action="store_true", help="it is marked for destruction")
    p.add_argument("--reason", help="why the override")
    _by(p)
    p.set_defaults(
        func=_simple(
            lambda m, a: m.returned(
                a.item, by=a.by, shipment=a.shipment, override=a.override, reason=a.reason
            )
        )
    )

    p = actions.add_parser("destroy", help="destroyed: into a waste container or a shredder run")
    p.add_argument("item", type=int)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--container", help="the secure-waste container it went into")
    where.add_argument("--shredder-run", help="the lab's own shredder run (needs --level)")
    p.add_argument("--level", help="DIN 66399 level of the shredder run, e.g. O-3")
    p.add_argument("--override", action="store_true", help="it is marked for return")
    p.add_argument("--reason", help="why the override")
    _by(p)
    p.set_defaults(func=_destroy)

    p = actions.add_parser("certify", help="certificate of destruction of a shredder run")
    p.add_argument("item", type=int)
    p.add_argument("--certificate", required=True)
    _by(p)
    p.set_defaults(func=_simple(lambda m, a: m.certify(a.item, a.certificate, by=a.by)))

    p = actions.add_parser("lost", help="record a lost item (a data-protection incident)")
    p.add_argument("item", type=int)
    p.add_argument("--contents", required=True, help="what was on it")
    p.add_argument("--measures", required=True, help="what was done")
    _by(p)
    p.set_defaults(
        func=_simple(lambda m, a: m.lost(a.item, by=a.by, contents=a.contents, measures=a.measures))
    )


def _register_reading(actions: Actions) -> None:
    p = actions.add_parser("list", help="list items (CSV/JSON export)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--outstanding", action="store_true", help="still in the house")
    which.add_argument("--overdue", action="store_true", help="ready for longer than allowed")
    p.add_argument("--order", help="only items of this order reference")
    p.add_argument("--job", type=int, help="only items of this job")
    p.add_argument("--state", action="append", choices=[s.value for s in MediaState])
    _format(p)
    p.set_defaults(func=_list)

    p = actions.add_parser("history", help="every event of one item")
    p.add_argument("item", type=int)
    _format(p)
    p.set_defaults(func=_history)
