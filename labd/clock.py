"""The clock labd reads, injected so tests make time pass without sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    """Wall time for the journal, monotonic time for intervals."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds


def isoformat(moment: datetime) -> str:
    """The journal's timestamp format: UTC, milliseconds, 'Z'."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """A journal timestamp (see :func:`isoformat`) back to an aware datetime in UTC.

    Reads the journal's own form (``2026-01-01T12:00:00.000Z``), the same with ``+00:00``, and
    whatever else :meth:`datetime.fromisoformat` reads: a string with another offset comes back
    as the same instant in UTC; one without an offset comes back naive, as every parser this
    replaced gave it (the journal never writes one). Anything else is a :class:`ValueError`
    that names the text.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a journal timestamp (like 2026-01-01T12:00:00.000Z)"
        ) from None
    return moment if moment.tzinfo is None else moment.astimezone(UTC)


def epoch(text: str) -> float:
    """Seconds since the epoch of a journal timestamp (see :func:`parse_timestamp`)."""
    return parse_timestamp(text).timestamp()


# -- what a person reads: local time ------------------------------------------------------------
# The journal and every export keep UTC; tables, reports and messages a person reads show the
# lab's time zone (``[labd] timezone``; None: the server's own, as ``date`` shows it).


def local(moment: datetime, zone: tzinfo | None) -> datetime:
    """``moment`` (aware) in ``zone``; None: the server's time zone (TZ, /etc/localtime)."""
    return moment.astimezone(zone)


def readable(text: str | None, zone: tzinfo | None) -> str:
    """A journal timestamp as a person reads it: ``2026-12-02 14:03:07 CET``, in ``zone``.

    The one way labd shows a time in a table or a report (exports keep the journal's UTC
    text).  None or empty is ``-``; a text that is no timestamp is shown as it is, so one
    odd row never stops a listing; one without an offset is taken as UTC, which is what
    the journal writes.
    """
    if not text:
        return "-"
    try:
        moment = parse_timestamp(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return local(moment, zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def day_start(day: date, zone: tzinfo | None) -> datetime:
    """The first moment of ``day`` in ``zone`` (None: the server's), as an aware UTC time.

    A day in a zone with summer time is 23 or 25 hours long; its bounds are where the
    clocks on the lab's wall say midnight.
    """
    if zone is None:
        # A naive time is taken as the server's local time by astimezone (mktime).
        return datetime.combine(day, datetime.min.time()).astimezone().astimezone(UTC)
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


def zone_name(zone: tzinfo | None) -> str:
    """The name of ``zone`` for a heading: its IANA key, or the server's zone by abbreviation."""
    if zone is None:
        return f"the server's time zone ({datetime.now(UTC).astimezone().tzname()})"
    return str(zone)
