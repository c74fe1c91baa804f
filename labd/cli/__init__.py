"""``labd``: the command line.  The only place that maps errors to exit codes.

Each module of this package adds the commands of one area (``register(sub)``); a new area
adds its module to ``_AREAS``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import structlog

from labd import __version__
from labd.cli import (
    convert,
    doctor,
    intake,
    jobs,
    journal,
    media,
    printing,
    report,
    retention,
    service,
    waste,
)
from labd.cli.common import DEFAULT_CONFIG
from labd.errors import LabdError
from labd.logging import configure as configure_logging

log = structlog.get_logger(__name__)

_DAEMON_COMMANDS = frozenset({"run", "demo"})
_AREAS = (
    service,
    jobs,
    journal,
    intake,
    media,
    waste,
    printing,
    doctor,
    convert,
    retention,
    report,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every labd command."""
    parser = argparse.ArgumentParser(
        prog="labd", description="Print-production daemon of a photo lab."
    )
    parser.add_argument("--version", action="version", version=f"labd {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="configuration file (default: $LABD_CONFIG or %(default)s)",
    )
    parser.add_argument(
        "--base",
        type=Path,
        default=None,
        help="move every path of the configuration under this folder "
        "(a local trial; `labd demo --dir` uses the same layout)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LABD_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in _AREAS:
        area.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``labd`` console script."""
    args = build_parser().parse_args(argv)
    # The daemon logs to stdout (journald); every other command's stdout is its output
    # (tables, JSON, CSV), so its log lines go to stderr.
    daemon = args.command in _DAEMON_COMMANDS
    configure_logging(level=args.log_level, stream=None if daemon else sys.stderr)
    out = out or sys.stdout
    try:
        return int(args.func(args, out))
    except LabdError as e:
        sys.stderr.write(f"labd: {e.get_message()}\n")
        log.debug("cli.failed", code=e.code, exit_code=e.exit_code)
        return e.exit_code
    except BrokenPipeError:
        return 0  # `labd journal | head`: the reader has what it wanted
    except KeyboardInterrupt:
        return 130
