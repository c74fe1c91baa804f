"""A printer that reports its supply levels, behind a queue of the tests' private CUPS.

Fake: no printer with ink to run low exists here.  What stands in for it is a real
ippeveprinter (its own private D-Bus bus, as the embedded server's printers have) whose
attributes, loaded from a file, include CUPS' marker attributes (``marker-names``,
``marker-levels`` ...) as a printer that reports them does.  Everything after that is real:
CUPS' ipp backend asks the printer for them while it prints a job and hands them to
cupsd (``ATTR:`` messages), which keeps them on the queue, where labd reads them.

Checked on this machine (CUPS 2.4.2): ippeveprinter's default printer reports its supplies
only as ``printer-supply`` (PWG 5100.13), and CUPS 2.4's ipp backend does not copy that
into the queue's ``marker-*`` attributes, neither after a job nor on a query: a queue to
such a printer has no supply levels ("not reported" on the console).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from labd.demo.embedded import EmbeddedPrintServer
from labd.demo.processes import free_port, unix_socket_answers
from labd.printing import CupsClient, CupsJobState
from tests.waiting import wait_until

_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


@dataclass(frozen=True)
class Marker:
    """One supply as the printer reports it (CUPS' marker attributes)."""

    name: str
    colour: str
    level: int  # percent; -1 unavailable, -2 unknown, -3 some left
    kind: str
    low: int


def _tool(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([*_SBIN, os.environ.get("PATH", "")]))
    assert found is not None, f"{name} is not installed"
    return found


def _attributes(markers: Sequence[Marker]) -> str:
    """The printer's attribute file (ipptool's syntax, as ippeveprinter -a reads it)."""

    def values(field: str) -> str:
        return ",".join(str(getattr(m, field)) for m in markers)

    names = ",".join(f'"{m.name}"' for m in markers)
    colours = ",".join(f'"{m.colour}"' for m in markers)
    return (
        f"ATTR nameWithoutLanguage marker-names {names}\n"
        f"ATTR nameWithoutLanguage marker-colors {colours}\n"
        f"ATTR integer marker-levels {values('level')}\n"
        f"ATTR keyword marker-types {values('kind')}\n"
        f"ATTR integer marker-low-levels {values('low')}\n"
    )


def _port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@contextmanager
def supplying_queue(
    server: EmbeddedPrintServer, queue: str, markers: Sequence[Marker]
) -> Iterator[str]:
    """A queue ``queue`` on ``server`` printing to a printer that reports ``markers``, with
    one job printed through it, so that CUPS has heard the levels; yields the queue."""
    root = Path(tempfile.mkdtemp(prefix="labd-cups-supplies-"))
    root.chmod(0o755)  # CUPS' backends and filters run as user lp
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        bus_socket = root / "bus"
        bus = f"unix:path={bus_socket}"
        logs = stack.enter_context((root / "children.log").open("wb"))
        children: list[subprocess.Popen[bytes]] = []

        def stop_children() -> None:
            for child in reversed(children):
                child.terminate()
                child.wait(10)

        stack.callback(stop_children)
        children.append(
            subprocess.Popen(
                [_tool("dbus-daemon"), "--session", "--nofork", "--nopidfile", f"--address={bus}"],
                stdout=logs, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
        wait_until(lambda: unix_socket_answers(bus_socket), timeout=10, what="the D-Bus bus")
        attributes = root / "printer.conf"
        attributes.write_text(_attributes(markers))
        spool = root / "spool"
        spool.mkdir()
        port = free_port()
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus, DBUS_SYSTEM_BUS_ADDRESS=bus)
        children.append(
            subprocess.Popen(
                [_tool("ippeveprinter"), "-r", "off", "-n", "localhost", "-p", str(port),
                 "-d", str(spool), "-c", "/bin/true", "-a", str(attributes), queue],
                stdout=logs, stderr=subprocess.STDOUT, env=env,
            )
        )  # fmt: skip
        wait_until(lambda: _port_answers(port), timeout=10, what="the supplying printer")
        uri = f"ipp://localhost:{port}/ipp/print"
        lpadmin = _tool("lpadmin")
        subprocess.run([lpadmin, "-h", server.server, "-p", queue, "-v", uri, "-E"], check=True)
        stack.callback(subprocess.run, [lpadmin, "-h", server.server, "-x", queue], check=False)
        cups = CupsClient(server.server)
        photo = root / "photo.jpg"
        Image.new("RGB", (60, 40), (200, 120, 40)).save(photo)
        photo.chmod(0o644)
        job = cups.submit(queue, photo, title="supplies")
        wait_until(
            lambda: cups.status(job).state is CupsJobState.COMPLETED,
            timeout=60,
            what="the job through the supplying printer",
        )
        info = wait_until(
            lambda: (i := cups.queue_info(queue)) is not None and i.supplies and i,
            timeout=10,
            what="CUPS to keep the printer's supply levels",
        )
        assert info is not None
        yield queue
