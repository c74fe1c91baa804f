"""The embedded print server's queues: lpadmin adds them, CUPS says when they are ready.

Each printer queue gets a virtual printer of its own because ippeveprinter prints one job
at a time and answers "busy" to a second; CUPS' ipp backend then waits about ten seconds
before trying again, so two queues sharing one virtual printer would stall each other.
A queue counts as added once CUPS says it accepts jobs, not when lpadmin returns.
"""

from __future__ import annotations

import subprocess
import time
from typing import Final

import structlog

from labd.demo.layout import Layout
from labd.demo.processes import POLL_INTERVAL, START_TIMEOUT, Supervisor, tail
from labd.errors import EmbeddedPrintServerError, PrintError
from labd.printing.cups import CupsClient

log = structlog.get_logger(__name__)

_LPADMIN_TIMEOUT: Final = 10.0  # seconds to keep retrying lpadmin for one queue
_QUEUE_NAME_MAX: Final = 127
_QUEUE_NAME_FORBIDDEN: Final = "/\\?'\"#"


class Queues:
    """Adds queues to the running cupsd and keeps their names and printers' URIs."""

    def __init__(self, layout: Layout, processes: Supervisor) -> None:
        self.layout = layout
        self.processes = processes
        self.names: list[str] = []
        self.printer_uris: dict[str, str] = {}  # queue -> URI of its virtual printer

    def add_printer_queue(self, name: str) -> None:
        """Start a virtual printer for ``name`` and add a driverless queue printing to it."""
        self._check_new(name)
        uri = self.processes.start_printer(name)
        if self.layout.ppd(name).exists():
            # Kept from an earlier start under this root, with the PPD of this same virtual
            # printer: only its port changes.  Regenerating the PPD of a live queue leaves
            # it without a filter chain for a moment, and a job sent then is aborted.
            self.add(name, ["-v", uri, "-E"])
        else:
            # cupsd makes the driverless PPD in a thread after lpadmin returns.  Without
            # -E the queue stays stopped and rejecting until cupsd has the PPD in place,
            # then enables itself: that is the moment add() waits for.
            self.add(name, ["-v", uri, "-m", "everywhere"])
        self.printer_uris[name] = uri

    def add(self, name: str, options: list[str]) -> None:
        """Run lpadmin for one queue, then wait until the queue accepts jobs.

        lpadmin is retried briefly: cupsd may answer connections before it admits.
        """
        self._check_new(name)
        server = str(self.layout.socket)
        args = [self.processes.tools["lpadmin"], "-h", server, "-p", name, *options]
        deadline = time.monotonic() + _LPADMIN_TIMEOUT
        attempts = 0
        while True:
            attempts += 1
            result = subprocess.run(
                args, capture_output=True, text=True, timeout=_LPADMIN_TIMEOUT, check=False
            )
            if result.returncode == 0:
                break
            if time.monotonic() >= deadline:
                raise EmbeddedPrintServerError(
                    f"lpadmin could not add queue {name!r} after {attempts} attempts: "
                    f"{result.stderr.strip()}\n"
                    f"{tail(self.layout.error_log)}"
                )
            time.sleep(POLL_INTERVAL * 5)
        self._wait_until_ready(name)
        self.names.append(name)
        log.debug("embedded_cups.queue_added", queue=name, device=options[1], attempts=attempts)

    def forget(self) -> None:
        """Forget every queue (cupsd stopped; its PPDs stay on disk for the next start)."""
        self.names.clear()
        self.printer_uris.clear()

    def _check_new(self, name: str) -> None:
        """Refuse what lpadmin refuses, rather than retrying it until the deadline."""
        if not self.processes.running:
            raise EmbeddedPrintServerError("not running: call start() first")
        if name in self.names:
            raise EmbeddedPrintServerError(f"there is a queue named {name!r} already")
        if (
            not name
            or len(name.encode()) > _QUEUE_NAME_MAX
            or any(ch <= " " or ch == "\x7f" or ch in _QUEUE_NAME_FORBIDDEN for ch in name)
        ):
            raise EmbeddedPrintServerError(
                f"bad name for a CUPS queue: {name!r} (1 to {_QUEUE_NAME_MAX} printable "
                f"characters, no spaces or any of {_QUEUE_NAME_FORBIDDEN})"
            )

    def _wait_until_ready(self, name: str) -> None:
        client = CupsClient(str(self.layout.socket))
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                ready, reason = client.queue_accepting(name)
            except PrintError as e:
                raise EmbeddedPrintServerError(f"queue {name!r}: {e.problem}") from e
            if ready:
                return
            if time.monotonic() >= deadline:
                raise EmbeddedPrintServerError(
                    f"queue {name!r} is not ready after {START_TIMEOUT:g} s: {reason}\n"
                    f"{tail(self.layout.error_log)}"
                )
            time.sleep(POLL_INTERVAL)
