"""``labd report``, ``labd records`` and local time, through the command line on real journals.

The journals are made the way labd makes them (the life cycle, the ledgers) on a manual
clock, so every figure of the report has a value known in advance.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock, readable
from labd.config import load
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind
from labd.model import JobKind, JobState
from labd.printing.actions import reprint_job
from labd.report import resolve_day, resolve_week
from labd.schemas import open_journal
from labd.store import StoreLocation
from labd.waste.ledger import WasteLedger
from labd.waste.model import WasteMaterial
from tests.factories import GOOD_CONFIG, cups_job_id, job_in_state, journal_table
from tests.rawdb import RawDB

# Wednesday 4 March 2026, 08:00 in Oslo (CET, UTC+1).
MORNING = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)
DAY = "2026-03-04"
OSLO = 'timezone = "Europe/Oslo"'
CONTROLLER = """
[controller]
name = "Fotolab Hansen AS"
address = "Storgata 1, 0155 Oslo"
email = "privacy@fotolab.example"
"""
# GOOD_CONFIG (hot folder "prints" -> product p10x15, printer minilab) with a photobook
# hot folder on a second printer, in a time zone; {labd} goes into [labd].
LAB = (
    GOOD_CONFIG.replace("stability_seconds = 2\n", "stability_seconds = 2\n{labd}\n")
    + """
[printers.wide]
queue = "wide"

[products.book]
format = "pdf"
layout = "photobook"
size = "297x210 mm"
copies = 2

[hotfolders.books]
product = "book"
printer = "wide"
"""
)


class Lab:
    """A configuration file and its journal, and the labd command line on them."""

    def __init__(
        self,
        root: Path,
        *,
        labd: str = OSLO,
        extra: str = CONTROLLER,
        journal_at: StoreLocation | None = None,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "labd.toml"
        self.config.write_text(LAB.replace("{labd}", labd) + extra + journal_table(journal_at))
        self.clock = ManualClock(MORNING)

    def journal(self) -> Journal:
        return open_journal(load(self.config).journal_location, self.clock)

    def run(self, *argv: str, code: int = 0) -> str:
        out = io.StringIO()
        assert main(["--config", str(self.config), *argv], out=out) == code
        return out.getvalue()

    def json(self, *argv: str, code: int = 0) -> dict[str, object]:
        data = json.loads(self.run(*argv, "--format", "json", code=code))
        assert isinstance(data, dict)
        return data


@pytest.fixture
def lab(tmp_path: Path, store_location: StoreLocation) -> Lab:
    """The lab on each store (see tests/conftest.py)."""
    return Lab(tmp_path, journal_at=store_location)


def _printed_book(journal: Journal, spool: Path) -> int:
    """A photobook of three photos: one book.pdf on the printer "wide", printed after 120 s."""
    job = job_in_state(
        journal, JobState.CLAIMED, spool, hotfolder="books", technician="anna",
        files=[("1.jpg", 1), ("2.jpg", 1), ("3.jpg", 1)],
    )  # fmt: skip
    journal.converted(job.id, [("out/book.pdf", None)], "wide")
    journal.printing.submit_intent(job.id, 1)
    journal.printing.submitted(job.id, 1, cups_job_id(job.id, 1))
    return job.id


@pytest.fixture
def busy_day(lab: Lab) -> Lab:
    """A day of the lab, every figure known (see the test below for the numbers)."""
    spool = lab.root / "spool"
    with lab.journal() as journal:
        clock = lab.clock
        # The day before and the day after, to show the bounds hold.
        clock.advance(-86400)
        job_in_state(journal, JobState.DONE, spool, technician="zoe")
        clock.advance(86400)
        a = job_in_state(journal, JobState.SUBMITTED, spool, technician="anna")
        journal.notes.ticket(a.id, order_ref="A-1", copies={1: 3}, media=0)  # 3 + 1 prints
        b = job_in_state(journal, JobState.SUBMITTED, spool, technician="bob",
                         files=[("c.jpg", 1)])  # fmt: skip
        book = _printed_book(journal, spool)
        held = job_in_state(journal, JobState.HELD, spool, technician="carl")
        job_in_state(journal, JobState.QUARANTINED, spool)
        clock.advance(120)
        journal.printed(a.id)
        journal.done(a.id)
        journal.printed(book)
        clock.advance(480)
        journal.printed(b.id)
        journal.done(b.id)
        journal.printing.print_again(held.id, [1], JobState.SUBMITTING, by="sue", why="retry")
        job_in_state(journal, JobState.HELD, spool, technician="carl")  # held to the day's end
        reprint_job(journal, b.id, [1], by="sue")
        media = MediaLedger(journal)
        waste = WasteLedger(journal, media=media)
        waste.open("W-1", material=WasteMaterial.P, level=4, location="QC", by="sue")
        waste.misprint(a.id, container="W-1", reason="banding", by="sue", outputs=[1])
        waste.misprint(b.id, container="W-1", reason="dust", by="sue", outputs=[1], sheets=2)
        media.register(MediaKind.USB, "T-1", by="anna", orders=["A-1"])
        dvd = media.register(MediaKind.DVD, "T-2", by="anna", orders=["A-2"])
        card = media.register(MediaKind.SD, "T-3", by="anna", orders=["A-3"])
        for item in (dvd.id, card.id):
            media.in_use(item, by="anna")
            media.ready(item, by="anna")
        media.destroyed(dvd.id, by="sue", level="O-3", shredder_run="R-1")
        media.returned(card.id, by="sue")
        clock.advance(86400)
        job_in_state(journal, JobState.DONE, spool, technician="zoe")
    return lab


def test_a_day_in_figures(busy_day: Lab) -> None:
    data = busy_day.json("report", "--day", DAY)
    assert (data["from"], data["to"]) == (DAY, DAY)
    # Midnight to midnight in Oslo.
    assert (data["since"], data["until"]) == (
        "2026-03-03T23:00:00.000Z",
        "2026-03-04T23:00:00.000Z",
    )
    assert data["so_far"] is False
    assert data["timezone"] == "Europe/Oslo"
    totals = data["totals"]
    assert isinstance(totals, dict)
    assert {k: totals[k] for k in (
        "jobs_received", "jobs_printed", "jobs_done", "jobs_held", "jobs_quarantined",
        "prints", "sheets", "pdf_prints", "reprints", "misprints", "sheets_misprinted",
        "waste_rate_pct", "drop_to_print_median_s", "drop_to_print_p95_s", "held_s",
        "media_received", "media_returned", "media_destroyed", "media_lost",
        "media_outstanding_now",
    )} == {
        "jobs_received": 6, "jobs_printed": 3, "jobs_done": 2, "jobs_held": 2,
        "jobs_quarantined": 1, "prints": 7, "sheets": 5, "pdf_prints": 2, "reprints": 1,
        "misprints": 2, "sheets_misprinted": 3, "waste_rate_pct": 60.0,
        "drop_to_print_median_s": 120.0, "drop_to_print_p95_s": 600.0,
        # 600 s held before the retry, and 07:10 to 23:00 UTC for the one still held.
        "held_s": 600.0 + 57000.0,
        "media_received": 3, "media_returned": 1, "media_destroyed": 1, "media_lost": 0,
        "media_outstanding_now": 1,
    }  # fmt: skip
    assert data["prints_per_product"] == [
        {"product": "book", "jobs": 1, "prints": 2, "sheets": 0, "pdf_prints": 2},
        {"product": "p10x15", "jobs": 2, "prints": 5, "sheets": 5, "pdf_prints": 0},
    ]
    assert data["prints_per_printer"] == [
        {"printer": "minilab", "jobs": 2, "prints": 5, "sheets": 5, "pdf_prints": 0},
        {"printer": "wide", "jobs": 1, "prints": 2, "sheets": 0, "pdf_prints": 2},
    ]
    assert data["prints_per_technician"] == [
        {"technician": "anna", "jobs": 2, "prints": 6, "sheets": 4, "pdf_prints": 2},
        {"technician": "bob", "jobs": 1, "prints": 1, "sheets": 1, "pdf_prints": 0},
    ]
    # Printed at 08:02 and 08:10 in Oslo (07:02 and 07:10 UTC).
    assert data["prints_per_hour"] == [
        {"hour": "08:00-09:00", "jobs": 3, "prints": 7, "sheets": 5, "pdf_prints": 2}
    ]
    assert data["drop_to_print"] == [
        {"printer": "minilab", "jobs": 2, "median_s": 360.0, "p95_s": 600.0, "longest_s": 600.0},
        {"printer": "wide", "jobs": 1, "median_s": 120.0, "p95_s": 120.0, "longest_s": 120.0},
        {"printer": "all printers", "jobs": 3, "median_s": 120.0, "p95_s": 600.0,
         "longest_s": 600.0},
    ]  # fmt: skip
    assert data["misprints"] == [
        {"reason": "banding", "printer": "minilab", "entries": 1, "sheets": 1},
        {"reason": "dust", "printer": "minilab", "entries": 1, "sheets": 2},
    ]
    assert data["waste_rate"] == [
        {"printer": "minilab", "sheets_printed": 5, "sheets_misprinted": 3,
         "waste_rate_pct": 60.0},
        # Only PDF prints on "wide": its rate is not derivable, not 0 %.
        {"printer": "wide", "sheets_printed": 0, "sheets_misprinted": 0, "waste_rate_pct": None},
    ]  # fmt: skip
    assert data["reprints"] == [
        {"reason": "labd retry (outputs CUPS aborted)", "printer": "minilab", "reprints": 1,
         "outputs": 1},
        {"reason": "no reason given (labd reprint)", "printer": "minilab", "reprints": 1,
         "outputs": 1},
    ]  # fmt: skip
    assert data["held_per_printer"] == [
        {"printer": "minilab", "holds": 2, "held_s": 57600.0, "still_held": 1}
    ]
    assert data["held_per_rule"] == [
        {"rule": "print.printer_stopped", "holds": 2, "held_s": 57600.0}
    ]
    assert data["quarantine_reasons"] == [{"rule": "input.truncated", "jobs": 1}]
    assert data["media"] == [
        {"kind": "dvd", "received": 1, "returned": 0, "destroyed": 1, "lost": 0},
        {"kind": "sd", "received": 1, "returned": 1, "destroyed": 0, "lost": 0},
        {"kind": "usb", "received": 1, "returned": 0, "destroyed": 0, "lost": 0},
    ]
    notes = " ".join(str(n) for n in data["notes"])  # type: ignore[attr-defined]
    assert "pdf_prints" in notes  # the sheets of a photobook are not in the journal
    assert "when the technician began copying is not in the journal" in notes
    assert "`labd reprint` carry no reason" in notes


def _total(lines: list[str], label: str) -> str:
    """The value of one line of the text report's totals."""
    [value] = [line[len(label) + 2 :].strip() for line in lines if line.startswith(f"  {label}  ")]
    return value


def test_the_day_as_text_and_csv(busy_day: Lab) -> None:
    text = busy_day.run("report", "--day", DAY)
    assert text.startswith("labd report: Wednesday 2026-03-04, times in Europe/Oslo\n")
    assert "from 2026-03-04 00:00:00 CET to 2026-03-05 00:00:00 CET\n" in text
    lines = text.splitlines()
    assert _total(lines, "drop to print, median") == "2 min 00 s"
    assert _total(lines, "drop to print, 95th percentile") == "10 min 00 s"
    assert _total(lines, "waste rate") == "60.0 %"
    assert _total(lines, "held time") == "16 h 00 min"
    assert _total(lines, "PDF prints (sheets unknown)") == "2"
    # Tables a person reads: aligned, numbers to the right, durations and rates in words.
    waste = lines.index("Waste rate per printer (misprinted sheets per sheet printed)")
    assert lines[waste + 1 : waste + 4] == [
        "PRINTER  SHEETS PRINTED  SHEETS MISPRINTED  WASTE RATE",
        "minilab               5                  3      60.0 %",
        "wide                  0                  0         n/a",
    ]
    waits = lines.index("Time from drop to print")
    assert lines[waits + 2] == "minilab          2  6 min 00 s  10 min 00 s  10 min 00 s"
    assert "Not in the journal, and how figures are counted" in lines
    assert "{" not in text  # no Python data inside the text

    rows = list(
        csv.DictReader(io.StringIO(busy_day.run("report", "--day", DAY, "--format", "csv")))
    )
    figures = {(r["table"], r["row"], r["column"]): r["value"] for r in rows}
    assert figures["period", "", "since"] == "2026-03-03T23:00:00.000Z"  # exports stay UTC
    assert figures["totals", "", "jobs_received"] == "6"
    assert figures["prints_per_printer", "wide", "pdf_prints"] == "2"
    assert figures["waste_rate", "wide", "waste_rate_pct"] == ""  # not derivable: empty
    assert figures["drop_to_print", "minilab", "p95_s"] == "600.0"
    assert any(r["table"] == "notes" for r in rows)


def test_a_week_and_the_days_around(busy_day: Lab) -> None:
    # The day before and the day after each had one job, done in its day.
    for day in ("2026-03-03", "2026-03-05"):
        totals = busy_day.json("report", "--day", day)["totals"]
        assert isinstance(totals, dict)
        assert (totals["jobs_received"], totals["jobs_done"], totals["prints"]) == (1, 1, 2)
    # The job held since the 4th is held all of the 5th: no new hold, a whole day held.
    assert busy_day.json("report", "--day", "2026-03-05")["held_per_printer"] == [
        {"printer": "minilab", "holds": 0, "held_s": 86400.0, "still_held": 1}
    ]
    for week in ("2026-W10", "2026-03-06", "2026-w10"):
        data = busy_day.json("report", "--week", week)
        assert (data["from"], data["to"]) == ("2026-03-02", "2026-03-08")
        totals = data["totals"]
        assert isinstance(totals, dict)
        assert totals["jobs_received"] == 8
    assert "week 2026-W10 (Monday 2026-03-02 to Sunday 2026-03-08)" in busy_day.run(
        "report", "--week", "2026-W10"
    )


def test_an_empty_day_says_none_and_invents_nothing(lab: Lab) -> None:
    with lab.journal():
        pass
    data = lab.json("report", "--day", DAY)
    totals = data["totals"]
    assert isinstance(totals, dict)
    assert totals["prints"] == 0
    assert totals["waste_rate_pct"] is None  # nothing printed: no rate, not 0 %
    assert totals["drop_to_print_median_s"] is None
    assert data["notes"] == []
    text = lab.run("report", "--day", DAY)
    assert _total(text.splitlines(), "drop to print, median") == "n/a"
    assert "Prints per printer\nPRINTER  JOBS  PRINTS  SHEETS  PDF PRINTS\n(none)\n" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--day", "tomorow"],
            "argument --day: 'tomorow' is not understood; give today, yesterday or a date "
            "like 2026-12-02",
            id="misspelt word",
        ),
        pytest.param(
            ["--day", "2026-02-30"], "'2026-02-30' is no date of the calendar", id="no such day"
        ),
        pytest.param(
            ["--day", "2026-W49"],
            "'2026-W49' is a week; ask for it with --week 2026-W49",
            id="week for a day",
        ),
        pytest.param(["--week", "2026-W54"], "'2026-W54': 2026 has weeks 1 to 53", id="week 54"),
        pytest.param(["--week", "next"], "give this, last, today, yesterday", id="unknown week"),
        pytest.param(["--day", "04.03.2026"], "is not understood", id="other date format"),
    ],
)
def test_a_period_labd_cannot_read_is_refused(
    busy_day: Lab, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with busy_day.journal() as j, RawDB(j) as db:
        before = db.everything()
        with pytest.raises(SystemExit) as exit_:
            busy_day.run("report", *argv)
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
        assert db.everything() == before  # nothing written
    with busy_day.journal() as j:
        assert j.verify().first_bad is None


@pytest.mark.parametrize(
    ("text", "day"),
    [
        pytest.param("today", date(2026, 3, 4), id="today"),
        pytest.param("Yesterday", date(2026, 3, 3), id="yesterday"),
        pytest.param(" 2026-12-02 ", date(2026, 12, 2), id="date"),
    ],
)
def test_days_people_name(text: str, day: date) -> None:
    assert resolve_day(text, date(2026, 3, 4)) == day


@pytest.mark.parametrize(
    ("text", "monday"),
    [
        pytest.param("this", date(2026, 3, 2), id="this"),
        pytest.param("last", date(2026, 2, 23), id="last"),
        pytest.param("today", date(2026, 3, 2), id="today"),
        pytest.param("2026-03-08", date(2026, 3, 2), id="a Sunday"),
        pytest.param("2026-W01", date(2025, 12, 29), id="week 1 starts in the year before"),
        pytest.param("2026W53", date(2026, 12, 28), id="week 53"),
    ],
)
def test_weeks_people_name(text: str, monday: date) -> None:
    assert resolve_week(text, date(2026, 3, 4)) == monday


def test_today_and_yesterday_on_the_labs_clock(tmp_path: Path) -> None:
    """`today` is the lab's today: a job dropped now is in today's report, not yesterday's;
    a misprint with --reprint (the CLI's own) gives the reprint its reason."""
    lab = Lab(tmp_path)
    now = datetime.now(UTC)
    lab.clock = ManualClock(now)
    with lab.journal() as journal:
        job = job_in_state(journal, JobState.DONE, tmp_path / "spool")
    lab.run("waste", "container", "open", "W-1", "--class", "P", "--level", "4",
            "--location", "QC")  # fmt: skip
    lab.run("waste", "misprint", str(job.id), "--outputs", "1", "--reason", "banding",
            "--container", "W-1", "--reprint")  # fmt: skip
    oslo = load(lab.config).timezone
    before = now.astimezone(oslo).date()
    today = lab.json("report", "--day", "today")
    yesterday = lab.json("report", "--day", "yesterday")
    default = lab.json("report")  # today
    if datetime.now(UTC).astimezone(oslo).date() != before:
        pytest.skip("midnight in Oslo passed while the test ran")
    assert today["from"] == default["from"] == before.isoformat()
    assert today["so_far"] is True
    assert yesterday["from"] == (before - timedelta(days=1)).isoformat()
    assert today["totals"]["jobs_received"] == 1  # type: ignore[index]
    assert yesterday["totals"]["jobs_received"] == 0  # type: ignore[index]
    assert today["reprints"] == [
        {"reason": "banding", "printer": "minilab", "reprints": 1, "outputs": 1}
    ]
    assert ", so far: up to " in lab.run("report", "--day", "today").splitlines()[1]


def test_day_bounds_follow_the_configured_time_zone(tmp_path: Path) -> None:
    # 23:30 UTC on 4 March is 00:30 on 5 March in Oslo.
    oslo = Lab(tmp_path / "oslo")
    utc = Lab(tmp_path / "utc", labd='timezone = "UTC"')
    for lab in (oslo, utc):
        lab.clock = ManualClock(datetime(2026, 3, 4, 23, 30, tzinfo=UTC))
        with lab.journal() as journal:
            job_in_state(journal, JobState.DONE, lab.root / "spool")

    def received(lab: Lab, day: str) -> object:
        totals = lab.json("report", "--day", day)["totals"]
        assert isinstance(totals, dict)
        return totals["jobs_received"]

    assert (received(oslo, "2026-03-04"), received(oslo, "2026-03-05")) == (0, 1)
    assert (received(utc, "2026-03-04"), received(utc, "2026-03-05")) == (1, 0)
    # The day summer time begins in Oslo has 23 hours.
    data = oslo.json("report", "--day", "2026-03-29")
    assert (data["since"], data["until"]) == (
        "2026-03-28T23:00:00.000Z",
        "2026-03-29T22:00:00.000Z",
    )


# -- local time in what people read, UTC in exports ------------------------------------------


@pytest.fixture
def one_of_each(lab: Lab) -> Lab:
    """A job, a media item and a waste container with a misprint, all at 08:00 CET on 4 March."""
    with lab.journal() as journal:
        job = job_in_state(journal, JobState.DONE, lab.root / "spool", kind=JobKind.FILE)
        media = MediaLedger(journal)
        item = media.register(MediaKind.USB, "T-1", by="anna", orders=["A-1"])
        media.ready(item.id, by="anna")  # long overdue by now
        waste = WasteLedger(journal, media=media)
        waste.open("W-1", material=WasteMaterial.P, level=4, location="QC", by="sue")
        waste.misprint(job.id, container="W-1", reason="dust", by="sue", outputs=[1])
    return lab


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["jobs"], id="jobs"),
        pytest.param(["jobs", "1"], id="jobs N"),
        pytest.param(["journal"], id="journal"),
        pytest.param(["status"], id="status"),
        pytest.param(["media", "list"], id="media list"),
        pytest.param(["media", "history", "1"], id="media history"),
        pytest.param(["waste", "container", "manifest", "W-1"], id="waste manifest"),
        pytest.param(["retention", "due", "--within", "3650"], id="retention due"),
    ],
)
def test_tables_show_the_labs_time(one_of_each: Lab, argv: list[str]) -> None:
    text = one_of_each.run(*argv)
    assert "2026-03-04 08:00:00 CET" in text
    assert "07:00:00" not in text  # no UTC beside it


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["jobs", "--format", "json"], id="jobs"),
        pytest.param(["journal", "--format", "json"], id="journal json"),
        pytest.param(["journal", "--format", "csv"], id="journal csv"),
        pytest.param(["media", "list", "--format", "csv"], id="media csv"),
        pytest.param(["waste", "container", "list", "--format", "json"], id="waste json"),
    ],
)
def test_exports_keep_utc(one_of_each: Lab, argv: list[str]) -> None:
    text = one_of_each.run(*argv)
    assert "2026-03-04T07:00:00.000Z" in text
    assert "CET" not in text


@pytest.fixture
def server_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server's own time zone, as TZ sets it for the C library (restored after)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_in_new_york")
def test_without_a_timezone_the_servers_is_used(tmp_path: Path) -> None:
    lab = Lab(tmp_path, labd="")
    assert load(lab.config).timezone is None
    with lab.journal() as journal:
        job_in_state(journal, JobState.DONE, tmp_path / "spool")
    assert "2026-03-04 02:00:00 EST" in lab.run("jobs")
    # The report's day runs midnight to midnight in New York too.
    data = lab.json("report", "--day", DAY)
    assert (data["since"], data["until"]) == (
        "2026-03-04T05:00:00.000Z",
        "2026-03-05T05:00:00.000Z",
    )
    assert data["timezone"] is None
    assert "times in the server's time zone (E" in lab.run("report", "--day", DAY)


def test_readable_shows_summer_and_winter_time() -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    oslo = ZoneInfo("Europe/Oslo")
    assert readable("2026-07-01T10:00:00.000Z", oslo) == "2026-07-01 12:00:00 CEST"
    assert readable("2026-01-01T10:00:00.000Z", oslo) == "2026-01-01 11:00:00 CET"
    assert readable(None, oslo) == "-"
    assert readable("not a time", oslo) == "not a time"  # shown as it is, never a crash


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            '"europe/oslo"',
            "labd.timezone: 'europe/oslo' is not a time zone; give an IANA name like "
            '"Europe/Oslo" (timedatectl list-timezones); did you mean "Europe/Oslo"?',
            id="wrong case",
        ),
        pytest.param(
            '"Mars/Olympus"', "labd.timezone: 'Mars/Olympus' is not a time zone", id="unknown"
        ),
        pytest.param(
            '"../../etc/passwd"', "labd.timezone: '../../etc/passwd' is not a time zone", id="path"
        ),
        pytest.param("1", "labd.timezone: expected a string, got int 1", id="number"),
    ],
)
def test_a_bad_timezone_is_refused_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    lab = Lab(tmp_path, labd=f"timezone = {value}")
    before = lab.config.read_text()
    lab.run("report", code=3)
    assert f"labd: {lab.config}: {message}" in capsys.readouterr().err
    assert lab.config.read_text() == before
    assert not (tmp_path / "state").exists()  # nothing made


# -- labd records ------------------------------------------------------------------------------


def test_the_record_names_the_controller(tmp_path: Path) -> None:
    lab = Lab(tmp_path, extra=CONTROLLER.replace(
        'privacy@fotolab.example"', 'privacy@fotolab.example"\ndpo = "Kari, dpo@fotolab.example"'
    ))  # fmt: skip
    text = lab.run("records")
    assert text.startswith("Record of processing activities (GDPR Art. 30(1))\n")
    assert "Controller\n  name:     Fotolab Hansen AS\n  address:  Storgata 1, 0155 Oslo\n" in text
    assert "  e-mail:   privacy@fotolab.example\n" in text
    assert "  data protection officer: Kari, dpo@fotolab.example\n" in text
    assert "  prints      p10x15   14\n" in text  # retention per hot folder, as a table
    assert "{" not in text  # no Python data inside the text
    data = lab.json("records")
    assert data["controller"] == {
        "name": "Fotolab Hansen AS",
        "address": "Storgata 1, 0155 Oslo",
        "email": "privacy@fotolab.example",
        "dpo": "Kari, dpo@fotolab.example",
    }
    assert data["missing"] == []


def test_a_record_without_controller_says_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = Lab(tmp_path, extra="")
    before = lab.config.read_text()
    text = lab.run("records", code=3)
    err = capsys.readouterr().err
    assert "Controller\n  MISSING: the record must name the controller" in text
    assert f"Add to {lab.config}:\n\n    [controller]\n    name = " in text
    assert "Purposes\n" in text  # the rest of the record is there all the same
    assert f"labd: {lab.config}: controller: missing;" in err
    assert "controller.name, controller.address, controller.email" in err
    data = lab.json("records", code=3)
    assert data["controller"] is None
    assert data["missing"] == ["controller.name", "controller.address", "controller.email"]
    assert lab.config.read_text() == before


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(
            CONTROLLER.replace("privacy@fotolab.example", "privacy at fotolab"),
            "controller.email: 'privacy at fotolab' is not an e-mail address",
            id="bad e-mail",
        ),
        pytest.param(
            CONTROLLER.replace('name = "Fotolab Hansen AS"\n', ""),
            "controller.name: missing; this setting is required",
            id="no name",
        ),
        pytest.param(
            CONTROLLER.replace('name = "Fotolab Hansen AS"', 'name = "  "'),
            "controller.name: must not be empty",
            id="blank name",
        ),
        pytest.param(
            CONTROLLER + 'phone = "123"\n',
            "controller.phone: unknown setting; this table takes: address, dpo, email, name",
            id="unknown key",
        ),
    ],
)
def test_a_bad_controller_is_refused_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, message: str
) -> None:
    lab = Lab(tmp_path, extra=section)
    before = lab.config.read_text()
    lab.run("records", code=3)
    assert f"labd: {lab.config}: {message}" in capsys.readouterr().err
    assert lab.config.read_text() == before
