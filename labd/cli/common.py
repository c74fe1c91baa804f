"""What every command module shares: loading the configuration, the journal, tables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Protocol, TextIO

from labd import schemas
from labd.config import Config, load
from labd.journal import Journal

DEFAULT_CONFIG: Final = Path(os.environ.get("LABD_CONFIG", "/etc/labd/labd.toml"))


class Subparsers(Protocol):
    """The part of argparse's sub-parser action the command modules use."""

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser: ...


def config_of(args: argparse.Namespace) -> Config:
    """The configuration named by --config, moved under --base when given."""
    config = load(args.config)
    if args.base is not None:
        config = config.rebased(args.base)
    return config


def open_journal(config: Config) -> Journal:
    """The journal of ``config``, which must exist already: commands never create it, nor
    migrate it (they refuse one older or newer than the code; the daemon migrates)."""
    return schemas.open_journal(config.journal_path, create=False, migrate=False)


def write_table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain, aligned text table; '(none)' when there are no rows."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    for row in [header, *rows]:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    if not rows:
        out.write("(none)\n")
