"""Commands that run labd: run, demo, check-config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from labd.cli.common import Subparsers, config_of
from labd.config import Config, check_paths, load


def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    """Validate the configuration file and the paths it names."""
    config = config_of(args)
    check_paths(config)
    out.write(
        f"{config.source}: OK ({len(config.hotfolders)} hot folders, "
        f"{len(config.products)} products, {len(config.printers)} printers)\n"
    )
    for hf in config.hotfolders.values():
        queue = config.printers[hf.printer].queue
        out.write(f"  {hf.name}: {hf.path} -> product {hf.product} -> queue {queue}\n")
    return 0


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
    sub.add_parser("check-config", help="validate the configuration and exit").set_defaults(
        func=cmd_check_config
    )
    demo = sub.add_parser("demo", help="run on an embedded CUPS with a virtual printer")
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("demo"),
        help="where hot folders, spool, journal and printer output go",
    )
    demo.set_defaults(func=cmd_demo)
