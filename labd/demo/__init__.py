"""``labd demo``: labd's main job on an embedded default, for a newcomer's first look.

Everything lives under one local folder: hot folders, spool, quarantine, journal, and a
private CUPS whose queues (one per configured printer) all print to a virtual IPP printer
that keeps every document it receives.  A real CUPS is used instead when the configuration
names a server that has every queue.

The private CUPS (:mod:`labd.demo.embedded`, which the tests start too) lives here, out of
the daemon's import path: ``labd run`` and the other commands never load it.
"""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import structlog

from labd.config import Config
from labd.daemon import Daemon
from labd.demo.console import USER, DemoConsole, start_console
from labd.demo.embedded import EmbeddedPrintServer
from labd.errors import ConfigError, EmbeddedPrintServerError, PrintError
from labd.journal import ensure_private_dir
from labd.model import HotFolder, Layout, OutputFormat, Product
from labd.printing import CupsClient
from labd.running import DaemonLock

log = structlog.get_logger(__name__)


def _real_cups_ready(config: Config) -> bool:
    if config.cups_server is None:
        return False
    client = CupsClient(config.cups_server)
    try:
        return all(client.queue_accepting(p.queue)[0] for p in config.printers.values())
    except PrintError:
        return False


class DemoSetup:
    """The demo's configuration made from the file's: every path under ``base``, the hot
    folders there and private to the lab, and the embedded CUPS (when one runs) with a
    queue for every printer.

    Applied at start and, as the daemon's ``adapt``, to the file each reload (SIGHUP)
    rereads: a hot folder or printer added to the file is made here too.
    """

    def __init__(self, base: Path, server: EmbeddedPrintServer | None) -> None:
        self.base = base
        self.server = server

    def __call__(self, config: Config) -> Config:
        """``config`` moved under the demo's folder; ConfigError when that cannot be made."""
        config = config.rebased(self.base)
        for hf in config.hotfolders.values():
            try:
                hf.path.mkdir(parents=True, exist_ok=True)
                hf.path.chmod(0o770)  # private to the lab, or labd refuses to watch it
            except OSError as e:
                raise ConfigError(
                    str(config.source), f"hotfolders.{hf.name}.path", f"{hf.path}: {e.strerror}"
                ) from e
        if self.server is None:
            return config
        for printer in sorted(config.printers.values(), key=lambda p: p.name):
            if printer.queue in self.server.queues:
                continue
            try:
                self.server.add_printer_queue(printer.queue)
            except EmbeddedPrintServerError as e:
                raise ConfigError(
                    str(config.source), f"printers.{printer.name}.queue", e.get_message()
                ) from e
        return replace(config, cups_server=self.server.server)


def run_demo(config: Config, base: Path, *, out: TextIO, config_path: Path) -> int:
    """Set up everything under ``base`` and run the daemon in the foreground."""
    config = config.rebased(base)
    base.mkdir(parents=True, exist_ok=True)
    ensure_private_dir(config.state_dir)
    # Before anything is started: a second demo on the same folder stops here, and never
    # starts a CUPS of its own (whose clean-up would take the first one's socket away).
    lock = DaemonLock.acquire(config.state_dir)
    try:
        return _run(config, base, lock, out=out, config_path=config_path)
    finally:
        lock.release()


def _run(config: Config, base: Path, lock: DaemonLock, *, out: TextIO, config_path: Path) -> int:
    server: EmbeddedPrintServer | None = None
    if not _real_cups_ready(config):
        queues = sorted({p.queue for p in config.printers.values()})
        server = EmbeddedPrintServer(base / "printer").start(queues)
    try:
        setup = DemoSetup(base, server)
        config = setup(config)
        daemon = Daemon(config, adapt=setup)
        daemon.handle_signals()  # Ctrl-C stops it cleanly from the moment the banner says so
        console = start_console(
            config, base, config_path, server.server if server is not None else None
        )
        try:
            out.write(banner(config, base, config_path, server, console))
            out.flush()
            return daemon.run(lock)
        finally:
            if isinstance(console, DemoConsole):
                console.stop()
    finally:
        if server is not None:
            server.stop()


def _takes(product: Product | None) -> str:
    """What a newcomer drops into a hot folder of ``product``, and what comes out."""
    if product is None:
        return ""
    if product.format is OutputFormat.JPEG:
        return "photos -> prints"
    if product.layout is Layout.PHOTOBOOK:
        return "a folder of photos -> one photobook (PDF)"
    return "print-ready PDFs, printed as they are"


def _hotfolder_lines(config: Config) -> str:
    folders: list[HotFolder] = list(config.hotfolders.values())
    width = max((len(str(hf.path)) for hf in folders), default=0)
    lines = [
        f"      {hf.name:20} {hf.path!s:{width}}  {_takes(config.products.get(hf.product))}"
        for hf in folders
    ]
    return "".join(line.rstrip() + "\n" for line in lines)


def banner(
    config: Config,
    base: Path,
    config_path: Path,
    server: EmbeddedPrintServer | None,
    console: DemoConsole | str | None = None,
) -> str:
    """What the demo prints once it runs: where to drop files, where prints come out, and
    the commands that look at it (labd's, CUPS', a reload), and the console with its
    one-time login (or why it did not start)."""
    # The command as the newcomer can type it: the venv's labd when that is what runs.
    program = sys.argv[0] if Path(sys.argv[0]).name == "labd" else "labd"
    source = shlex.quote(str(config_path))
    me = f"{program} --config {source} --base {shlex.quote(str(base))}"
    output = (
        f"the printers of CUPS at {config.cups_server}" if server is None else server.output_dir
    )
    cups = shlex.quote(str(config.cups_server))
    said = [
        ("Printed output appears in:", str(output)),
        ("Quarantined input:", str(config.quarantine_dir)),
        ("Journal:", str(config.journal_path)),
        ("In another terminal:", f"{me} jobs   |   {me} journal"),
        ("Check the set-up:", f"{me} doctor --service-user {getpass.getuser()}"),
        ("For lpstat, cupsdisable:", f"export CUPS_SERVER={cups}"),
        ("Reload the configuration:", f"edit {source}, then kill -HUP {os.getpid()}"),
    ]
    if isinstance(console, DemoConsole):
        said.append(("The console in a browser:", console.url))
        said.append(("Its login, for this run:", f"{USER} {console.password}  (admin)"))
    elif console is not None:
        said.append(("The console in a browser:", console))
    return (
        "\nlabd demo is running.\n"
        "  Drop a file, or a folder of files (one order), into a hot folder:\n"
        + _hotfolder_lines(config)
        + "".join(f"  {label:27} {value}\n" for label, value in said)
        + "  Stop with Ctrl-C.\n\n"
    )
