"""Commands that run labd: run, demo, check-config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from labd.cli.common import Subparsers, config_of
from labd.cli.journal_admin import inspect_journal
from labd.config import Config, check_paths, load
from labd.errors import AccessDenied, JournalUnusable


def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    """Validate the configuration file and the paths it names, and a PostgreSQL journal:
    connection, server version, schema version, the role's privileges."""
    config = config_of(args)
    check_paths(config)
    journal = _check_journal(config)
    out.write(
        f"{config.source}: OK ({len(config.hotfolders)} hot folders, "
        f"{len(config.products)} products, {len(config.printers)} printers)\n"
    )
    for hf in config.hotfolders.values():
        queue = config.printers[hf.printer].queue
        out.write(f"  {hf.name}: {hf.path} -> product {hf.product} -> queue {queue}\n")
    out.writelines(f"  {line}\n" for line in journal)
    return 0


def _check_journal(config: Config) -> list[str]:
    """A PostgreSQL journal's lines for check-config; a LabdError (one line, the URL without
    secrets) for what stops labd: no connection, too old a server, a schema not this
    labd's, privileges labd's role lacks.  A SQLite journal is the daemon's to create."""
    location = config.journal.postgres
    if location is None:
        return []
    found = inspect_journal(location)
    problem = found.server_problem()
    if problem is not None:
        raise JournalUnusable(found.name, problem)
    missing = found.privileges_problem()
    if missing is not None:
        grants = f"labd journal grants {found.facts.role}"
        raise AccessDenied(found.name, f"{missing}. As the tables' owner: {grants} | psql ...")
    schema = found.schema_problem()
    if schema is not None:
        raise schema
    facts = found.facts
    lines = [
        f"journal: {found.name}: PostgreSQL {facts.server_version.split()[0]}, role "
        f"{facts.role}, node {config.journal.node}, schema current"
    ]
    warning = found.rewrites_warning()
    if warning is not None:
        lines.append(f"warning: {warning} (labd doctor says how to fix it)")
    return lines


def cmd_run(args: argparse.Namespace, _out: TextIO) -> int:
    """Run the daemon in the foreground."""
    from labd.daemon import Daemon  # noqa: PLC0415  # only `run` pays for the whole daemon

    base: Path | None = args.base

    def adapt(config: Config) -> Config:
        # --base again at each reload: the file names the folders without it.
        return config if base is None else config.rebased(base)

    return Daemon(config_of(args), adapt=adapt).run()


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Run labd on an embedded CUPS with a virtual printer, everything under --dir."""
    from labd.demo import run_demo  # noqa: PLC0415  # only the demo starts a private CUPS

    return run_demo(load(args.config), args.dir.absolute(), out=out, config_path=args.config)


def register(sub: Subparsers) -> None:
    """Add run, demo and check-config."""
    sub.add_parser("run", help="run the daemon in the foreground").set_defaults(func=cmd_run)
    sub.add_parser(
        "check-config", help="validate the configuration (and reach a PostgreSQL journal) and exit"
    ).set_defaults(func=cmd_check_config)
    demo = sub.add_parser("demo", help="run on an embedded CUPS with a virtual printer")
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("demo"),
        help="where hot folders, spool, journal and printer output go",
    )
    demo.set_defaults(func=cmd_demo)
