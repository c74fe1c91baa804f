"""The embedded print server's child processes: dbus-daemon, cupsd and the virtual printers.

Each child runs in a session of its own, with its output in a log under the root, so a
stop signals the whole group (cupsd's filters and backends too) and a Ctrl-C meant for the
test run does not race the shutdown.  Starting a child waits until it answers on its
socket or port; a child that dies or is late fails the start with the tail of its log.
The programs are looked up on PATH and in the sbin directories a service user's PATH may
lack.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import structlog

from labd.demo.layout import Layout
from labd.errors import EmbeddedPrintServerError

log = structlog.get_logger(__name__)

# (tool, Debian package that installs it)
_TOOLS: Final = (
    ("cupsd", "cups"),
    ("lpadmin", "cups-client"),
    ("ippeveprinter", "cups-ipp-utils"),
    ("dbus-daemon", "dbus-daemon"),
)
# cupsd, lpadmin and ippeveprinter live in sbin, which a service user's PATH may lack.
_SEARCH_PATH: Final = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# The formats the virtual printer accepts: with image/jpeg among them, the queue's
# driverless PPD passes JPEG through unfiltered (cupsFilter2 "image/jpeg image/jpeg 0 -").
_PRINTER_FORMATS: Final = "application/pdf,image/jpeg,image/pwg-raster"
START_TIMEOUT: Final = 10.0  # seconds for each child (or queue) to come up
_STOP_TIMEOUT: Final = 5.0  # seconds a child gets to exit after SIGTERM
POLL_INTERVAL: Final = 0.02
_LOG_TAIL_LINES: Final = 15


def missing_tools() -> list[str]:
    """Return a line per tool that is not installed, naming its Debian package."""
    return [
        f"{tool} is not installed (Debian package {package})"
        for tool, package in _TOOLS
        if _which(tool) is None
    ]


@dataclass
class Child:
    """A process this server started, with the log its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


class Supervisor:
    """Starts the children, waits until each answers, and stops them newest first."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.tools: dict[str, str] = {}
        self.cupsd: Child | None = None
        self._children: list[Child] = []
        self._bus = ""

    @property
    def running(self) -> bool:
        """True while any child this supervisor started is being kept."""
        return bool(self._children)

    def find_tools(self) -> None:
        """Look up every program; fail naming the Debian packages of those missing."""
        missing = missing_tools()
        if missing:
            raise EmbeddedPrintServerError("; ".join(missing))
        self.tools = {tool: str(_which(tool)) for tool, _ in _TOOLS}

    def start_bus(self) -> None:
        """Start the private D-Bus bus ippeveprinter's DNS-SD client needs."""
        bus_socket = self.layout.bus_socket
        self._bus = f"unix:path={bus_socket}"
        child = self._spawn(
            "dbus-daemon",
            [
                self.tools["dbus-daemon"],
                "--session",
                "--nofork",
                "--nopidfile",
                f"--address={self._bus}",
            ],
        )
        self._wait_until(child, lambda: unix_socket_answers(bus_socket))

    def start_cupsd(self) -> None:
        """Start cupsd on the layout's configuration; wait until its socket answers."""
        etc = self.layout.etc
        child = self._spawn(
            "cupsd",
            [
                self.tools["cupsd"],
                "-f",
                "-c",
                str(etc / "cupsd.conf"),
                "-s",
                str(etc / "cups-files.conf"),
            ],
        )
        self._wait_until(
            child,
            lambda: unix_socket_answers(self.layout.socket),
            extra_log=self.layout.error_log,
        )
        self.cupsd = child

    def start_printer(self, queue: str) -> str:
        """Start the virtual printer of one queue; return its URI."""
        spool = self.layout.printer_spool(queue)
        spool.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = dict(
            os.environ,
            DBUS_SYSTEM_BUS_ADDRESS=self._bus,
            DBUS_SESSION_BUS_ADDRESS=self._bus,
            LABD_IPP_OUT=str(self.layout.output_dir),
            LABD_QUEUE=queue,
        )
        child = self._spawn(
            f"ippeveprinter-{queue}",
            [
                self.tools["ippeveprinter"],
                "-r",
                "off",
                "-n",
                "localhost",
                "-p",
                str(port),
                "-d",
                str(spool),
                "-c",
                str(self.layout.save_command),
                "-f",
                _PRINTER_FORMATS,
                "-s",
                "10,10",
                "-M",
                "labd",
                "-m",
                "Virtual Photo Printer",
                queue,
            ],
            env=env,
        )
        self._wait_until(child, lambda: _tcp_port_answers(port))
        return f"ipp://localhost:{port}/ipp/print"

    def kill_cupsd(self) -> None:
        """SIGKILL cupsd alone (its backends too), as a crash or power loss would."""
        child = self.cupsd
        if child is None:
            raise EmbeddedPrintServerError("cupsd is not running")
        _signal_group(child.process.pid, signal.SIGKILL)
        child.process.wait()
        child.log_file.close()
        self._children.remove(child)
        self.cupsd = None
        self.layout.socket.unlink(missing_ok=True)

    def stop(self) -> bool:
        """Stop every child, newest first: SIGTERM, then SIGKILL after a grace period.

        False if none was running.
        """
        if not self._children:
            return False
        while self._children:
            _terminate(self._children.pop())
        self.cupsd = None
        return True

    def _spawn(
        self,
        name: str,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
    ) -> Child:
        log_path = self.layout.child_log(name)
        log_file = log_path.open("ab")
        try:
            # A session of its own: stop() signals the whole group (cupsd's backends too),
            # and a Ctrl-C meant for the test run does not race our own shutdown.
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as e:
            log_file.close()
            raise EmbeddedPrintServerError(f"cannot start {name}: {e}") from e
        child = Child(name, process, log_path, log_file)
        self._children.append(child)
        log.debug("embedded_cups.child_started", child=name, pid=process.pid)
        return child

    def _wait_until(
        self, child: Child, ready: Callable[[], bool], *, extra_log: Path | None = None
    ) -> None:
        """Poll ready() until it holds; fail with the log tail if the child dies or is late."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            code = child.process.poll()
            late = time.monotonic() >= deadline
            if code is not None or late:
                why = (
                    f"exited with status {code}"
                    if code is not None
                    else (f"did not come up within {START_TIMEOUT:g} s")
                )
                tails = [tail(child.log_path)]
                if extra_log is not None:
                    tails.append(tail(extra_log))
                raise EmbeddedPrintServerError(
                    f"{child.name} {why}; last lines of its log:\n" + "\n".join(tails)
                )
            time.sleep(POLL_INTERVAL)


def tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of a log, headed by its path, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"({path}: {e.strerror})"
    return f"--- {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def _terminate(child: Child) -> None:
    process = child.process
    try:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("embedded_cups.child_killed", child=child.name, pid=process.pid)
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        # Reap what the child left behind in its group (a filter or backend of cupsd).
        _signal_group(process.pid, signal.SIGKILL)
    finally:
        child.log_file.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _which(tool: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SEARCH_PATH])
    return shutil.which(tool, path=path)


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the kernel's pick, released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tcp_port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def unix_socket_answers(path: Path, timeout: float = 0.2) -> bool:
    """True when something listens on the AF_UNIX stream socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True
