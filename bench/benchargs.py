"""What every benchmark's command line shares: --help that shows the defaults, --verbose.

A process that has not configured logging gets structlog's defaults, which print every
debug line labd writes (thousands a run); a benchmark is quiet unless asked.
"""

from __future__ import annotations

import argparse
import sys

from labd.logging import configure as configure_logging


def parser(doc: str | None, *, epilog: str | None = None) -> argparse.ArgumentParser:
    """A parser whose description is the first paragraph of the bench's docstring ``doc``."""
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[0] if doc else None,
        epilog=epilog,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def parse(options: argparse.ArgumentParser, *, json: bool | None = None) -> argparse.Namespace:
    """Add --verbose, parse the command line, and send labd's log to stderr: warnings only,
    or everything with --verbose."""
    options.add_argument("--verbose", action="store_true", help="show labd's log on stderr")
    args = options.parse_args()
    configure_logging(level="DEBUG" if args.verbose else "WARNING", json=json, stream=sys.stderr)
    return args


def quiet() -> None:
    """labd's log at warnings only: for a benchmark's own worker processes (an initializer),
    which :func:`parse` has not configured."""
    configure_logging(level="WARNING", stream=sys.stderr)
