"""What every command module shares: loading the configuration, the journal, tables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

from labd.errors import UnknownName

if TYPE_CHECKING:
    from labd.config import Config
    from labd.journal import Journal, JournalView
    from labd.model import JobState

DEFAULT_CONFIG: Final = Path(os.environ.get("LABD_CONFIG", "/etc/labd/labd.toml"))
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")


class CommandParser(argparse.ArgumentParser):
    """An argument parser that takes labd's global options wherever people type them.

    ``labd convert --config FILE ...`` is as good as ``labd --config FILE convert ...``:
    every parser, the commands' and their sub-commands' (``add_subparsers`` makes parsers
    of the parent's class), knows the global options.  Their defaults are the top-level
    parser's ``set_defaults``; here they default to nothing (SUPPRESS), so an option not
    given after the command leaves what was given before it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # argparse passes them through
        super().__init__(*args, **kwargs)
        group = self.add_argument_group("global options (before or after the command)")
        group.add_argument(
            "-c",
            "--config",
            type=Path,
            default=argparse.SUPPRESS,
            help=f"configuration file (default: $LABD_CONFIG or {DEFAULT_CONFIG})",
        )
        group.add_argument(
            "--base",
            type=Path,
            default=argparse.SUPPRESS,
            help="move every path of the configuration under this folder "
            "(a local trial; `labd demo --dir` uses the same layout)",
        )
        group.add_argument(
            "--log-level",
            type=str.upper,
            choices=LOG_LEVELS,
            default=argparse.SUPPRESS,
            help="DEBUG, INFO, WARNING or ERROR (default: $LABD_LOG_LEVEL or INFO)",
        )


class Subparsers(Protocol):
    """The part of argparse's sub-parser action the command modules use."""

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser: ...


def config_of(args: argparse.Namespace) -> Config:
    """The configuration named by --config, moved under --base when given."""
    # Imported here, as in open_journal: `labd --version` and --help read no configuration.
    from labd.config import load  # noqa: PLC0415

    config = load(args.config)
    if args.base is not None:
        config = config.rebased(args.base)
    return config


def open_journal(config: Config) -> Journal:
    """The journal of ``config``, which must exist already: commands never create it, nor
    migrate it (they refuse one older or newer than the code; the daemon migrates)."""
    # Imported here: every domain's tables come with it (0.17 s), which `labd convert`
    # and `labd check-config` never need.
    from labd import schemas  # noqa: PLC0415

    return schemas.open_configured(config, create=False, migrate=False)


def add_node_option(parser: argparse.ArgumentParser, what: str = "jobs") -> None:
    """``--node``: only what one print server of a shared journal did."""
    parser.add_argument(
        "--node", help=f"only the {what} of this print server (labd nodes lists them)"
    )


def select_node(journal: JournalView, node: str | None) -> None:
    """Narrow ``journal``'s job queries to ``node`` (``--node``); a name the journal does
    not know is an error naming the known ones, not an empty list."""
    if node is None:
        return
    from labd.journal.nodes import node_names  # noqa: PLC0415  # see open_journal

    known = node_names(journal.store)
    if node not in known:
        raise UnknownName("node", node, "the journal", ", ".join(known) or "none")
    journal.scope = node


def job_state(text: str) -> JobState:
    """A job state as people type it (``QUARANTINED``, ``quarantined``): an argparse type."""
    from labd.model import JobState  # noqa: PLC0415  # see config_of

    try:
        return JobState(text.strip().upper())
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise argparse.ArgumentTypeError(f"no state {text!r}; states: {known}") from None


def hotfolders_filter(
    config: Config, journal: JournalView, *, hotfolder: str | None, printer: str | None
) -> tuple[str, ...] | None:
    """The hot folders that ``--hotfolder`` and ``--printer`` select; None: every one.

    A printer selects the hot folders that print on it in the configuration.  A name
    neither the configuration nor the journal knows is an error naming the known ones,
    not an empty list that looks like "no such jobs".
    """
    chosen: set[str] | None = None
    if hotfolder is not None:
        known = sorted({*config.hotfolders, *journal.hotfolder_names()})
        if hotfolder not in known:
            where = "the configuration or the journal"
            raise UnknownName("hot folder", hotfolder, where, ", ".join(known) or "none")
        chosen = {hotfolder}
    if printer is not None:
        if printer not in config.printers:
            known = sorted(config.printers)
            raise UnknownName("printer", printer, "the configuration", ", ".join(known) or "none")
        on_printer = {hf.name for hf in config.hotfolders.values() if hf.printer == printer}
        chosen = on_printer if chosen is None else chosen & on_printer
    return None if chosen is None else tuple(sorted(chosen))


def write_table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain, aligned text table; '(none)' when there are no rows."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    for row in [header, *rows]:
        out.write(table_line(row, widths))
    if not rows:
        out.write("(none)\n")


def table_line(row: Sequence[str], widths: Sequence[int]) -> str:
    """One line of a table of these column widths (a longer cell pushes the rest right)."""
    return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
