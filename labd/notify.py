"""sd_notify: tell systemd when labd is ready, alive, and what it is doing."""

from __future__ import annotations

import os
import time

import sdnotify
import structlog

log = structlog.get_logger(__name__)


class Notifier:
    """A thin, typed face on :mod:`sdnotify`; silent when not run by systemd.

    The socket is non-blocking: a notification systemd cannot take right now is dropped
    and logged, never allowed to stall labd (a full datagram queue blocks a plain send).
    """

    def __init__(self) -> None:
        self._notifier: sdnotify.SystemdNotifier | None = None
        self._dropped = 0
        if not os.environ.get("NOTIFY_SOCKET"):
            return
        try:
            # debug=True: sdnotify raises instead of swallowing errors, so labd can log them.
            notifier = sdnotify.SystemdNotifier(debug=True)
            notifier.socket.settimeout(0.0)  # non-blocking
        except OSError as e:
            log.warning("notify.unavailable", error=str(e))
            return
        self._notifier = notifier

    @property
    def enabled(self) -> bool:
        """True when labd talks to systemd."""
        return self._notifier is not None

    def _send(self, message: str) -> None:
        if self._notifier is None:
            return
        try:
            self._notifier.notify(message)
        except OSError as e:
            self._dropped += 1
            log.warning(
                "notify.dropped",
                message=message.split("=", 1)[0],
                error=str(e),
                dropped=self._dropped,
            )

    def ready(self, status: str) -> None:
        """READY=1: the journal is open and every hot folder is watched."""
        self._send(f"READY=1\nSTATUS={status}")

    def reloading(self) -> None:
        """RELOADING=1: rereading the configuration; READY=1 follows when done."""
        # MONOTONIC_USEC: systemd 253+ (Type=notify-reload) matches it to its own SIGHUP.
        self._send(
            f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
        )

    def status(self, status: str) -> None:
        """STATUS=: one line on what labd is doing."""
        self._send(f"STATUS={status}")

    def watchdog(self) -> None:
        """WATCHDOG=1: every loop made progress since the last ping."""
        self._send("WATCHDOG=1")

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
