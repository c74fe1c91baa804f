"""``labd media import``: an order from the customer's medium into a hot folder, in one step."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from labd.cli.media import Actions, default_user, ledgers
from labd.errors import ImportIncomplete, MediaError, MediaMoveRefused
from labd.intake.importing import ImportReport, import_medium, left_lines, ticket_text
from labd.intake.ticket import MAX_COPIES
from labd.media.model import MediaState

__all__ = ["register_import"]


def register_import(actions: Actions) -> None:
    """Add ``media import``."""
    p = actions.add_parser(
        "import",
        help="copy an order's photos from the mounted medium into a hot folder",
        description=(
            "Copy the photos on the mounted medium PATH (read only: nothing on it is "
            "changed) into the hot folder as one order folder with its job ticket, READY "
            "last. The job is linked to the item; when it is printed the item is ready "
            "for return or destruction. What is not a photo is listed and left; a photo "
            "that cannot be read makes the import incomplete and nothing is printed."
        ),
    )
    p.add_argument("item", type=int, help="the medium's item in the media ledger")
    p.add_argument("--from", dest="source", required=True, type=Path, help="its mount point")
    p.add_argument("--hotfolder", required=True, help="the hot folder (the product) to print in")
    p.add_argument("--order", help="the lab's order reference")
    p.add_argument("--copies", type=int, help=f"copies of every photo (1-{MAX_COPIES})")
    p.add_argument("--name", help="the order folder's name (default: the order, or medium-ITEM)")
    p.add_argument("--by", default=default_user(), help="who does it (default: you)")
    p.set_defaults(func=_import)


def _import(args: argparse.Namespace, out: TextIO) -> int:
    if args.copies is not None and not 1 <= args.copies <= MAX_COPIES:
        raise MediaError(args.item, f"--copies must be 1 to {MAX_COPIES}, not {args.copies}")
    with ledgers(args) as (config, media, _w):
        hotfolder = config.hotfolders.get(args.hotfolder)
        if hotfolder is None:
            known = ", ".join(sorted(config.hotfolders)) or "none"
            raise MediaError(args.item, f"no hot folder {args.hotfolder!r} (known: {known})")
        item = media.item(args.item)
        if not item.state.outstanding:
            raise MediaMoveRefused(
                item.id, item.state.value, "import", "it is no longer in the house"
            )
        ticket = ticket_text(item, order=args.order, copies=args.copies)
        report = import_medium(
            args.source,
            hotfolder,
            config.products[hotfolder.product],
            name=args.name or args.order or f"medium-{item.id}",
            ticket=ticket,
            progress=ImportProgress(sys.stderr) if sys.stderr.isatty() else None,
        )
        if report.complete and item.state is MediaState.UNLINKED and args.order:
            media.link(item.id, by=args.by, orders=[args.order])
        media.imported(
            item.id,
            by=args.by,
            hotfolder=hotfolder.name,
            files=len(report.copied),
            size=report.bytes,
            left=len(report.left),
            unreadable=len(report.unreadable),
            folder=report.folder,
        )
    _write_report(out, report, hotfolder.path)
    if report.unreadable:
        names = ", ".join(e.name for e in report.unreadable)
        raise ImportIncomplete(item.id, f"cannot read {names}; clean the medium or copy again")
    if not report.complete:
        raise MediaError(item.id, f"no photo to print under {args.source}")
    return 0


def _write_report(out: TextIO, report: ImportReport, hot: Path) -> None:
    mb = report.bytes / 1024**2
    if report.complete:
        out.write(
            f"imported {len(report.copied)} photos ({mb:.1f} MB, each verified) into "
            f"{hot / str(report.folder)}\n"
        )
    for line in left_lines(report.left):
        out.write(f"left on the medium: {line}\n")
    for line in left_lines(report.unreadable):
        out.write(f"UNREADABLE: {line}\n")


class ImportProgress:
    """One line on the terminal, rewritten as the copy goes on."""

    def __init__(self, err: TextIO) -> None:
        self.err = err

    def __call__(self, files: int, total: int, done: int, size: int) -> None:
        self.err.write(
            f"\rcopying {files}/{total} photos, {done / 1024**2:.0f}/{size / 1024**2:.0f} MB"
        )
        if files == total:
            self.err.write("\n")
        self.err.flush()
