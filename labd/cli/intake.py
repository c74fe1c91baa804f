"""``labd explain``: what labd would do with a path in a hot folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from labd.cli.common import Subparsers, config_of
from labd.intake.explain import explain


def cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    """Say what labd would do with each path, and why."""
    config = config_of(args)
    for path in args.paths:
        out.write(explain(path, config.hotfolders.values()) + "\n")
    return 0


def register(sub: Subparsers) -> None:
    """Add ``explain``."""
    explain_ = sub.add_parser("explain", help="what labd would do with a path, and why")
    explain_.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    explain_.set_defaults(func=cmd_explain)
