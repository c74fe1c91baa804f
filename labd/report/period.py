"""The span a report covers: one day or one ISO week, on the lab's clock.

People ask for ``today``, ``yesterday``, a date, or a week (any day of it, ``2026-W49``,
``this``, ``last``); the bounds are midnights in the lab's time zone
(``[labd] timezone``), turned into the journal's UTC timestamps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Final

from labd.clock import day_start, isoformat

_DAYS_BACK: Final = {"today": 0, "yesterday": 1}
_WEEKS_BACK: Final = {"this": 0, "last": 1}
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK: Final = re.compile(r"^(\d{4})-?[Ww](\d{1,2})$")
DAY_FORMS: Final = "today, yesterday or a date like 2026-12-02"
WEEK_FORMS: Final = (
    "this, last, today, yesterday, a date (any day of the week) or a week like 2026-W49"
)


def resolve_day(text: str, today: date) -> date:
    """The day ``text`` names, ``today`` being the lab's today; ValueError says what is accepted."""
    word = text.strip().lower()
    if word in _DAYS_BACK:
        return today - timedelta(days=_DAYS_BACK[word])
    if _WEEK.match(word):
        raise ValueError(f"{text!r} is a week; ask for it with --week {text.strip()}")
    return _date(text, DAY_FORMS)


def resolve_week(text: str, today: date) -> date:
    """The Monday of the ISO week ``text`` names; ValueError says what is accepted."""
    word = text.strip().lower()
    if word in _WEEKS_BACK:
        day = today - timedelta(weeks=_WEEKS_BACK[word])
    elif word in _DAYS_BACK:
        day = today - timedelta(days=_DAYS_BACK[word])
    elif match := _WEEK.match(word):
        year, week = int(match.group(1)), int(match.group(2))
        try:
            return date.fromisocalendar(year, week, 1)
        except ValueError:
            last = date(year, 12, 28).isocalendar().week  # the 28th is always in the last week
            raise ValueError(f"{text!r}: {year} has weeks 1 to {last}") from None
    else:
        day = _date(text, WEEK_FORMS)
    return day - timedelta(days=day.weekday())


def _date(text: str, forms: str) -> date:
    if _DATE.match(text.strip()):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is no date of the calendar; give {forms}") from None
    raise ValueError(f"{text!r} is not understood; give {forms}")


@dataclass(frozen=True)
class Period:
    """Whole days ``[first, first + days)`` in ``zone`` (None: the server's time zone)."""

    first: date
    days: int
    zone: tzinfo | None

    @classmethod
    def day(cls, day: date, zone: tzinfo | None) -> Period:
        """One day."""
        return cls(day, 1, zone)

    @classmethod
    def week(cls, monday: date, zone: tzinfo | None) -> Period:
        """The ISO week (Monday to Sunday) that starts on ``monday``."""
        return cls(monday - timedelta(days=monday.weekday()), 7, zone)

    @property
    def last(self) -> date:
        """The period's last day (inclusive)."""
        return self.first + timedelta(days=self.days - 1)

    @property
    def since(self) -> datetime:
        """Its first moment, aware UTC."""
        return day_start(self.first, self.zone)

    @property
    def until(self) -> datetime:
        """The first moment after it, aware UTC."""
        return day_start(self.first + timedelta(days=self.days), self.zone)

    def bounds(self) -> tuple[str, str]:
        """Journal timestamps of its start (inclusive) and end (exclusive)."""
        return isoformat(self.since), isoformat(self.until)

    def label(self) -> str:
        """``Wednesday 2026-12-02``, or ``week 2026-W49 (Monday 2026-11-30 to Sunday ...)``."""
        if self.days == 1:
            return f"{self.first:%A} {self.first.isoformat()}"
        year, week, _ = self.first.isocalendar()
        return (
            f"week {year}-W{week:02d} ({self.first:%A} {self.first.isoformat()} to "
            f"{self.last:%A} {self.last.isoformat()})"
        )
