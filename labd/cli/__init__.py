"""``labd``: the command line.  The only place that maps errors to exit codes.

Each module of this package adds the commands of one area (``register(sub)``); a new area
adds its module to ``AREAS`` with the commands it registers (a test checks they match).
A command named on the command line imports its own area alone: ``labd convert`` need
not load the daemon's, the alerts' and the console's modules (0.4 s) before it starts;
``labd --version`` loads none, nor the configuration's and logging's modules.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, Protocol, TextIO, cast

from labd import __version__
from labd.cli.common import DEFAULT_CONFIG, CommandParser
from labd.errors import AccessDenied, LabdError

_DAEMON_COMMANDS = frozenset({"run", "demo"})
# Exit codes of what is not a LabdError (those carry their own; see README, exit codes).
EXIT_INTERRUPTED: Final = 130  # Ctrl-C in a command (the daemon stops cleanly, exit 0)
EXIT_OS_ERROR: Final = 74  # EX_IOERR: the system refused a file operation
EXIT_INTERNAL: Final = 70  # EX_SOFTWARE: a fault in labd itself
# Each area's module (in labd.cli) and the commands it registers, in the order of --help.
AREAS: Final[dict[str, tuple[str, ...]]] = {
    "service": ("run", "demo", "check-config"),
    "jobs": ("jobs", "status"),
    "nodes": ("nodes",),
    "journal": ("journal",),
    "intake": ("explain",),
    "media": ("media",),
    "waste": ("waste",),
    "printing": ("retry", "cancel", "reprint", "resolve", "close"),
    "doctor": ("doctor",),
    "convert": ("convert",),
    "retention": ("hold", "release", "erase", "retention"),
    "report": ("report", "records"),
    "alerts": ("alerts",),
    "web": ("web", "user"),
    "tokens": ("token",),
}
# Global options that take a value, for finding the command among the arguments.
_VALUED: Final = frozenset({"-c", "--config", "--base", "--log-level"})


class Area(Protocol):
    """A module of this package: it adds its commands to the parser (argparse's
    sub-parser action; each module types it as the part it uses, ``Subparsers``)."""

    def register(self, sub: Any) -> None: ...  # see the docstring


def area(name: str) -> Area:
    """The module of one area, imported now."""
    return cast("Area", importlib.import_module(f"labd.cli.{name}"))


def _words(argv: Sequence[str]) -> Iterator[str]:
    """The arguments of ``argv`` less the values of the global options."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        else:
            yield arg


def _named_area(argv: Sequence[str]) -> str | None:
    """The area of the command ``argv`` names, or None (no command, or not one of ours:
    every area is then loaded, so that --help and the error list them all)."""
    for arg in _words(argv):
        if not arg.startswith("-"):
            return next((a for a, commands in AREAS.items() if arg in commands), None)
    return None


def _version_alone(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for --version (or argparse's abbreviation of it) before any
    command or help: argparse then prints the version and exits, looking at nothing else."""
    for arg in _words(argv):
        if len(arg) > 2 and "--version".startswith(arg):
            return True
        if arg in ("-h", "--") or not arg.startswith("-") or "--help".startswith(arg):
            return False
    return False


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of every labd command, or of the one ``argv`` names."""
    # Every parser, down to the sub-commands', takes the global options (CommandParser);
    # their defaults are set here once.
    parser = CommandParser(prog="labd", description="Print-production daemon of a photo lab.")
    parser.add_argument("--version", action="version", version=f"labd {__version__}")
    parser.set_defaults(
        config=DEFAULT_CONFIG,
        base=None,
        log_level=os.environ.get("LABD_LOG_LEVEL", "INFO").upper(),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names: Iterable[str] = AREAS
    if argv is not None and _version_alone(argv):
        names = ()
    elif argv is not None and (named := _named_area(argv)) is not None:
        names = (named,)
    for name in names:
        area(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``labd`` console script."""
    if argv is None:
        # The console script, which exits after this command.  At exit, Python's garbage
        # collections would walk every object of every module imported (0.04 s of `labd
        # convert`) only to find what the exit frees anyway: frozen then, they are left
        # out.  Not for a caller that goes on (the tests): its objects stay collectable.
        atexit.register(gc.freeze)
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    # Imported once the arguments are good: --version and --help need no logging.
    import structlog  # noqa: PLC0415

    from labd.logging import configure as configure_logging  # noqa: PLC0415

    log = structlog.get_logger(__name__)
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
        return EXIT_INTERRUPTED
    except PermissionError as e:
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(
            f"labd: {where}permission denied. Run the command as root or as the labd "
            "service's user.\n"
        )
        return AccessDenied.exit_code
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(f"labd: {where}{e.strerror or e}\n")
        return EXIT_OS_ERROR
    except Exception as e:
        # No traceback on a technician's terminal: one line, and where the details are.
        log.debug("cli.crashed", exc_info=e)
        sys.stderr.write(
            f"labd: internal error in `labd {args.command}`: {type(e).__name__}: {e}\n"
            "This is a fault in labd; run the command again with --log-level DEBUG for "
            "the details, and report them.\n"
        )
        return EXIT_INTERNAL
