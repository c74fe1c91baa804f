"""``labd demo``: labd's main job on an embedded default, for a newcomer's first look.

Everything lives under one local folder: hot folders, spool, quarantine, journal, and a
private CUPS whose queues (one per configured printer) all print to a virtual IPP printer
that keeps every document it receives.  A real CUPS is used instead when the configuration
names a server that has every queue.

The private CUPS (:mod:`labd.demo.embedded`, which the tests start too) lives here, out of
the daemon's import path: ``labd run`` and the other commands never load it.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import structlog

from labd.config import Config
from labd.daemon import Daemon
from labd.demo.embedded import EmbeddedPrintServer
from labd.errors import PrintError
from labd.journal import ensure_private_dir
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
    for hf in config.hotfolders.values():
        hf.path.mkdir(parents=True, exist_ok=True)
        hf.path.chmod(0o770)  # private to the lab, or labd refuses to watch it
    queues = sorted({p.queue for p in config.printers.values()})
    server: EmbeddedPrintServer | None = None
    if _real_cups_ready(config):
        output = f"the printers of CUPS at {config.cups_server}"
    else:
        server = EmbeddedPrintServer(base / "printer").start(queues)
        config = replace(config, cups_server=server.server)
        output = str(server.output_dir)
    # The command as the newcomer can type it: the venv's labd when that is what runs.
    program = sys.argv[0] if Path(sys.argv[0]).name == "labd" else "labd"
    me = f"{program} --config {config_path} --base {base}"
    daemon = Daemon(config)
    daemon.handle_signals()  # Ctrl-C stops it cleanly from the moment the banner says so
    out.write(
        "\nlabd demo is running.\n"
        f"  Drop photos (or a folder of photos) into:  {base / 'hot'}/<hot folder>/\n"
        + "".join(f"      {hf.name:20} {hf.path}\n" for hf in config.hotfolders.values())
        + f"  Printed output appears in:  {output}\n"
        f"  Quarantined input:          {config.quarantine_dir}\n"
        f"  Journal:                    {config.journal_path}\n"
        f"  In another terminal:        {me} jobs   |   {me} journal\n"
        "  Stop with Ctrl-C.\n\n"
    )
    out.flush()
    try:
        return daemon.run(lock)
    finally:
        if server is not None:
            server.stop()
