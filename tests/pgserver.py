"""A real PostgreSQL server for the tests, in a temporary directory, on a Unix socket.

Debian's ``postgresql`` package (``scripts/setup`` installs it) brings the server's
programs; the server refuses to run as root, so under root (CI) it runs as the
``postgres`` system user the package creates.  It listens on no TCP port: only on a
socket in its own directory, with ``trust`` authentication for the local user — a
test's server, on a test's machine.  ``fsync=off``: the tests stop and start it cleanly,
they never cut its power.  A benchmark that measures durable commits asks for
``fsync=True`` (and full-page writes), a production server's settings.

Each test gets a schema of its own in the one database (:meth:`PostgresServer.location`):
the same server serves a whole session, and no test sees another's tables.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import psycopg

from labd.store import PostgresLocation

DATABASE: Final = "labd"


def server_programs() -> Path | None:
    """The folder of the newest installed server's programs (initdb, pg_ctl), or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PostgresServer:
    """One PostgreSQL server: ``start()``, ``stop()`` (and start again), ``destroy()``."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        programs = server_programs()
        if programs is None:
            raise RuntimeError(
                "PostgreSQL's server programs are not installed (Debian: postgresql); "
                "run scripts/setup"
            )
        self.programs = programs
        self.root = root
        self.fsync = fsync
        self.data = root / "data"
        self.socket_dir = root
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._schemas = itertools.count(1)

    def _run(self, *argv: str) -> None:
        command = [str(self.programs / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def create(self) -> PostgresServer:
        """Make the cluster and the database labd's tests use."""
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8")
        self.start()
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        return self

    def start(self) -> None:
        """Start the server (again) and wait until it takes connections."""
        sync = "on" if self.fsync else "off"
        options = (
            f"-k {self.socket_dir} -c listen_addresses='' -c fsync={sync} "
            f"-c full_page_writes={sync} -c max_connections=60"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast: open connections are told it shuts down)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs, and remove its files."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = DATABASE, *, user: str | None = None) -> str:
        """A libpq URL of a database on this server, over its socket."""
        return f"postgresql://{user or self.user}@/{database}?host={self.socket_dir}"

    @contextlib.contextmanager
    def admin(self, database: str = "postgres") -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """A superuser's connection, in autocommit."""
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            yield conn

    def location(self) -> PostgresLocation:
        """A journal location of its own: a new schema, first on the search path."""
        schema = f"t{next(self._schemas)}"
        with self.admin(DATABASE) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return PostgresLocation(f"{self.url()}&options=-csearch_path%3D{schema}")


@contextlib.contextmanager
def running_server(*, fsync: bool = False) -> Iterator[PostgresServer]:
    """A fresh server for the block, removed afterwards (``fsync``: see the module)."""
    root = Path(tempfile.mkdtemp(prefix="labd-pg-"))
    server = PostgresServer(root, fsync=fsync)
    try:
        yield server.create()
    finally:
        server.destroy()
