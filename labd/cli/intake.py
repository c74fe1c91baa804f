"""``labd explain``: what labd would do with a path, or did with it, and why."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from labd.cli.common import Subparsers, config_of, open_journal
from labd.intake.explain import explain


def cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    """Say what labd would do (or did) with each path, and why."""
    config = config_of(args)
    # Before labd first ran there is no journal: only the present can be answered.
    journal = open_journal(config) if config.journal_exists else None
    try:
        for path in args.paths:
            text = explain(
                path,
                config.hotfolders.values(),
                journal=journal,
                quarantine_dir=config.quarantine_dir,
                spool_dir=config.spool_dir,
                zone=config.timezone,
            )
            out.write(text + "\n")
    finally:
        if journal is not None:
            journal.close()
    return 0


def register(sub: Subparsers) -> None:
    """Add ``explain``."""
    explain_ = sub.add_parser(
        "explain",
        help="what labd would do with a path, or did with it, and why",
        description="For a path in a hot folder: what labd will do with it and why; for a "
        "file labd has taken (gone from the hot folder, in the quarantine or the spool, or "
        "just its name): which job took it, when, and where that job is now.",
    )
    explain_.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    explain_.set_defaults(func=cmd_explain)
