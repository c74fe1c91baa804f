"""A private print server for the demo and the tests: dbus-daemon, ippeveprinter and cupsd.

Everything lives under one root directory: a private D-Bus bus (ippeveprinter's DNS-SD
client needs a reachable bus even with advertising off), a cupsd with its own
configuration, spool, state and socket, and per queue an IPP Everywhere printer emulated
by ippeveprinter that keeps every document it receives.  Nothing here touches the
machine's own CUPS.

:class:`EmbeddedPrintServer` is what the demo and the tests hold; it puts together three
parts, each in a module of its own: :mod:`labd.demo.layout` (the root's directories and
the configuration files written there), :mod:`labd.demo.processes` (starting, waiting for
and stopping the child processes) and :mod:`labd.demo.queues` (adding queues with lpadmin
and waiting until CUPS accepts jobs on them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog

from labd.demo import processes
from labd.demo.layout import Layout
from labd.demo.processes import Supervisor
from labd.demo.queues import Queues
from labd.errors import EmbeddedPrintServerError

log = structlog.get_logger(__name__)


class EmbeddedPrintServer:
    """A private CUPS whose queues print to virtual IPP Everywhere printers.

    ``server`` is the cupsd socket to give to :class:`~labd.printing.cups.CupsClient`;
    ``output_dir`` holds every document the virtual printers received, each with a
    ``.env`` sidecar listing its IPP job attributes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._layout = Layout(self.root)
        self.server = str(self._layout.socket)
        self.output_dir = self._layout.output_dir
        self.startup_seconds: float | None = None
        self._processes = Supervisor(self._layout)
        self._queues = Queues(self._layout, self._processes)

    @staticmethod
    def missing_tools() -> list[str]:
        """Return a line per tool that is not installed, naming its Debian package."""
        return processes.missing_tools()

    @property
    def running(self) -> bool:
        """True from start() until stop()."""
        return self._processes.running

    @property
    def queues(self) -> list[str]:
        """The queues added since start(), in order."""
        return self._queues.names

    @property
    def printer_uris(self) -> dict[str, str]:
        """Queue -> URI of its virtual printer."""
        return self._queues.printer_uris

    @property
    def spool_dir(self) -> Path:
        """cupsd's RequestRoot: c<id> control files and d<id>-<n> document copies."""
        return self._layout.spool

    def start(self, queues: Sequence[str] = ("labd-virtual",)) -> EmbeddedPrintServer:
        """Start the bus and cupsd, and per name a virtual printer and a queue to it."""
        if self.running:
            raise EmbeddedPrintServerError(f"already running under {self.root}")
        self._processes.find_tools()
        started = time.monotonic()
        try:
            self._layout.prepare()
            self._processes.start_bus()
            self._processes.start_cupsd()
            for name in queues:
                self._queues.add_printer_queue(name)
        except BaseException:
            # Children must not outlive a start that failed part-way.
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log.info(
            "embedded_cups.started",
            root=str(self.root),
            server=self.server,
            queues=list(self.queues),
            seconds=round(self.startup_seconds, 3),
        )
        return self

    def add_printer_queue(self, name: str) -> None:
        """Add a queue printing to a virtual IPP Everywhere printer of its own."""
        self._queues.add_printer_queue(name)

    def add_raw_queue(self, name: str) -> None:
        """Add a queue that sends every job, unfiltered, to /dev/null."""
        self._queues.add(name, ["-v", "file:///dev/null", "-E"])

    def add_testfail_queue(self, name: str, *, error_policy: str = "abort-job") -> Path:
        """Add a queue whose backend fails on demand; return its folder.

        Write ``ok``, ``fail``, ``cancel``, ``stop`` or ``hang`` to ``<folder>/mode``; the
        backend keeps every document it is given there as ``<cups job id>-<n>.out``.
        """
        folder = self._layout.testfail_folder(name)
        self._queues.add(
            name, ["-v", f"testfail:{folder}", "-o", f"printer-error-policy={error_policy}", "-E"]
        )
        return folder

    def kill_cupsd(self) -> None:
        """SIGKILL cupsd alone (its backends too), as a crash or power loss would."""
        self._processes.kill_cupsd()

    def start_cupsd(self) -> None:
        """Start cupsd again after :meth:`kill_cupsd`; its queues and jobs are on disk."""
        if self._processes.cupsd is not None:
            raise EmbeddedPrintServerError("cupsd is running already")
        self._processes.start_cupsd()

    def received(self) -> list[Path]:
        """Return the documents the virtual printer has received, oldest first."""
        return self._layout.received()

    def job_attributes(self, document: Path) -> dict[str, str]:
        """Return what the virtual printer knew of a received document's job.

        Keys are ippeveprinter's environment names: ``IPP_JOB_NAME``, ``CONTENT_TYPE``
        (the format it received), ``IPP_COPIES``, ``IPP_MEDIA`` and so on, and
        ``LABD_QUEUE``, the queue whose printer received it.
        """
        return self._layout.job_attributes(document)

    def stop(self) -> None:
        """Stop every child, newest first: SIGTERM, then SIGKILL after a grace period."""
        if not self._processes.stop():
            return
        self._queues.forget()
        log.info("embedded_cups.stopped", root=str(self.root))

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
