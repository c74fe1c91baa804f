"""The demo's console: ``labd web`` beside the demo's daemon, with a login for this run.

A newcomer's first look should include the lab's console, so the demo starts one on
127.0.0.1 (port 8631 when it is free) and makes a login for it: the account ``demo``, an
admin, with a random password printed once in the banner.  The password is new each run,
and the account is disabled when the demo stops, so a password left in a terminal's
scroll-back opens nothing afterwards.  Every step is journaled as any account change is
(``web.user_added``, ``web.password_changed``, ``web.user_disabled``; ``by``: labd demo).

The console is ``labd web`` itself, a child process in the demo's process group (Ctrl-C in
the terminal reaches both); it opens the journal the demo's daemon uses, which is made and
migrated here first, since the console never does either.  A console that cannot start is
said in the banner and the demo prints on without it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog

from labd.config import Config
from labd.demo.processes import free_port
from labd.errors import LabdError
from labd.schemas import open_configured
from labd.web.accounts import Accounts, Role

log = structlog.get_logger(__name__)

USER: Final = "demo"
BY: Final = "labd demo"
PORT: Final = 8631  # the console's own default, when nothing listens there
START_SECONDS: Final = 30.0
STOP_SECONDS: Final = 10.0


@dataclass
class DemoConsole:
    """A running ``labd web`` of the demo and its one-time login."""

    url: str
    password: str
    process: subprocess.Popen[bytes]
    log_path: Path
    config: Config

    def stop(self) -> None:
        """Stop the console and disable the login it was started with."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            with open_configured(self.config, create=False, migrate=False) as journal:
                Accounts(journal).set_disabled(USER, disabled=True, by=BY)
        except LabdError as e:
            log.warning("demo.login_left_enabled", user=USER, problem=e.get_message())


def _one_time_login(config: Config) -> str:
    """A fresh random password for the ``demo`` admin, made or enabled for this run."""
    password = secrets.token_urlsafe(12)
    # The journal with every table, as the daemon opens it next (it migrates; the console
    # never does).
    with open_configured(config) as journal:
        accounts = Accounts(journal)
        account = accounts.get(USER)
        if account is None:
            accounts.add(USER, Role.ADMIN, password, by=BY)
        else:
            accounts.set_password(USER, password, by=BY)
            if account.disabled:
                accounts.set_disabled(USER, disabled=False, by=BY)
    return password


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", PORT))
        except OSError:
            return free_port()
    return PORT


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "login", timeout=1) as response:  # noqa: S310  # our own http://127.0.0.1 URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_console(
    config: Config, base: Path, config_path: Path, cups_server: str | None
) -> DemoConsole | str:
    """``labd web`` on the demo's journal, and its login; or why it did not start."""
    password = _one_time_login(config)
    port = _port()
    url = f"http://127.0.0.1:{port}/"
    log_path = base / "web.log"
    env = dict(os.environ)
    if cups_server is not None:
        env["CUPS_SERVER"] = cups_server  # the demo's own CUPS, for the printers page
    command = [
        sys.executable, "-m", "labd", "--config", str(config_path), "--base", str(base),
        "web", "--listen", f"127.0.0.1:{port}",
    ]  # fmt: skip
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    console = DemoConsole(url, password, process, log_path, config)
    deadline = time.monotonic() + START_SECONDS
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            console.stop()
            log.warning("demo.console_failed", log=str(log_path))
            return f"did not start (its log: {log_path})"
        time.sleep(0.1)
    log.info("demo.console_started", url=url)
    return console
