"""The console's board, printers, job and journal pages in their detail: an order's
progress, supply levels, an output's preview and who looked at it, paging the journal.

As tests/integration/test_web.py: a real ``labd web`` process over a journal in SQLite and
in PostgreSQL whose jobs went through the real life cycle, queues of the session's private
CUPS, HTTP with httpx as a browser speaks it.  What the console did is read back from the
journal; what it shows, from the HTML it sent.
"""

from __future__ import annotations

import html
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from labd.clock import SystemClock
from labd.config import load
from labd.demo.embedded import EmbeddedPrintServer
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind
from labd.model import Event, JobState
from labd.privacy.retention import Retention
from labd.store import StoreLocation
from tests.factories import job_in_state
from tests.imagegen import a4_pdf
from tests.supplying_printer import Marker, supplying_queue
from tests.webconsole import ROLES, ConsoleProcess, add_user, error_of, lab_journal, log_in

ORDER = "ORD-Halvorsen-2207"
SERIAL = "SN-HALVORSEN-77"
_queues = itertools.count(1)


@dataclass
class Site:
    """A lab's configuration (its printer, and a second one whose queue reports supplies
    once a test makes it), the journal with a job of ORDER in each state a person acts
    on, the console serving it."""

    tmp_path: Path
    config: Path
    journal: Journal
    console: ConsoleProcess
    queue: str
    supplied_queue: str
    jobs: dict[JobState, int]

    def looks_after(self, seq: int) -> list[Event]:
        """The access events (web.personal_viewed) written after ``seq``."""
        return [e for e in self.journal.events(after=seq) if e.kind == "web.personal_viewed"]


@pytest.fixture
def site(
    tmp_path: Path, store_location: StoreLocation, print_server: EmbeddedPrintServer
) -> Iterator[Site]:
    n = next(_queues)
    queue, supplied = f"pages-{n}", f"pages-supplied-{n}"
    config, journal, jobs = lab_journal(tmp_path, store_location, print_server, queue, order=ORDER)
    with config.open("a") as f:
        f.write(f'\n[printers.supplied]\nqueue = "{supplied}"\n')
    for role in ROLES:
        add_user(config, tmp_path, role[:4], role)
    console = ConsoleProcess(config, tmp_path / "web.log").start()
    try:
        yield Site(tmp_path, config, journal, console, queue, supplied, jobs)
    finally:
        console.stop()
        journal.close()


def _row(page: str, attribute: str, value: object) -> str:
    """The table row of ``page`` whose ``attribute`` is ``value``."""
    match = re.search(rf'<tr {attribute}="{value}".*?</tr>', page, re.S)
    assert match is not None, page[:3000]
    return match.group(0)


# -- the board: how far each job and its order have printed ------------------------------------


def _progress(row: str, kind: str) -> tuple[int, int, int | None] | None:
    """``(printed, total, jobs)`` of a board row's job (kind "printed") or order."""
    match = re.search(
        rf'class="{kind}" data-printed="(\d+)" data-total="(\d+)"(?: data-jobs="(\d+)")?', row
    )
    if match is None:
        return None
    printed, total, jobs = match.groups()
    return int(printed), int(total), int(jobs) if jobs else None


def test_the_board_shows_how_far_each_job_and_its_order_have_printed(site: Site) -> None:
    journal = site.journal
    spool = site.tmp_path / "spool"
    printing = job_in_state(
        journal, JobState.SUBMITTED, spool, order=ORDER, queue=site.queue, entry="more prints",
        files=[("c.jpg", 1), ("d.jpg", 2), ("e.jpg", 3)],
    ).id  # fmt: skip
    journal.printing.cups_state(printing, 1, "completed")
    alone = job_in_state(journal, JobState.DONE, spool, queue=site.queue, entry="walk-in").id
    client = log_in(site.console, "supe")
    board = client.get("/").text
    # Of the order, the jobs that print: held 0 of 2, uncertain 0 of 2, done 2 of 2, the
    # new one 1 of 3 (the quarantined job never prints: left out).
    held = _row(board, "data-job", site.jobs[JobState.HELD])
    assert _progress(held, "printed") == (0, 2, None)
    assert _progress(held, "order-progress") == (3, 9, 4)
    assert _progress(_row(board, "data-job", printing), "printed") == (1, 3, None)
    assert _progress(_row(board, "data-job", site.jobs[JobState.DONE]), "printed") == (2, 2, None)
    assert "3 of 9 printed (4 jobs)" in held
    quarantined = _row(board, "data-job", site.jobs[JobState.QUARANTINED])
    assert _progress(quarantined, "printed") is None  # it will not print
    assert _progress(quarantined, "order-progress") == (3, 9, 4)
    # A job of no order: its own progress, no order's.
    walk_in = _row(board, "data-job", alone)
    assert _progress(walk_in, "printed") == (2, 2, None)
    assert _progress(walk_in, "order-progress") is None
    # Which order it is stays off the board, even for a supervisor.
    assert ORDER not in board
    # The live table counts anew: another output printed.
    journal.printing.cups_state(printing, 2, "completed")
    table = client.get("/board/table").text
    assert _progress(_row(table, "data-job", printing), "printed") == (2, 3, None)
    assert _progress(_row(table, "data-job", site.jobs[JobState.HELD]), "order-progress") == (
        4,
        9,
        4,
    )


# -- printers: supply levels -------------------------------------------------------------------


def test_supply_levels_are_shown_where_the_printer_reports_them(
    site: Site, print_server: EmbeddedPrintServer
) -> None:
    client = log_in(site.console, "tech")
    page = client.get("/printers").text
    # The queue to an IPP Everywhere printer that reports only printer-supply: not reported.
    assert '<span class="not-reported">not reported</span>' in _row(page, "data-queue", site.queue)
    markers = [
        Marker("Photo Black", "#000000", 82, "ink", 10),
        Marker("Cyan", "#00FFFF", 7, "ink", 10),
        Marker("Glossy paper", "none", -1, "paper", 0),
    ]
    with supplying_queue(print_server, site.supplied_queue, markers):
        row = _row(client.get("/printers").text, "data-queue", site.supplied_queue)
    assert "not reported" not in row
    supplies = re.findall(r'data-supply="([^"]+)" data-kind="(\w*)" data-level="(\d*)"', row)
    assert supplies == [
        ("Photo Black", "ink", "82"),
        ("Cyan", "ink", "7"),
        ("Glossy paper", "paper", ""),
    ]
    assert '<meter min="0" max="100" low="10" high="50" optimum="100" value="82">' in row
    assert '<span class="level">82 %</span>' in row
    cyan = row.split('data-supply="Cyan"', 1)[1].split("</div>", 1)[0]
    assert '<span class="level">7 %</span> <strong>low</strong>' in cyan
    paper = row.split('data-supply="Glossy paper"', 1)[1].split("</div>", 1)[0]
    assert "level unknown" in paper
    assert "<meter" not in paper


# -- a job's personal details: preview, carriers, who looked ------------------------------------


def _photo_outputs(site: Site, job_id: int, size: tuple[int, int] = (1800, 1200)) -> None:
    """Make the job's print-ready files real JPEGs (the factory writes a few bytes)."""
    job = site.journal.job(job_id)
    for o in site.journal.outputs(job_id):
        Image.new("RGB", size, (30 * o.seq, 90, 160)).save(Path(job.spool) / o.path, quality=90)


def test_a_preview_is_made_in_memory_and_each_look_is_journaled(site: Site) -> None:
    held = site.jobs[JobState.HELD]
    _photo_outputs(site, held)
    spool_before = sorted(p for p in (site.tmp_path / "spool").rglob("*"))
    for user in ("tech", "supe"):
        client = log_in(site.console, user)
        before = site.journal.last_seq()
        page = client.get(f"/jobs/{held}?preview=2").text
        assert f'<img src="/jobs/{held}/preview.jpg?output=2"' in page
        response = client.get(f"/jobs/{held}/preview.jpg", params={"output": "2"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "no-store"
        with Image.open(io.BytesIO(response.content)) as picture:
            assert picture.format == "JPEG"
            assert picture.size == (480, 320)  # the longer side 480, the shape kept
            assert picture.getpixel((240, 160)) == pytest.approx((60, 90, 160), abs=6)
        looks = [(dict(e.data), e.job_id) for e in site.looks_after(before)]
        preview = ({"job": held, "by": user, "preview": 2}, held)
        if user == "supe":  # the page showed the order reference too
            assert looks == [({"job": held, "by": user, "order_ref": True}, held), preview]
        else:
            assert looks == [preview]
    # Never written anywhere: the spool holds what it held.
    assert sorted(p for p in (site.tmp_path / "spool").rglob("*")) == spool_before


def test_no_preview_of_a_deleted_file_or_a_pdf_says_why_and_journals_nothing(site: Site) -> None:
    held, done = site.jobs[JobState.HELD], site.jobs[JobState.DONE]
    job = site.journal.job(held)
    outputs = site.journal.outputs(held)
    (Path(job.spool) / outputs[0].path).unlink()
    a4_pdf(Path(job.spool) / outputs[1].path, pages=1)
    config = load(site.config)
    Retention(site.journal, config, SystemClock()).erase(job_id=done, by="kari", request="DSR-1")
    assert site.journal.job(done).state is JobState.PURGED
    client = log_in(site.console, "admi")
    before = site.journal.last_seq()
    expected = {
        (held, 1): "its print file is no longer in the spool",
        (held, 2): "it is a PDF (a photobook or document): PDFs have no preview",
        (done, 1): "its print file was deleted by retention or erasure",
    }
    for (job_id, seq), why in expected.items():
        page = client.get(f"/jobs/{job_id}", params={"preview": str(seq)})
        assert page.status_code == 200
        said = re.search(r'id="no-preview">([^<]*)<', page.text)
        assert said is not None, page.text[:3000]
        assert html.unescape(said.group(1)) == f"No preview: {why}."
        assert "preview.jpg" not in page.text
        picture = client.get(f"/jobs/{job_id}/preview.jpg", params={"output": str(seq)})
        assert picture.status_code == 404
        assert error_of(picture) == f"No preview of output {seq} of job {job_id}: {why}."
    # The pages showed the order reference (journaled); no picture was sent (nothing else).
    assert {tuple(sorted(e.data)) for e in site.looks_after(before)} <= {("by", "job", "order_ref")}


def test_a_preview_of_no_such_output_is_refused_and_changes_nothing(site: Site) -> None:
    held = site.jobs[JobState.HELD]
    _photo_outputs(site, held)
    client = log_in(site.console, "tech")
    before = site.journal.last_seq()
    for params in ({"output": "3"}, {"output": "x"}, {"output": "0"}):
        response = client.get(f"/jobs/{held}/preview.jpg", params=params)
        assert response.status_code == 400
        assert error_of(response) == (
            f"output: {params['output']!r} is no output of this job (its outputs: 1, 2)"
        )
    page = client.get(f"/jobs/{held}", params={"preview": "7"})
    assert page.status_code == 400
    assert "is no output of this job" in error_of(page)
    assert site.journal.last_seq() == before  # nothing shown, nothing journaled
    assert client.get("/jobs/999999/preview.jpg").status_code == 404


def test_a_jobs_carriers_show_their_serial_to_supervisors_and_the_look_is_journaled(
    site: Site,
) -> None:
    done = site.jobs[JobState.DONE]
    item = MediaLedger(site.journal).register(MediaKind.USB, SERIAL, by="anna", orders=[ORDER])
    before = site.journal.last_seq()
    tech = log_in(site.console, "tech").get(f"/jobs/{done}").text
    assert f'<tr data-item="{item.id}">' in tech
    assert SERIAL not in tech
    assert ORDER not in tech
    assert site.looks_after(before) == []
    supe = log_in(site.console, "supe").get(f"/jobs/{done}").text
    assert SERIAL in _row(supe, "data-item", item.id)
    [look] = site.looks_after(before)
    assert (dict(look.data), look.job_id) == (
        {"job": done, "by": "supe", "order_ref": True, "media_items": [item.id]},
        done,
    )


# -- the journal: pages both ways, the filter kept ----------------------------------------------


def _link(page: str, name: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" id="page-{name}"', page)
    return html.unescape(match.group(1)) if match else None


def _seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', page)]


def test_the_journal_pages_back_and_forth_keeping_its_filter(site: Site) -> None:
    held, done = site.jobs[JobState.HELD], site.jobs[JobState.DONE]
    for k in range(60):  # 120 events of the held job, between events of another job
        site.journal.resume(held, JobState.SUBMITTED)
        site.journal.printing.cups_state(done, 1, "processing" if k % 2 else "completed")
        site.journal.held(held, rule="print.printer_stopped", reason="paper out")
    wanted = [e.seq for e in site.journal.events(job_id=held)]
    assert len(wanted) > 120
    client = log_in(site.console, "supe")
    newest = client.get("/journal", params={"job": str(held)}).text
    assert _link(newest, "newer") is None
    # Backwards, page by page, to the first event of the job.
    seen: list[list[int]] = [_seqs(newest)]
    page = newest
    while (older := _link(page, "older")) is not None:
        assert f"job={held}" in older
        page = client.get(older).text
        seen.insert(0, _seqs(page))
    assert [len(s) for s in seen[1:]] == [50] * (len(seen) - 1)
    assert [seq for s in seen for seq in s] == wanted
    # The oldest page is the one "from the start" gives; forwards again to the newest.
    first = client.get(_link(newest, "first") or "").text
    assert _seqs(first) == wanted[:50]
    assert _link(first, "older") is None
    again: list[int] = []
    page = first
    while True:
        again += _seqs(page)
        newer = _link(page, "newer")
        if newer is None:
            break
        assert f"job={held}" in newer
        page = client.get(newer).text
    assert again == wanted


def test_a_bad_journal_page_is_refused(site: Site) -> None:
    client = log_in(site.console, "supe")
    before = site.journal.last_seq()
    for params, message in (
        ({"before": "abc"}, "before: 'abc' is not an event number"),
        ({"before": "5", "after": "2"}, "a page is either after an event or before one, not both"),
    ):
        response = client.get("/journal", params=params)
        assert response.status_code == 400
        assert error_of(response) == message
    assert site.journal.last_seq() == before
