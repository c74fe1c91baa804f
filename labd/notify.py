"""sd_notify: tell systemd when labd is ready, alive, and what it is doing."""

from __future__ import annotations

import os

import sdnotify
import structlog

log = structlog.get_logger(__name__)


class Notifier:
    """A thin, typed face on :mod:`sdnotify`; silent when not run by systemd."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier()

    def _send(self, message: str) -> None:
        if self.enabled:
            self._notifier.notify(message)

    def ready(self, status: str) -> None:
        """READY=1: the journal is open and every hot folder is watched."""
        self._send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        """STATUS=: one line on what labd is doing."""
        self._send(f"STATUS={status}")

    def watchdog(self) -> None:
        """WATCHDOG=1: every loop made progress since the last ping."""
        self._send("WATCHDOG=1")

    def reloading(self) -> None:
        """RELOADING=1: rereading the configuration."""
        self._send("RELOADING=1")

    def stopping(self) -> None:
        """STOPPING=1: shutting down cleanly."""
        self._send("STOPPING=1")


def watchdog_interval() -> float | None:
    """How often to ping systemd's watchdog (half its timeout), or None when it is off."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 1e6 / 2, 0.05)
    except ValueError:
        log.warning("notify.bad_watchdog_usec", value=usec)
        return None
