"""A private print server for the demo and the tests: dbus-daemon, ippeveprinter and cupsd.

Everything lives under one root directory: a private D-Bus bus (ippeveprinter's DNS-SD
client needs a reachable bus even with advertising off), a cupsd with its own
configuration, spool, state and socket, and per queue an IPP Everywhere printer emulated
by ippeveprinter that keeps every document it receives.  Nothing here touches the
machine's own CUPS.

Each queue gets a printer of its own because ippeveprinter prints one job at a time and
answers "busy" to a second; CUPS' ipp backend then waits about ten seconds before trying
again, so two queues sharing one virtual printer would stall each other.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

import structlog

from labd.errors import EmbeddedPrintServerError, PrintError
from labd.printing.cups import CupsClient

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
_START_TIMEOUT: Final = 10.0  # seconds for each child to come up
_LPADMIN_TIMEOUT: Final = 10.0  # seconds to keep retrying lpadmin for one queue
_STOP_TIMEOUT: Final = 5.0  # seconds a child gets to exit after SIGTERM
_POLL_INTERVAL: Final = 0.02
_SUN_PATH_MAX: Final = 107  # sockaddr_un.sun_path holds 108 bytes with the NUL
_LOG_TAIL_LINES: Final = 15
_LP_USER: Final = "lp"
_QUEUE_NAME_MAX: Final = 127
_QUEUE_NAME_FORBIDDEN: Final = "/\\?'\"#"

# ippeveprinter runs this for every document.  Names start with a UTC time stamp, so they
# sort oldest first and a restarted printer (whose job ids start again at 1) overwrites
# nothing.  It writes under dot names and renames, so received() never sees half a file,
# and the sidecar is in place before its document.
_SAVE_COMMAND: Final = """\
#!/bin/sh
# ippeveprinter print command: keep the document and its IPP attributes in $LABD_IPP_OUT.
set -eu
name="$(date -u +%Y%m%dT%H%M%S.%N)-$(basename "$1")"
{ env | grep -E '^(IPP_|CONTENT_TYPE=|LABD_QUEUE=)' | sort; } > "$LABD_IPP_OUT/.$name.env" || true
cp "$1" "$LABD_IPP_OUT/.$name"
mv "$LABD_IPP_OUT/.$name.env" "$LABD_IPP_OUT/$name.env"
mv "$LABD_IPP_OUT/.$name" "$LABD_IPP_OUT/$name"
"""
_SIDECAR_SUFFIX: Final = ".env"
_SERVER_BIN: Final = Path("/usr/lib/cups")

# A CUPS backend that fails on demand, for tests of printer trouble: ippeveprinter cannot
# do it reliably (an exit 1 of its command is reported as completed in about 6 of 20 runs),
# this is deterministic.  "testfail:/dir" reads its behaviour from /dir/mode and keeps each
# document as /dir/<cups job id>-<n>.out (n counts the times CUPS ran it: a reprint shows).
_TESTFAIL_BACKEND: Final = """\
#!/bin/sh
[ $# -eq 0 ] && { echo 'direct testfail "Unknown" "labd test backend"'; exit 0; }
d=${DEVICE_URI#testfail:}
mode=$(cat "$d/mode" 2>/dev/null || echo ok)
n=1; while [ -e "$d/$1-$n.out" ]; do n=$((n + 1)); done
if [ $# -ge 6 ]; then cp "$6" "$d/$1-$n.out"; else cat > "$d/$1-$n.out"; fi
case $mode in
  ok) exit 0;;
  fail) echo "ERROR: simulated failure" >&2; exit 1;;
  cancel) exit 5;;
  stop) echo "STATE: +media-empty-error" >&2; exit 4;;
  hang) while [ "$(cat "$d/mode" 2>/dev/null)" = hang ]; do sleep 0.1; done; exit 0;;
esac
exit 0
"""


@dataclass
class _Child:
    """A process this server started, with the log its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


class EmbeddedPrintServer:
    """A private CUPS whose queues print to virtual IPP Everywhere printers.

    ``server`` is the cupsd socket to give to :class:`~labd.printing.cups.CupsClient`;
    ``output_dir`` holds every document the virtual printers received, each with a
    ``.env`` sidecar listing its IPP job attributes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._cups = self.root / "cups"
        self.server = str(self._cups / "run" / "cups.sock")
        self.output_dir = self.root / "ipp" / "out"
        self.printer_uris: dict[str, str] = {}  # queue -> URI of its virtual printer
        self.queues: list[str] = []
        self.startup_seconds: float | None = None
        self._children: list[_Child] = []
        self._tools: dict[str, str] = {}
        self._bus = ""
        self._cupsd: _Child | None = None

    @staticmethod
    def missing_tools() -> list[str]:
        """Return a line per tool that is not installed, naming its Debian package."""
        return [
            f"{tool} is not installed (Debian package {package})"
            for tool, package in _TOOLS
            if _which(tool) is None
        ]

    @property
    def running(self) -> bool:
        """True from start() until stop()."""
        return bool(self._children)

    def start(self, queues: Sequence[str] = ("labd-virtual",)) -> EmbeddedPrintServer:
        """Start the bus and cupsd, and per name a virtual printer and a queue to it."""
        if self._children:
            raise EmbeddedPrintServerError(f"already running under {self.root}")
        missing = self.missing_tools()
        if missing:
            raise EmbeddedPrintServerError("; ".join(missing))
        self._tools = {tool: str(_which(tool)) for tool, _ in _TOOLS}
        started = time.monotonic()
        try:
            self._prepare_root()
            self._start_bus()
            self._start_cupsd()
            for name in queues:
                self._add_printer_queue(name)
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
        self._add_printer_queue(name)

    def add_raw_queue(self, name: str) -> None:
        """Add a queue that sends every job, unfiltered, to /dev/null."""
        self._add_queue(name, ["-v", "file:///dev/null", "-E"])

    def add_testfail_queue(self, name: str, *, error_policy: str = "abort-job") -> Path:
        """Add a queue whose backend fails on demand; return its folder.

        Write ``ok``, ``fail``, ``cancel``, ``stop`` or ``hang`` to ``<folder>/mode``; the
        backend keeps every document it is given there as ``<cups job id>-<n>.out``.
        """
        folder = self.root / "testfail" / name
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)  # the backend runs as root or as lp, depending on cupsd's user
        (folder / "mode").write_text("ok\n")
        (folder / "mode").chmod(0o666)
        self._add_queue(
            name, ["-v", f"testfail:{folder}", "-o", f"printer-error-policy={error_policy}", "-E"]
        )
        return folder

    @property
    def spool_dir(self) -> Path:
        """cupsd's RequestRoot: c<id> control files and d<id>-<n> document copies."""
        return self._cups / "spool"

    def kill_cupsd(self) -> None:
        """SIGKILL cupsd alone (its backends too), as a crash or power loss would."""
        child = self._cupsd
        if child is None:
            raise EmbeddedPrintServerError("cupsd is not running")
        _signal_group(child.process.pid, signal.SIGKILL)
        child.process.wait()
        child.log_file.close()
        self._children.remove(child)
        self._cupsd = None
        Path(self.server).unlink(missing_ok=True)

    def start_cupsd(self) -> None:
        """Start cupsd again after :meth:`kill_cupsd`; its queues and jobs are on disk."""
        if self._cupsd is not None:
            raise EmbeddedPrintServerError("cupsd is running already")
        self._start_cupsd()

    def received(self) -> list[Path]:
        """Return the documents the virtual printer has received, oldest first."""
        if not self.output_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.output_dir.iterdir()
            if not p.name.startswith(".") and not p.name.endswith(_SIDECAR_SUFFIX)
        )

    def job_attributes(self, document: Path) -> dict[str, str]:
        """Return what the virtual printer knew of a received document's job.

        Keys are ippeveprinter's environment names: ``IPP_JOB_NAME``, ``CONTENT_TYPE``
        (the format it received), ``IPP_COPIES``, ``IPP_MEDIA`` and so on, and
        ``LABD_QUEUE``, the queue whose printer received it.
        """
        sidecar = document.with_name(document.name + _SIDECAR_SUFFIX)
        pairs = (line.partition("=") for line in sidecar.read_text().splitlines())
        return {key: value for key, sep, value in pairs if sep}

    def stop(self) -> None:
        """Stop every child, newest first: SIGTERM, then SIGKILL after a grace period."""
        if not self._children:
            return
        while self._children:
            _terminate(self._children.pop())
        self._cupsd = None
        self.queues.clear()
        self.printer_uris.clear()
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

    # -- start-up steps ---------------------------------------------------------------

    def _prepare_root(self) -> None:
        if len(os.fsencode(self.server)) > _SUN_PATH_MAX:
            raise EmbeddedPrintServerError(
                f"root {self.root} is too deep: the socket path {self.server} exceeds "
                f"{_SUN_PATH_MAX} bytes; use a shorter root"
            )
        cups = self._cups
        for d in (
            self.root,
            cups,
            cups / "etc",
            cups / "etc" / "ppd",
            cups / "run",
            cups / "log",
            self.root / "ipp",
            self.output_dir,
            self.root / "dbus",
            self.root / "logs",
        ):
            d.mkdir(parents=True, exist_ok=True)
            # Filters and backends run as user lp: every directory on the way is 0755.
            d.chmod(0o755)
        _check_traversable(self.root)
        self._server_bin(as_root=os.geteuid() == 0)
        command = self.root / "ipp" / "save-document"
        command.write_text(_SAVE_COMMAND)
        command.chmod(0o755)
        as_root = os.geteuid() == 0
        spool, cache = cups / "spool", cups / "cache"
        for d, mode in ((spool, 0o710), (spool / "tmp", 0o1770), (cache, 0o775)):
            d.mkdir(exist_ok=True)
            if as_root:
                shutil.chown(d, group=_LP_USER)
            d.chmod(mode)
        if as_root:
            user, group = _LP_USER, _LP_USER
        else:
            # An unprivileged cupsd runs its filters as itself (as CUPS' own test suite does).
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
        system_group = "root" if as_root else group
        (cups / "etc" / "cups-files.conf").write_text(
            f"ServerRoot {cups}/etc\n"
            f"ServerBin {cups}/lib\n"
            f"RequestRoot {spool}\n"
            f"TempDir {spool / 'tmp'}\n"
            f"CacheDir {cache}\n"
            f"StateDir {cups}/run\n"
            f"AccessLog {cups}/log/access_log\n"
            f"ErrorLog {cups}/log/error_log\n"
            f"PageLog {cups}/log/page_log\n"
            f"Printcap {cups}/run/printcap\n"  # never the system's /etc/printcap
            f"SystemGroup {system_group}\n"
            f"User {user}\n"
            f"Group {group}\n"
            "FileDevice Yes\n"  # the raw queues print to file:///dev/null
        )
        # The settings labd insists on (DESIGN.md), and a socket-only, open policy: this
        # server is reachable only through its socket under root.
        (cups / "etc" / "cupsd.conf").write_text(
            "LogLevel info\n"
            "MaxLogSize 1m\n"
            f"Listen {self.server}\n"
            "Browsing No\n"
            "BrowseLocalProtocols none\n"
            "DefaultShared No\n"
            "WebInterface No\n"
            "DefaultAuthType None\n"
            "PreserveJobFiles No\n"
            "PreserveJobHistory Yes\n"
            "ErrorPolicy abort-job\n"
            "MaxJobs 1000\n"
            # Write queues and job history at once, not up to 30 s later: a cupsd killed
            # in between would forget them, and reconciliation relies on that history.
            "DirtyCleanInterval 0\n"
            "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Policy default>\n"
            "  JobPrivateAccess all\n  JobPrivateValues none\n"
            "  SubscriptionPrivateAccess all\n  SubscriptionPrivateValues none\n"
            "  <Limit All>\n    Order deny,allow\n  </Limit>\n"
            "</Policy>\n"
        )

    def _server_bin(self, *, as_root: bool) -> None:
        """CUPS' own filters and backends, plus the testfail backend (an overlay of links)."""
        lib = self._cups / "lib"
        backends = lib / "backend"
        backends.mkdir(parents=True, exist_ok=True)
        for d in (lib, backends):
            d.chmod(0o755)
        for source, target in [(_SERVER_BIN / n, lib / n) for n in _entries(_SERVER_BIN)] + [
            (_SERVER_BIN / "backend" / n, backends / n) for n in _entries(_SERVER_BIN / "backend")
        ]:
            if source.name != "backend" and not target.is_symlink():
                target.symlink_to(source)
        backend = backends / "testfail"
        backend.write_text(_TESTFAIL_BACKEND)
        # 0700 makes cupsd run it as root (as its owner) when cupsd runs as root.
        backend.chmod(0o700 if as_root else 0o755)

    def _start_bus(self) -> None:
        bus_socket = self.root / "dbus" / "bus.sock"
        self._bus = f"unix:path={bus_socket}"
        child = self._spawn(
            "dbus-daemon",
            [
                self._tools["dbus-daemon"],
                "--session",
                "--nofork",
                "--nopidfile",
                f"--address={self._bus}",
            ],
        )
        self._wait_until(child, lambda: _unix_socket_answers(bus_socket))

    def _start_printer(self, queue: str) -> str:
        """Start the virtual printer of one queue; return its URI."""
        spool = self.root / "ipp" / "spool" / queue
        spool.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        env = dict(
            os.environ,
            DBUS_SYSTEM_BUS_ADDRESS=self._bus,
            DBUS_SESSION_BUS_ADDRESS=self._bus,
            LABD_IPP_OUT=str(self.output_dir),
            LABD_QUEUE=queue,
        )
        child = self._spawn(
            f"ippeveprinter-{queue}",
            [
                self._tools["ippeveprinter"],
                "-r",
                "off",
                "-n",
                "localhost",
                "-p",
                str(port),
                "-d",
                str(spool),
                "-c",
                str(self.root / "ipp" / "save-document"),
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

    def _start_cupsd(self) -> None:
        etc = self._cups / "etc"
        child = self._spawn(
            "cupsd",
            [
                self._tools["cupsd"],
                "-f",
                "-c",
                str(etc / "cupsd.conf"),
                "-s",
                str(etc / "cups-files.conf"),
            ],
        )
        self._wait_until(
            child,
            lambda: _unix_socket_answers(Path(self.server)),
            extra_log=self._cups / "log" / "error_log",
        )
        self._cupsd = child

    def _add_printer_queue(self, name: str) -> None:
        self._check_new_queue(name)
        uri = self._start_printer(name)
        if (self._cups / "etc" / "ppd" / f"{name}.ppd").exists():
            # Kept from an earlier start under this root, with the PPD of this same virtual
            # printer: only its port changes.  Regenerating the PPD of a live queue leaves
            # it without a filter chain for a moment, and a job sent then is aborted.
            self._add_queue(name, ["-v", uri, "-E"])
        else:
            # cupsd makes the driverless PPD in a thread after lpadmin returns.  Without
            # -E the queue stays stopped and rejecting until cupsd has the PPD in place,
            # then enables itself: that is the moment _add_queue waits for.
            self._add_queue(name, ["-v", uri, "-m", "everywhere"])
        self.printer_uris[name] = uri

    def _add_queue(self, name: str, options: list[str]) -> None:
        """Run lpadmin for one queue, then wait until the queue accepts jobs.

        lpadmin is retried briefly: cupsd may answer connections before it admits.
        """
        self._check_new_queue(name)
        args = [self._tools["lpadmin"], "-h", self.server, "-p", name, *options]
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
                    f"{_tail(self._cups / 'log' / 'error_log')}"
                )
            time.sleep(_POLL_INTERVAL * 5)
        self._wait_until_ready(name)
        self.queues.append(name)
        log.debug("embedded_cups.queue_added", queue=name, device=options[1], attempts=attempts)

    def _check_new_queue(self, name: str) -> None:
        """Refuse what lpadmin refuses, rather than retrying it until the deadline."""
        if not self._children:
            raise EmbeddedPrintServerError("not running: call start() first")
        if name in self.queues:
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
        client = CupsClient(self.server)
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                ready, reason = client.queue_accepting(name)
            except PrintError as e:
                raise EmbeddedPrintServerError(f"queue {name!r}: {e.problem}") from e
            if ready:
                return
            if time.monotonic() >= deadline:
                raise EmbeddedPrintServerError(
                    f"queue {name!r} is not ready after {_START_TIMEOUT:g} s: {reason}\n"
                    f"{_tail(self._cups / 'log' / 'error_log')}"
                )
            time.sleep(_POLL_INTERVAL)

    # -- children ---------------------------------------------------------------------

    def _spawn(
        self,
        name: str,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
    ) -> _Child:
        log_path = self.root / "logs" / f"{name}.log"
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
        child = _Child(name, process, log_path, log_file)
        self._children.append(child)
        log.debug("embedded_cups.child_started", child=name, pid=process.pid)
        return child

    def _wait_until(
        self, child: _Child, ready: Callable[[], bool], *, extra_log: Path | None = None
    ) -> None:
        """Poll ready() until it holds; fail with the log tail if the child dies or is late."""
        deadline = time.monotonic() + _START_TIMEOUT
        while not ready():
            code = child.process.poll()
            late = time.monotonic() >= deadline
            if code is not None or late:
                why = (
                    f"exited with status {code}"
                    if code is not None
                    else (f"did not come up within {_START_TIMEOUT:g} s")
                )
                tails = [_tail(child.log_path)]
                if extra_log is not None:
                    tails.append(_tail(extra_log))
                raise EmbeddedPrintServerError(
                    f"{child.name} {why}; last lines of its log:\n" + "\n".join(tails)
                )
            time.sleep(_POLL_INTERVAL)


def _terminate(child: _Child) -> None:
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


def _entries(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir())
    except OSError:
        return []


def _which(tool: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SEARCH_PATH])
    return shutil.which(tool, path=path)


def _check_traversable(root: Path) -> None:
    """Fail early if user lp could not reach root (pytest's tmp_path is under a 0700 dir)."""
    if os.geteuid() != 0:
        return  # an unprivileged cupsd runs its filters as this user, who can reach root
    lp = pwd.getpwnam(_LP_USER)
    for d in (root, *root.parents):
        st = d.stat()
        if st.st_uid == lp.pw_uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == lp.pw_gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            raise EmbeddedPrintServerError(
                f"user lp cannot traverse {d} (mode {st.st_mode & 0o7777:o}); CUPS filters "
                f"run as lp: put the root elsewhere (e.g. under /tmp) or chmod o+x {d}"
            )


def _free_port() -> int:
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


def _unix_socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"({path}: {e.strerror})"
    return f"--- {path} ---\n" + "\n".join(text.splitlines()[-lines:])
