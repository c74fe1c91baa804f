"""The console (``labd web``) as the tests use it: a real server process and real HTTP.

:class:`ConsoleProcess` starts ``labd web`` on a free loopback port against a labd
configuration, and :func:`log_in` gives an httpx client holding a session, as a browser
would: it fetches the login form, sends its CSRF token back, keeps the cookie.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from labd.demo.embedded import EmbeddedPrintServer
from labd.demo.processes import free_port
from labd.journal import Journal
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from tests.factories import GOOD_CONFIG, job_in_state, run_labd, write_config
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"  # noqa: S105  # the test accounts'
ROLES = ("technician", "supervisor", "admin")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


# The states of the jobs a console's test finds in its journal: those a person acts on.
LAB_STATES = (JobState.HELD, JobState.UNCERTAIN, JobState.QUARANTINED, JobState.DONE)


def lab_journal(
    tmp_path: Path,
    location: StoreLocation,
    server: EmbeddedPrintServer,
    queue: str,
    *,
    order: str,
    node: str | None = None,
) -> tuple[Path, Journal, dict[JobState, int]]:
    """A configuration printing to ``queue`` (made now on ``server``), its journal at
    ``location`` (opened as ``node``), and a job of ``order`` in each of LAB_STATES."""
    server.add_printer_queue(queue)
    text = (
        GOOD_CONFIG.replace('queue = "minilab"', f'queue = "{queue}"')
        + f'\n[cups]\nserver = "{server.server}"\n'
    )
    config = write_config(tmp_path, text, journal=location)
    journal = open_journal(location, node=node)
    jobs = {
        state: job_in_state(
            journal, state, tmp_path / "spool", order=order, queue=queue,
            entry=f"{state.value} order",
        ).id
        for state in LAB_STATES
    }  # fmt: skip
    return config, journal, jobs


def add_user(config: Path, tmp_path: Path, name: str, role: str, password: str = PASSWORD) -> None:
    """``labd user add NAME --role ROLE --password-file FILE``, as an admin would."""
    secret = tmp_path / f"{name}.password"
    secret.write_text(password + "\n")
    code, out = run_labd(
        config, "user", "add", name, "--role", role, "--password-file", str(secret)
    )
    assert code == 0, out


@dataclass
class ConsoleProcess:
    """``labd --config CONFIG web --listen 127.0.0.1:PORT`` as a subprocess."""

    config: Path
    log: Path
    scheme: str = "http"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> ConsoleProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "labd", "--config", str(self.config), "web",
                 "--listen", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        wait_until(self._answers, timeout=30, what=f"labd web on port {self.port}")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"labd web exited {self.proc.returncode}:\n{self.output()}")
        try:
            with self.client() as client:
                return client.get("/login").status_code == 200
        except httpx.TransportError:
            return False

    def client(self) -> httpx.Client:
        """A client of this console, holding no session yet (TLS: the test's own certificate
        is not trusted by anything, so it is not checked)."""
        return httpx.Client(base_url=self.url, verify=False, timeout=30)  # noqa: S501  # the test's self-signed certificate

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = _CSRF.search(html)
    assert match is not None, html[:2000]
    return match.group(1)


def try_login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    """Fill the login form and send it; the response (303 to the board when it worked)."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    return client.post(
        "/login", data={"csrf": csrf_of(form.text), "name": name, "password": password}
    )


def log_in(console: ConsoleProcess, name: str, password: str = PASSWORD) -> httpx.Client:
    """A client with a session of ``name``."""
    client = console.client()
    response = try_login(client, name, password)
    assert response.status_code == 303, response.text
    return client


def error_of(response: httpx.Response) -> str:
    """The message of the console's error page (or of the login form's refusal)."""
    match = re.search(r'id="(?:error|login-message)"[^>]*>([^<]*)<', response.text)
    assert match is not None, response.text[:2000]
    return match.group(1).replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")
