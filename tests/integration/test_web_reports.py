"""The console's reports (``/reports``, ``/reports.csv``) and the Art. 30 record
(``/records``) over a real ``labd web`` process, on a journal in SQLite and in PostgreSQL.

The journal holds a day of the lab made through the journal's own life cycle on a manual
clock (jobs printed on two printers, of two products, at two hours of the day; a hold
retried, one held to the day's end; a quarantined job) and the day before it.  The page is
read as a browser reads it and the CSV as a spreadsheet does (the csv module), and every
figure is set against what ``labd report`` says for the same period on the print server:
the console must show the command's figures, not figures of its own.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from labd.cli.report import TOTALS, figure_text
from labd.clock import ManualClock, local
from labd.config import load
from labd.journal import Journal
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from labd.web.accounts import Role
from labd.web.reports import CHARTS
from labd.web.roles import ROUTES
from tests.factories import GOOD_CONFIG, job_in_state, run_labd, write_config
from tests.rawdb import RawDB
from tests.webconsole import ROLES, ConsoleProcess, add_user, error_of, log_in

# Wednesday 4 March 2026 in Oslo (CET, UTC+1); the clock starts at 08:00 there.
DAY = "2026-03-04"
WEEK = "2026-W10"
MORNING = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)
# GOOD_CONFIG (hot folder "prints": p10x15 on "minilab") in Oslo, with enlargements on a
# second printer.
CONFIG = GOOD_CONFIG.replace(
    "stability_seconds = 2\n", 'stability_seconds = 2\ntimezone = "Europe/Oslo"\n'
) + (
    '\n[printers.large]\nqueue = "large"\n'
    '\n[products.p20x30]\nformat = "jpeg"\nsize = "12x8 in"\ndpi = 300\n'
    '\n[hotfolders.enlargements]\nproduct = "p20x30"\nprinter = "large"\n'
)
CONTROLLER = (
    '\n[controller]\nname = "Fotolab Hansen AS"\naddress = "Storgata 1, 0155 Oslo"\n'
    'email = "privacy@fotolab.example"\n'
)
Json = dict[str, object]


@dataclass
class Reports:
    """The lab's configuration and journal, the console serving it, a raw connection."""

    tmp_path: Path
    config: Path
    journal: Journal
    console: ConsoleProcess
    db: RawDB

    def client(self, role: str) -> httpx.Client:
        return log_in(self.console, role[:4])

    def labd(self, *argv: str, code: int = 0) -> str:
        """What ``labd ARGV`` prints on the print server."""
        done, out = run_labd(self.config, *argv)
        assert done == code, out
        return out

    def report(self, *period: str) -> Json:
        """``labd report PERIOD --format json``."""
        data = json.loads(self.labd("report", *period, "--format", "json"))
        assert isinstance(data, dict)
        return data


@pytest.fixture
def reports(tmp_path: Path, store_location: StoreLocation) -> Iterator[Reports]:
    config = write_config(tmp_path, CONFIG, journal=store_location)
    clock = ManualClock(MORNING - timedelta(days=1))
    journal = open_journal(store_location, clock)
    spool = tmp_path / "spool"
    job_in_state(journal, JobState.DONE, spool, technician="zoe")  # the day before
    clock.advance(86400)
    three = [("a.jpg", 1), ("b.jpg", 1), ("c.jpg", 1)]
    job_in_state(journal, JobState.DONE, spool, technician="anna", files=three)
    job_in_state(journal, JobState.DONE, spool, hotfolder="enlargements", queue="large",
                 technician="bob")  # fmt: skip
    held = job_in_state(journal, JobState.HELD, spool, technician="carl")
    job_in_state(journal, JobState.QUARANTINED, spool, technician="carl")
    clock.advance(600)
    journal.printing.print_again(held.id, [1], JobState.SUBMITTING, by="sue", why="retry")
    job_in_state(journal, JobState.HELD, spool, technician="carl")  # held to the day's end
    clock.advance(2 * 3600)  # 10:10 in Oslo
    job_in_state(journal, JobState.DONE, spool, hotfolder="enlargements", queue="large",
                 technician="anna")  # fmt: skip
    for role in ROLES:
        add_user(config, tmp_path, role[:4], role)
    console = ConsoleProcess(config, tmp_path / "web.log").start()
    db = RawDB(journal)
    try:
        yield Reports(tmp_path, config, journal, console, db)
    finally:
        console.stop()
        db.close()
        journal.close()


# -- reading the page as a browser shows it -----------------------------------------------------

Cell = tuple[str, str, str]  # column, value as exported, text as shown


class Page(HTMLParser):
    """What a report page shows: its period, totals, tables, charts' bars, links, notes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str]] = {}  # every element with an id: its attributes
        self.totals: dict[str, tuple[str, str]] = {}  # key: (value, text)
        self.tables: dict[str, list[list[Cell]]] = {}
        self.bars: dict[str, dict[str, str]] = {}  # chart: label -> value
        self.csv_links: dict[str, str] = {}  # table: its CSV's link
        self.notes: list[str] = []
        self._table: str | None = None
        self._chart: str | None = None
        self._total: str | None = None
        self._cell: tuple[str, str] | None = None
        self._note = False
        self._text: list[str] = []

    @classmethod
    def of(cls, response: httpx.Response) -> Page:
        assert response.status_code == 200, response.text[:2000]
        page = cls()
        page.feed(response.text)
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if tag == "table" and a.get("id", "").startswith("table-"):
            self._table = a["id"].removeprefix("table-")
            self.tables[self._table] = []
        elif tag == "svg":
            self._chart = a["data-table"]
            self.bars[self._chart] = {}
        elif tag == "g" and self._chart is not None:
            self.bars[self._chart][a["data-label"]] = a["data-value"]
        elif tag == "tr" and "data-total" in a:
            self._total = a["data-total"]
            self.totals[self._total] = (a["data-value"], "")
        elif tag == "tr" and "data-row" in a and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and ("data-column" in a or (self._total and tag == "td")):
            self._cell = (a.get("data-column", ""), a.get("data-value", ""))
            self._text = []
        elif tag == "a" and "data-table" in a:
            self.csv_links[a["data-table"]] = html.unescape(a["href"])
        elif tag == "li" and "report-notes" in self.ids and self._table is None:
            self._note, self._text = True, []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text).strip()
        if tag in ("td", "th") and self._cell is not None:
            if self._total is not None:
                self.totals[self._total] = (self.totals[self._total][0], text)
            elif self._table is not None:
                self.tables[self._table][-1].append((*self._cell, text))
            self._cell = None
        elif tag == "tr":
            self._total = None
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._chart = None
        elif tag == "li" and self._note:
            self.notes.append(text)
            self._note = False

    def link(self, name: str) -> str | None:
        return self.ids[name]["href"] if name in self.ids else None


def exported(value: object) -> str:
    """A figure as the JSON export has it, as the page and the CSV write it."""
    return "" if value is None else str(value)


def report_tables(data: Json) -> dict[str, list[dict[str, object]]]:
    """The tables of ``labd report --format json``: every list but the notes."""
    return {k: v for k, v in data.items() if isinstance(v, list) and k != "notes"}


def text_totals(text: str) -> dict[str, str]:
    """The totals of the text report, by label, as a person reads them."""
    block = text.split("\nTotals\n", 1)[1].split("\n\n", 1)[0]
    labels = [label for _, label in TOTALS]
    found = {}
    for line in block.splitlines():
        label = next(lb for lb in sorted(labels, key=len, reverse=True) if line[2:].startswith(lb))
        found[label] = line[2 + len(label) :].strip()
    return found


def assert_page_shows_the_report(page: Page, data: Json, text: str) -> None:
    """Every total, table row and bar of ``page`` is ``labd report``'s (JSON and text)."""
    totals = data["totals"]
    assert isinstance(totals, dict)
    said = text_totals(text)
    assert page.totals == {key: (exported(totals[key]), said[label]) for key, label in TOTALS}
    tables = report_tables(data)
    assert set(page.tables) == set(tables)
    for name, rows in tables.items():
        assert page.tables[name] == [
            [(c, exported(v), figure_text(c, v)) for c, v in row.items()]  # type: ignore[arg-type]
            for row in rows
        ], name
    for name, (column, _) in CHARTS.items():
        rows = tables[name]
        if not rows:
            assert name not in page.bars, name  # nothing to draw: no empty chart
            continue
        first = next(iter(rows[0]))
        assert page.bars[name] == {str(r[first]): exported(r[column]) for r in rows}, name
    assert page.notes == data["notes"]


# -- the page -----------------------------------------------------------------------------------


def test_the_days_page_shows_labd_reports_figures_with_charts(reports: Reports) -> None:
    client = reports.client("supervisor")
    response = client.get(f"/reports?day={DAY}")
    page = Page.of(response)
    data = reports.report("--day", DAY)
    assert_page_shows_the_report(page, data, reports.labd("report", "--day", DAY))
    period = page.ids["period"]
    assert (period["data-from"], period["data-to"], period["data-so-far"]) == (DAY, DAY, "false")
    # The journal's day, so the comparison above is no comparison of two empty reports.
    totals = data["totals"]
    assert isinstance(totals, dict)
    assert (totals["jobs_printed"], totals["jobs_quarantined"], totals["jobs_held"]) == (3, 1, 2)
    assert list(page.bars["prints_per_hour"]) == ["08:00-09:00", "10:00-11:00"]
    assert list(page.bars["prints_per_printer"]) == ["large", "minilab"]
    assert list(page.bars["prints_per_product"]) == ["p10x15", "p20x30"]
    assert page.bars["quarantine_reasons"] == {"input.truncated": "1"}
    assert page.bars["held_per_printer"] == {"minilab": exported(totals["held_s"])}
    # Each chart is an image with its title and description, its table beside it.
    for name in CHARTS:
        svg = page.ids[f"chart-{name}"]
        assert svg["role"] == "img"
        assert svg["aria-labelledby"].split() == [f"chart-{name}-title", f"chart-{name}-desc"]
        assert {f"chart-{name}-title", f"chart-{name}-desc", f"table-{name}"} <= set(page.ids)
    desc = re.search(r'<desc id="chart-held_per_printer-desc">([^<]*)<', response.text)
    assert desc is not None
    assert figure_text("held_s", totals["held_s"]) in desc.group(1)  # "16 h 00 min", in words
    # The report's notes are under it, not in the place of the session's one-time notes.
    assert 'class="note"' not in response.text
    assert len(page.notes) == 1  # drop to print: what the journal cannot tell
    # Drawn by the server: no script, no inline style (the CSP allows neither).
    assert "<script>" not in response.text
    assert " style=" not in response.text
    assert "unsafe-inline" not in response.headers["content-security-policy"]


def test_a_week_and_the_days_and_weeks_around(reports: Reports) -> None:
    client = reports.client("admin")
    week = Page.of(client.get(f"/reports?week={WEEK}"))
    assert_page_shows_the_report(
        week, reports.report("--week", WEEK), reports.labd("report", "--week", WEEK)
    )
    assert (week.ids["period"]["data-from"], week.ids["period"]["data-to"]) == (
        "2026-03-02", "2026-03-08",
    )  # fmt: skip
    assert week.link("previous") == "/reports?week=2026-W09"
    assert week.link("next") == "/reports?week=2026-W11"
    # The day before, reached by the page's own link, is labd report's day before.
    day = Page.of(client.get(f"/reports?day={DAY}"))
    previous = day.link("previous")
    assert previous == "/reports?day=2026-03-03"
    before = Page.of(client.get(previous))
    assert_page_shows_the_report(
        before,
        reports.report("--day", "2026-03-03"),
        reports.labd("report", "--day", "2026-03-03"),
    )
    assert before.totals["jobs_done"] == ("1", "1")
    assert before.link("next") == f"/reports?day={DAY}"
    # Today (the default): no day after it to go to.
    zone = load(reports.config).timezone
    first = local(datetime.now(UTC), zone).date()
    today = Page.of(client.get("/reports"))
    last = local(datetime.now(UTC), zone).date()
    assert date.fromisoformat(today.ids["period"]["data-from"]) in (first, last)
    assert today.ids["period"]["data-so-far"] == "true"
    assert today.link("next") is None
    assert today.link("previous") is not None


# -- CSV ----------------------------------------------------------------------------------------


def _csv(response: httpx.Response, filename: str) -> list[list[str]]:
    """A CSV download's rows, read as a spreadsheet reads it; its file name checked."""
    assert response.status_code == 200, error_of(response)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def _not_made_at(rows: list[list[str]]) -> list[list[str]]:
    """Rows but the moment the report was made (the console's and the command's differ)."""
    return [r for r in rows if r[:3] != ["period", "", "made_at"]]


def test_the_csv_holds_labd_reports_figures(reports: Reports) -> None:
    client = reports.client("supervisor")
    for period, stem in ((("day", DAY), DAY), (("week", WEEK), WEEK)):
        whole = _csv(client.get(f"/reports.csv?{period[0]}={period[1]}"), f"labd-report-{stem}.csv")
        out = reports.labd("report", f"--{period[0]}", period[1], "--format", "csv")
        command = list(csv.reader(io.StringIO(out, newline="")))
        assert _not_made_at(whole) == _not_made_at(command)
        assert ["totals", "", "prints", "7" if period[0] == "day" else "9"] in whole
    # Each table alone, by the link beside it on the page: its own header, the same rows.
    data = reports.report("--day", DAY)
    tables = report_tables(data)
    page = Page.of(client.get(f"/reports?day={DAY}"))
    assert set(page.csv_links) == {"totals", *tables}
    for name, rows in tables.items():
        got = _csv(client.get(page.csv_links[name]), f"labd-report-{DAY}-{name}.csv")
        header = [h for h, _, _ in page.tables[name][0]] if rows else got[0]
        assert got[0] == header, name
        assert got[1:] == [[exported(v) for v in row.values()] for row in rows], name
    assert tables["misprints"] == []  # an empty table is still a sheet with its header
    got = _csv(client.get(page.csv_links["misprints"]), f"labd-report-{DAY}-misprints.csv")
    assert got == [["reason", "printer", "entries", "sheets"]]
    totals = _csv(client.get(page.csv_links["totals"]), f"labd-report-{DAY}-totals.csv")
    assert totals[0] == ["total", "value"]
    assert dict(totals[1:]) == {k: exported(v) for k, v in data["totals"].items()}  # type: ignore[attr-defined]


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("/reports?day=tomorow", "day: 'tomorow' is not understood; give today, "
                     "yesterday or a date like 2026-12-02", id="misspelt day"),
        pytest.param("/reports?day=2026-02-30", "day: '2026-02-30' is no date of the calendar",
                     id="no such day"),
        pytest.param("/reports?day=2026-W49", "day: '2026-W49' is a week; ask for it with "
                     "week=2026-W49", id="a week for a day"),
        pytest.param("/reports?week=2026-W54", "week: '2026-W54': 2026 has weeks 1 to 53",
                     id="week 54"),
        pytest.param("/reports?week=next", "week: 'next' is not understood; give this, last",
                     id="unknown week"),
        pytest.param(f"/reports?day={DAY}&week={WEEK}", "ask for a day or a week, not both",
                     id="both"),
        pytest.param("/reports?day=" + "9" * 500, "day: give a day in at most 40 characters",
                     id="too long"),
        pytest.param("/reports.csv?day=04.03.2026", "day: '04.03.2026' is not understood",
                     id="csv: other date format"),
        pytest.param(f"/reports.csv?day={DAY}&table=nonsense", "table: 'nonsense' is no table "
                     "of the report; one of: totals, prints_per_product,", id="csv: no table"),
        pytest.param("/reports.csv?table=x%27%3B%20DROP", "is not a table's name",
                     id="csv: no name"),
    ],
)  # fmt: skip
def test_a_period_or_table_labd_cannot_read_is_refused_and_nothing_changes(
    reports: Reports, query: str, message: str
) -> None:
    client = reports.client("supervisor")
    before = reports.db.everything()
    response = client.get(query)
    assert response.status_code == 400, response.text[:1000]
    assert message in error_of(response)
    assert response.headers["content-type"].startswith("text/html")  # an error page, no file
    assert "content-disposition" not in response.headers
    assert "Traceback" not in response.text
    assert reports.db.everything() == before
    assert reports.journal.verify().first_bad is None
    # The console still answers the same question asked right.
    assert client.get(f"/reports?day={DAY}").status_code == 200


def test_reports_are_for_supervisors_and_admins(reports: Reports) -> None:
    # Written here on their own, so a wrong entry in roles.ROUTES fails this test.
    for path in ("/reports", "/reports.csv", "/records"):
        [rule] = [r for r in ROUTES if (r.method, r.path) == ("GET", path)]
        assert rule.lowest is Role.SUPERVISOR, path
    tech = reports.client("technician")
    assert 'id="nav-reports"' not in tech.get("/").text
    before = reports.db.everything()
    for path in (f"/reports?day={DAY}", f"/reports.csv?day={DAY}", "/records"):
        response = tech.get(path)
        assert response.status_code == 403, path
        assert "Nothing was done" in error_of(response), path
        assert "content-disposition" not in response.headers
        assert "anna" not in response.text  # no technician's figures leaked into the refusal
    assert reports.db.everything() == before
    anonymous = reports.console.client().get(f"/reports.csv?day={DAY}")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    supe = reports.client("supervisor").get("/")
    assert 'id="nav-reports"' in supe.text
    assert 'id="nav-records"' in supe.text


# -- the record of processing activities --------------------------------------------------------


def _lists(page: Page, response: httpx.Response, key: str) -> list[str]:
    assert page.ids[key]["tag"] == "ul"
    block = response.text.split(f'<ul id="{key}">', 1)[1].split("</ul>", 1)[0]
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", block, re.S)]


def test_the_record_says_what_is_missing_then_shows_the_controller(reports: Reports) -> None:
    client = reports.client("supervisor")
    response = client.get("/records")
    page = Page.of(response)
    data = json.loads(reports.labd("records", "--format", "json", code=3))
    missing = page.ids["controller-missing"]
    assert missing["role"] == "alert"
    assert missing["data-missing"].split() == data["missing"]
    shown = html.unescape(response.text)
    assert "Incomplete: the record must name the controller" in shown
    assert f"Add a [controller] section to {reports.config}" in shown
    assert 'name = "Fotolab Hansen AS"' in shown  # the example to copy
    for key in ("purposes", "categories_of_data_subjects", "categories_of_personal_data",
                "recipients", "measures"):  # fmt: skip
        assert _lists(page, response, key) == data[key], key
    for hf in data["retention"]["per_hotfolder"]:
        row = re.search(rf'<tr data-hotfolder="{hf["hotfolder"]}">.*?</tr>', response.text)
        assert row is not None
        assert f'data-value="{hf["retention_days"]}"' in row.group(0)
        assert f"<td>{hf['product']}</td>" in row.group(0)
    # Configured: the controller is named, nothing is said missing.
    complete = reports.tmp_path / "complete.toml"
    complete.write_text(reports.config.read_text() + CONTROLLER)
    console = ConsoleProcess(complete, reports.tmp_path / "web2.log").start()
    try:
        response = log_in(console, "supe").get("/records")
        page = Page.of(response)
        assert "controller-missing" not in page.ids
        controller = json.loads(run_labd(complete, "records", "--format", "json")[1])["controller"]
        for key in ("name", "address", "email"):
            value = re.search(rf'<dd data-key="{key}">([^<]*)</dd>', response.text)
            assert value is not None
            assert html.unescape(value.group(1)) == controller[key]
    finally:
        console.stop()
