"""The console's duty pages (quarantine, media, secure waste, retention) over a real
``labd web`` process, on a journal in SQLite and in PostgreSQL.

Each test starts ``labd web`` as a subprocess with accounts made by ``labd user add`` and
jobs taken through the real life cycle, and talks HTTP with httpx as a browser does.  What
a form did is read back from the journal (the ledgers, the events and their ``by``),
never from the console's word; a refused form is checked to have changed nothing by
comparing every row of every table before and after (:meth:`tests.rawdb.RawDB.everything`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from labd.clock import Clock, ManualClock
from labd.config import DEFAULT_MISPRINT_REASONS
from labd.demo.embedded import EmbeddedPrintServer
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind, MediaState
from labd.model import Event, JobState
from labd.schemas import open_journal
from labd.store import PostgresLocation, StoreLocation
from labd.waste.ledger import WasteLedger
from labd.waste.model import ContainerState
from labd.web.accounts import Role
from labd.web.roles import ROUTES, allowed
from tests.factories import GOOD_CONFIG, job_in_state, write_config
from tests.rawdb import RawDB, location_of
from tests.webconsole import ROLES, ConsoleProcess, add_user, csrf_of, error_of, log_in

ORDER = "ORD-Nordmann-4711"
SERIAL = "SN-KARI-0815"  # a stick's serial number: personal
_queues = itertools.count(1)


@dataclass
class Duties:
    """A configuration with [media] and [waste], its journal with a printed job and a
    quarantined one, the console serving it, and a second connection to read it raw."""

    config: Path
    journal: Journal
    console: ConsoleProcess
    done: int
    quarantined: int
    db: RawDB

    def client(self, role: str) -> tuple[httpx.Client, str]:
        """A logged-in client of ``role`` and its session's CSRF token."""
        client = log_in(self.console, role[:4])
        return client, csrf_of(client.get("/").text)

    def events_after(self, seq: int, *, web: bool = False) -> list[Event]:
        """Events after ``seq``, without the logins (and the looks, unless ``web``)."""
        return [
            e
            for e in self.journal.events(after=seq)
            if e.kind != "web.login" and (web or e.kind != "web.personal_viewed")
        ]

    def media(self) -> MediaLedger:
        return MediaLedger(self.journal)

    def waste(self) -> WasteLedger:
        return WasteLedger(self.journal)


def _config_text(server: str, queue: str) -> str:
    return (
        GOOD_CONFIG.replace('queue = "minilab"', f'queue = "{queue}"')
        + f'\n[cups]\nserver = "{server}"\n'
        + '\n[media]\noverdue_days = 7\n\n[waste]\nreasons = ["banding", "dust"]\n'
    )


@pytest.fixture
def duties(
    tmp_path: Path, store_location: StoreLocation, print_server: EmbeddedPrintServer
) -> Iterator[Duties]:
    queue = f"duties-{next(_queues)}"
    print_server.add_printer_queue(queue)
    config = write_config(
        tmp_path, _config_text(print_server.server, queue), journal=store_location
    )
    journal = open_journal(store_location)
    spool = tmp_path / "spool"
    done = job_in_state(
        journal,
        JobState.DONE,
        spool,
        order=ORDER,
        queue=queue,
        entry="Nordmann prints",
        files=[("a.jpg", 10), ("b.jpg", 10), ("c.jpg", 10)],
    ).id
    quarantined = job_in_state(
        journal, JobState.QUARANTINED, spool, queue=queue, entry="Hansen order"
    ).id
    for role in ROLES:
        add_user(config, tmp_path, role[:4], role)
    console = ConsoleProcess(config, tmp_path / "web.log").start()
    db = RawDB(journal)
    try:
        yield Duties(config, journal, console, done, quarantined, db)
    finally:
        console.stop()
        db.close()
        journal.close()


def _ok(response: httpx.Response) -> None:
    """An action that worked: a redirect back to its page, no error."""
    assert response.status_code == 303, error_of(response) if response.status_code >= 400 else ""


def _row(html: str, attribute: str, value: object) -> str:
    match = re.search(rf'<tr {attribute}="{value}".*?</tr>', html, re.S)
    assert match is not None, html[:3000]
    return match.group(0)


# -- who may see which page ---------------------------------------------------------------------

# Each duty page and the lowest role allowed, as the issue and the README say: written here
# on its own, so a wrong entry in roles.ROUTES fails this test.
PAGES = {
    "/quarantine": ("technician", 'id="quarantined"'),
    "/media": ("technician", 'id="media-register"'),
    "/waste": ("technician", 'id="container-open"'),
    "/waste/misprint": ("technician", 'id="recent-jobs"'),
    "/retention": ("supervisor", 'id="erase-form"'),
}


def test_each_duty_page_renders_for_the_roles_allowed_and_no_other(duties: Duties) -> None:
    ranks = {"technician": 0, "supervisor": 1, "admin": 2}
    for path, (lowest, _) in PAGES.items():
        [rule] = [r for r in ROUTES if (r.method, r.path) == ("GET", path)]
        assert rule.lowest is Role(lowest), path
    for role in ROLES:
        client, _ = duties.client(role)
        for path, (lowest, marker) in PAGES.items():
            response = client.get(path)
            if ranks[role] >= ranks[lowest]:
                assert response.status_code == 200, (path, role, response.text[:500])
                assert marker in response.text, (path, role)
                assert "<script>" not in response.text
            else:
                assert response.status_code == 403, (path, role)
                assert "Nothing was done" in error_of(response)
        nav = client.get("/").text
        assert ('id="nav-retention"' in nav) == (ranks[role] >= 1)
        client.close()
    # Without a session: to the login, and back afterwards.
    anonymous = duties.console.client()
    for path in PAGES:
        response = anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path.replace('/', '%2F')}"
    # Every duty route is in the table the route walk of test_web.py goes through.
    duty_routes = [r for r in ROUTES if r.path in _duty_paths()]
    assert len(duty_routes) == 21
    assert all(allowed(r, Role.ADMIN) for r in duty_routes)


def _duty_paths() -> set[str]:
    """The paths of the duty pages and their forms."""
    first = ("quarantine", "media", "waste", "retention")
    return {r.path for r in ROUTES if r.path.split("/")[1] in first}


# -- quarantine ---------------------------------------------------------------------------------


def test_the_quarantine_page_says_why_and_what_to_do_and_closes(duties: Duties) -> None:
    client, csrf = duties.client("technician")
    row = _row(client.get("/quarantine").text, "data-job", duties.quarantined)
    assert 'data-rule="input.truncated"' in row
    assert "a.jpg is cut short" in row
    note = f"quarantine/prints/{duties.quarantined}-Hansen order.reason.txt"
    assert note in row
    assert "drop the fixed files in again under the same name" in row
    assert f'data-job="{duties.done}"' not in client.get("/quarantine").text
    before = duties.journal.last_seq()
    response = client.post(
        f"/jobs/{duties.quarantined}/close",
        data={"csrf": csrf, "reason": "customer sent a new card", "back": "/quarantine"},
    )
    _ok(response)
    assert response.headers["location"] == "/quarantine"
    [closed] = duties.events_after(before)
    assert (closed.kind, closed.job_id, closed.data["by"]) == (
        "job.closed",
        duties.quarantined,
        "tech",
    )
    page = client.get("/quarantine").text
    assert f"Job {duties.quarantined}: closed" in page
    assert 'id="none"' in page  # nothing waits any more


# -- customer media -----------------------------------------------------------------------------


def test_media_is_received_linked_readied_and_returned_in_the_web_users_name(
    duties: Duties,
) -> None:
    client, csrf = duties.client("technician")
    before = duties.journal.last_seq()
    _ok(
        client.post(
            "/media/register",
            data={
                "csrf": csrf,
                "kind": "usb",
                "identifier": SERIAL,
                "id_kind": "serial",
                "order": ORDER,
            },
        )
    )
    [item] = duties.media().items()
    assert (item.state, item.identifier, item.orders, item.received_by) == (
        MediaState.RECEIVED,
        SERIAL,
        (ORDER,),
        "tech",
    )
    _ok(client.post("/media/link", data={"csrf": csrf, "item": item.id, "job": duties.done}))
    _ok(client.post("/media/ready", data={"csrf": csrf, "item": item.id}))
    page = client.get("/media").text
    row = _row(page, "data-item", item.id)
    assert 'data-state="ready"' in row
    assert SERIAL not in page  # a technician handles the stick, not its serial number
    assert ORDER not in page
    _ok(client.post("/media/return", data={"csrf": csrf, "item": item.id, "shipment": "PKG-1"}))
    returned = duties.media().item(item.id)
    assert (returned.state, returned.closed_by, returned.jobs) == (
        MediaState.RETURNED,
        "tech",
        (duties.done,),
    )
    moves = [(e.kind, e.data["by"]) for e in duties.events_after(before)]
    assert moves == [
        ("media.registered", "tech"), ("media.linked", "tech"), ("media.ready", "tech"),
        ("media.returned", "tech"),
    ]  # fmt: skip
    assert f'data-item="{item.id}"' not in client.get("/media").text  # out of the house


def test_a_disc_is_destroyed_into_a_container_and_overdue_ones_come_first(
    duties: Duties,
) -> None:
    # A disc whose order became ready ten days ago (overdue after 7), written by a journal
    # connection whose clock stands then; and a stick ready now.
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    with _journal_at(duties, ManualClock(ten_days_ago)) as past:
        late = MediaLedger(past).register(MediaKind.CD, "DISC-9", by="anna", orders=[ORDER])
        MediaLedger(past).ready(late.id, by="anna")
    fresh = duties.media().register(MediaKind.USB, "TAG-2", by="anna")
    duties.media().ready(fresh.id, by="anna")
    client, csrf = duties.client("technician")
    page = client.get("/media").text
    assert 'id="count-overdue">1 overdue' in page
    assert page.index(f'data-item="{late.id}"') < page.index(f'data-item="{fresh.id}"')
    assert 'data-overdue="yes"' in _row(page, "data-item", late.id)
    assert 'data-overdue="yes"' not in _row(page, "data-item", fresh.id)
    _ok(
        client.post(
            "/waste/containers/open",
            data={
                "csrf": csrf,
                "container": "D-1",
                "material": "O",
                "level": "3",
                "location": "office",
            },
        )
    )
    assert '<option value="D-1">' in _row(client.get("/media").text, "data-item", late.id)
    before = duties.journal.last_seq()
    _ok(client.post("/media/destroy", data={"csrf": csrf, "item": late.id, "container": "D-1"}))
    destroyed = duties.media().item(late.id)
    assert (destroyed.state, destroyed.container, destroyed.level, destroyed.closed_by) == (
        MediaState.DESTROYED,
        "D-1",
        "O-3",
        "tech",
    )
    [entry] = duties.waste().entries("D-1")
    assert (entry.media_item, entry.found_by) == (late.id, "tech")
    assert [(e.kind, e.data["by"]) for e in duties.events_after(before)] == [
        ("media.destroyed", "tech"), ("waste.media", "tech"),
    ]  # fmt: skip
    # A stick marked to go back, destroyed in the lab's shredder: an override with a reason.
    _ok(
        client.post(
            "/media/destroy",
            data={
                "csrf": csrf,
                "item": fresh.id,
                "shredder_run": "RUN-3",
                "level": "E-3",
                "override": "yes",
                "reason": "the customer asked us to destroy it",
            },
        )
    )
    assert duties.media().item(fresh.id).shredder_run == "RUN-3"


def test_identifiers_are_for_supervisors_and_each_look_is_journaled(duties: Duties) -> None:
    item = duties.media().register(MediaKind.USB, SERIAL, by="anna", orders=[ORDER])
    tech, _ = duties.client("technician")
    before = duties.journal.last_seq()
    assert SERIAL not in tech.get("/media").text
    assert duties.events_after(before, web=True) == []
    supe, _ = duties.client("supervisor")
    page = supe.get("/media").text
    row = _row(page, "data-item", item.id)
    assert SERIAL in row
    assert ORDER in row
    [look] = duties.events_after(before, web=True)
    assert (look.kind, dict(look.data)) == (
        "web.personal_viewed",
        {"media_items": [item.id], "by": "supe"},
    )
    assert SERIAL not in repr(dict(look.data)) + repr(look.detail)  # the look, not the data


# -- secure waste -------------------------------------------------------------------------------


def _open_prints_box(duties: Duties, client: httpx.Client, csrf: str, box: str = "W-1") -> None:
    _ok(
        client.post(
            "/waste/containers/open",
            data={
                "csrf": csrf,
                "container": box,
                "material": "P",
                "level": "4",
                "location": "QC table",
            },
        )
    )


def test_a_container_goes_through_its_life_cycle_from_the_waste_page(duties: Duties) -> None:
    client, csrf = duties.client("technician")
    before = duties.journal.last_seq()
    _open_prints_box(duties, client, csrf)
    assert 'data-action="seal"' in _row(client.get("/waste").text, "data-container", "W-1")
    _ok(
        client.post(
            "/waste/containers/seal", data={"csrf": csrf, "container": "W-1", "seal": "S-77"}
        )
    )
    _ok(
        client.post(
            "/waste/containers/collect",
            data={"csrf": csrf, "container": "W-1", "company": "Shred AS", "date": "2026-03-02"},
        )
    )
    _ok(
        client.post(
            "/waste/containers/certify",
            data={
                "csrf": csrf,
                "container": "W-1",
                "certificate": "C-2026-11",
                "date": "2026-03-09",
            },
        )
    )
    box = duties.waste().container("W-1")
    assert (box.state, box.din_level, box.seal, box.company, box.collected_on) == (
        ContainerState.CERTIFIED,
        "P-4",
        "S-77",
        "Shred AS",
        "2026-03-02",
    )
    assert (box.certificate, box.certified_on, box.opened_by, box.sealed_by) == (
        "C-2026-11",
        "2026-03-09",
        "tech",
        "tech",
    )
    assert [(e.kind, e.data["by"]) for e in duties.events_after(before)] == [
        ("waste.container_opened", "tech"), ("waste.container_sealed", "tech"),
        ("waste.container_collected", "tech"), ("waste.container_certified", "tech"),
    ]  # fmt: skip
    row = _row(client.get("/waste").text, "data-container", "W-1")
    assert 'data-state="certified"' in row
    assert "C-2026-11" in row
    assert "data-action" not in row  # nothing follows a certificate


def test_a_misprint_from_the_tablet_form_prints_again(duties: Duties) -> None:
    client, csrf = duties.client("technician")
    _open_prints_box(duties, client, csrf)
    form = client.get(f"/waste/misprint?job={duties.done}").text
    for seq in (1, 2, 3):
        assert f'name="output-{seq}"' in form
    for reason in ("banding", "dust", "other"):
        assert f'value="{reason}"' in form
    assert 'value="colour-cast"' not in form  # not among this lab's reasons
    assert 'value="W-1" id="container-W-1" required checked' in form  # the only one: chosen
    before = duties.journal.last_seq()
    response = client.post(
        "/waste/misprint",
        data={
            "csrf": csrf,
            "job": duties.done,
            "output-1": "yes",
            "output-3": "yes",
            "reason": "banding",
            "container": "W-1",
            "reprint": "yes",
        },
    )
    _ok(response)
    assert response.headers["location"] == "/waste/misprint"  # ready for the next one
    [entry] = duties.waste().entries("W-1")
    assert (entry.job_id, entry.outputs, entry.sheets, entry.reason, entry.found_by) == (
        duties.done,
        (1, 3),
        2,
        "banding",
        "tech",
    )
    assert entry.reprint == "requested"
    [again] = [j for j in duties.journal.jobs() if j.id > duties.quarantined]
    assert again.state is JobState.CONVERTED  # files in place: the daemon submits it
    assert [o.path for o in duties.journal.outputs(again.id)] == ["out/0001.jpg", "out/0003.jpg"]
    events = [(e.kind, e.data.get("by")) for e in duties.events_after(before)]
    assert ("waste.misprint", "tech") in events
    assert ("waste.reprint_requested", "tech") in events
    [linked] = [e for e in duties.events_after(before) if e.kind == "waste.reprinted"]
    assert dict(linked.data) == {"entry": entry.id, "reprint_job": again.id}
    note = client.get("/waste/misprint").text
    assert (
        f"Job {duties.done}: outputs 1, 3 (banding) into W-1, waste entry {entry.id}; "
        f"printed again as job {again.id}" in note
    )
    # Without a reprint: an entry, no new job; "other" keeps its text beside the chain.
    _ok(
        client.post(
            "/waste/misprint",
            data={
                "csrf": csrf,
                "job": duties.done,
                "output-2": "yes",
                "reason": "other",
                "text": "thumb print",
                "container": "W-1",
                "reprint": "no",
            },
        )
    )
    [_, second] = duties.waste().entries("W-1")
    assert (second.outputs, second.reason, second.text, second.reprint) == (
        (2,),
        "other",
        "thumb print",
        None,
    )
    assert len(duties.journal.jobs()) == 3


def test_possible_duplicates_are_confirmed_or_dismissed(duties: Duties) -> None:
    record = duties.journal.record
    first = record(
        "print.possible_duplicate",
        {"seq": 2, "cups_job_id": 1, "queue": "q", "why": "CUPS restarted the job"},
        job_id=duties.done,
    )
    second = record(
        "print.possible_duplicate",
        {"seq": 1, "cups_job_id": 2, "queue": "q", "why": "CUPS went away"},
        job_id=duties.done,
    )
    client, csrf = duties.client("technician")
    _open_prints_box(duties, client, csrf)
    page = client.get("/waste").text
    assert "CUPS restarted the job" in _row(page, "data-event", first)
    before = duties.journal.last_seq()
    _ok(
        client.post(
            "/waste/duplicates/confirm", data={"csrf": csrf, "event": first, "container": "W-1"}
        )
    )
    _ok(
        client.post(
            "/waste/duplicates/dismiss",
            data={"csrf": csrf, "event": second, "reason": "the printer had not started"},
        )
    )
    [entry] = duties.waste().entries("W-1")
    assert (entry.reason, entry.outputs, entry.found_by) == ("duplicate", (2,), "tech")
    decided = {e.kind: e for e in duties.events_after(before)}
    assert decided["waste.duplicate_confirmed"].data["by"] == "tech"
    dismissed = decided["waste.duplicate_dismissed"]
    assert (dismissed.data["event"], dismissed.data["by"]) == (second, "tech")
    assert dismissed.detail == "the printer had not started"
    assert duties.waste().possible_duplicates() == []
    assert 'id="no-duplicates"' in client.get("/waste").text


# -- retention and erasure ----------------------------------------------------------------------


def test_a_supervisor_places_and_releases_a_hold_and_sees_what_is_due(duties: Duties) -> None:
    client, csrf = duties.client("supervisor")
    due = client.get("/retention?within=400").text
    assert f'data-job="{duties.done}"' in due  # its hot folder keeps it for a while
    assert f'data-job="{duties.done}"' not in client.get("/retention?within=0").text
    before = duties.journal.last_seq()
    _ok(
        client.post(
            "/retention/holds/place",
            data={"csrf": csrf, "order": ORDER, "reason": "complaint K-12"},
        )
    )
    [hold] = [e for e in duties.events_after(before) if e.kind == "retention.hold_placed"]
    assert hold.data["by"] == "supe"
    assert ORDER not in repr(dict(hold.data))  # a salted hash of it, not the reference
    look_from = duties.journal.last_seq()
    page = client.get("/retention?within=400").text
    row = _row(page, "data-hold", hold.data["hold"])
    assert ORDER in row
    assert "complaint K-12" in row
    assert 'data-held="yes"' in _row(page, "data-job", duties.done)
    [look] = duties.events_after(look_from, web=True)
    assert dict(look.data) == {"holds": [hold.data["hold"]], "by": "supe"}
    _ok(
        client.post(
            "/retention/holds/release",
            data={"csrf": csrf, "hold": hold.data["hold"], "reason": "settled"},
        )
    )
    [released] = [e for e in duties.events_after(before) if e.kind == "retention.hold_released"]
    assert (released.data["by"], released.detail) == ("supe", "settled")
    assert 'id="no-holds"' in client.get("/retention").text


def test_an_erasure_is_previewed_then_done_and_says_what_is_left(duties: Duties) -> None:
    client, csrf = duties.client("supervisor")
    spool = Path(duties.journal.job(duties.done).spool)
    assert spool.is_dir()
    rows = duties.db.everything()
    preview = client.post(
        "/retention/erase/preview", data={"csrf": csrf, "order": ORDER, "request": "R-2031"}
    )
    assert preview.status_code == 200
    assert f'data-jobs="{duties.done}"' in preview.text
    assert "Nothing has been erased yet" in preview.text
    assert duties.db.everything() == rows  # a preview changes nothing
    # Erase without the preview's list of jobs, or with another: refused, nothing erased.
    for jobs in (None, f"{duties.done},{duties.quarantined}"):
        data = {"csrf": csrf, "order": ORDER, "request": "R-2031"}
        if jobs is not None:
            data["jobs"] = jobs
        refused = client.post("/retention/erase", data=data)
        assert refused.status_code == 400
        assert "preview" in error_of(refused)
        assert duties.db.everything() == rows
    before = duties.journal.last_seq()
    confirm = csrf_of(preview.text.split('id="erase-confirm"')[1])
    response = client.post(
        "/retention/erase",
        data={
            "csrf": confirm,
            "order": ORDER,
            "job": "",
            "request": "R-2031",
            "jobs": str(duties.done),
        },
    )
    _ok(response)
    assert duties.journal.job(duties.done).state is JobState.PURGED
    assert not spool.exists()
    [tombstone] = [e for e in duties.events_after(before) if e.kind == "erasure.requested"]
    assert (tombstone.data["by"], tombstone.data["request"], tombstone.data["jobs"]) == (
        "supe",
        "R-2031",
        [duties.done],
    )
    assert ORDER not in duties.db.everything()
    note = client.get("/retention").text
    assert f"Erasure R-2031: jobs {duties.done}; files of jobs {duties.done}" in note
    assert "has still to delete" not in note


def test_an_erasure_in_a_shared_journal_names_the_nodes_that_still_have_files(
    duties: Duties, store_location: StoreLocation
) -> None:
    if not isinstance(store_location, PostgresLocation):
        pytest.skip("nodes share a journal in PostgreSQL only")
    other_spool = duties.config.parent / "node-b-spool"
    with _journal_at(duties, None, node="b") as b:
        theirs = job_in_state(
            b, JobState.DONE, other_spool, order=ORDER, entry="Nordmann at the shop"
        ).id
    client, csrf = duties.client("supervisor")
    preview = client.post(
        "/retention/erase/preview", data={"csrf": csrf, "order": ORDER, "request": "R-7"}
    )
    jobs = f"{duties.done},{theirs}"
    assert f'data-jobs="{jobs}"' in preview.text
    _ok(
        client.post(
            "/retention/erase", data={"csrf": csrf, "order": ORDER, "request": "R-7", "jobs": jobs}
        )
    )
    note = client.get("/retention").text
    assert f"Node b has still to delete the files of jobs {theirs}" in note
    assert duties.journal.job(duties.done).state is JobState.PURGED
    assert duties.journal.job(theirs).state is JobState.DONE  # node b purges its own
    assert Path(duties.journal.job(theirs).spool).is_dir()


# -- refusals -----------------------------------------------------------------------------------


def _valid_forms(duties: Duties) -> dict[str, dict[str, object]]:
    """A form each POST route would carry out (so a refusal is the CSRF check's alone)."""
    return {
        "/media/register": {"kind": "usb", "identifier": "TAG-9"},
        "/waste/containers/open": {
            "container": "W-9",
            "material": "P",
            "level": "4",
            "location": "QC",
        },
        "/waste/misprint": {
            "job": duties.done,
            "output-1": "yes",
            "reason": "dust",
            "container": "W-1",
            "reprint": "yes",
        },
        "/retention/holds/place": {"job": duties.done, "reason": "complaint"},
        "/retention/erase": {"job": duties.done, "request": "R-1", "jobs": str(duties.done)},
    }


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(duties: Duties) -> None:
    client, csrf = duties.client("admin")
    _open_prints_box(duties, client, csrf)
    rows = duties.db.everything()
    forms = _valid_forms(duties)
    posts = [r.path for r in ROUTES if r.method == "POST" and r.path in _duty_paths()]
    assert set(forms) <= set(posts)
    for path in posts:
        for token in (None, "", "a token of another session"):
            form = forms.get(path, {})
            data = dict(form) if token is None else {**form, "csrf": token}
            response = client.post(path, data=data)
            assert response.status_code == 403, path
            assert "CSRF token is missing or wrong): nothing was changed" in error_of(response)
    assert duties.db.everything() == rows
    assert duties.journal.job(duties.done).state is JobState.DONE
    # The same forms with the session's token are carried out: the token alone was missing.
    for path in ("/waste/misprint", "/retention/holds/place", "/media/register"):
        _ok(client.post(path, data={**forms[path], "csrf": csrf}))
    assert duties.db.everything() != rows


def test_bad_input_gives_a_clear_error_page_and_changes_nothing(duties: Duties) -> None:
    client, csrf = duties.client("admin")
    _open_prints_box(duties, client, csrf)
    _open_prints_box(duties, client, csrf, "W-2")
    _ok(
        client.post(
            "/waste/containers/seal", data={"csrf": csrf, "container": "W-2", "seal": "S-1"}
        )
    )
    item = duties.media().register(MediaKind.USB, "TAG-5", by="anna")
    done = duties.done
    misprint = {
        "job": done,
        "output-1": "yes",
        "reason": "dust",
        "container": "W-1",
        "reprint": "yes",
    }
    cases: list[tuple[str, dict[str, object], int, str]] = [
        ("/waste/misprint", {**misprint, "job": "424242"}, 404, "No job 424242 in the journal."),
        ("/waste/misprint", {**misprint, "job": "4x"}, 400, "job: '4x' is not a job number"),
        ("/waste/misprint", {**misprint, "output-1": "", "output-9": "yes"}, 400,
         f"job {done} has outputs 1, 2, 3; no output 9"),
        ("/waste/misprint", {**misprint, "output-1": ""}, 400, "tick the outputs"),
        ("/waste/misprint", {**misprint, "reason": "colour-cast"}, 400,
         "unknown reason 'colour-cast'; reasons: banding, dust, other"),
        ("/waste/misprint", {**misprint, "reason": "other"}, 400, "needs a text"),
        ("/waste/misprint", {**misprint, "container": "W-404"}, 400,
         "No waste container W-404 in the ledger."),
        ("/waste/misprint", {**misprint, "container": "W-2"}, 400,
         "container W-2 is sealed; only an open container takes entries"),
        ("/waste/misprint", {**misprint, "reprint": ""}, 400, "say whether it is printed again"),
        ("/waste/duplicates/confirm", {"event": "3", "container": "W-1"}, 400,
         "event 3 is no open possible duplicate"),
        ("/waste/duplicates/dismiss", {"event": "3", "reason": " "}, 400, "why it is no duplicate"),
        ("/waste/containers/open", {"container": "W-1", "material": "P", "level": "4",
                                    "location": "QC"}, 400, "container W-1 exists already"),
        ("/waste/containers/open", {"container": "W-8", "material": "Z", "level": "4",
                                    "location": "QC"}, 400, "material: 'Z' is not one of: P, F"),
        ("/waste/containers/seal", {"container": "W-404", "seal": "S"}, 400,
         "No waste container W-404"),
        ("/waste/containers/collect", {"container": "W-1", "company": "X", "date": "soon"}, 400,
         "date: 'soon' is not a date"),
        ("/waste/containers/certify", {"container": "W-1", "certificate": "C-1"}, 400,
         "it must be collected first"),
        ("/media/register", {"kind": "floppy", "identifier": "x"}, 400,
         "kind: 'floppy' is not one of: usb, sd"),
        ("/media/register", {"kind": "usb", "identifier": "   "}, 400, "identifier: give"),
        ("/media/register", {"kind": "usb", "identifier": "T", "job": "777"}, 404,
         "No job 777 in the journal."),
        ("/media/link", {"item": item.id}, 400, "name the order (--order) or job (--job)"),
        ("/media/link", {"item": "999", "job": done}, 400, "No media item 999 in the ledger."),
        ("/media/return", {"item": item.id}, 400, "its order is not ready yet; mark it ready"),
        ("/media/destroy", {"item": item.id}, 400, "say where it was destroyed"),
        ("/retention/holds/place", {"job": done, "order": ORDER, "reason": "x"}, 400,
         "name a job or an order (one of them)"),
        ("/retention/holds/place", {"job": done, "reason": ""}, 400, "reason: give why"),
        ("/retention/holds/release", {"hold": "55", "reason": "x"}, 400,
         "No active legal hold 55."),
        ("/retention/erase/preview", {"order": ORDER, "request": ""}, 400,
         "request: give the request's reference"),
        ("/retention/erase/preview", {"order": ORDER, "request": "Kari Nordmann"}, 400,
         "never a name"),
        ("/retention/erase/preview", {"order": "ORD-none", "request": "R-1"}, 400,
         "no job or media item has that order reference"),
        ("/retention/erase", {"job": done, "request": "  ", "jobs": str(done)}, 400,
         "request: give the request's reference"),
    ]  # fmt: skip
    rows = duties.db.everything()
    for path, form, status, message in cases:
        response = client.post(path, data={"csrf": csrf, **form})
        where = (path, form)
        assert response.status_code == status, (where, response.text[:800])
        assert message in error_of(response), (where, error_of(response))
        assert "Traceback" not in response.text
        assert duties.db.everything() == rows, where
    for path, status, message in (
        ("/waste/misprint?job=424242", 404, "No job 424242 in the journal."),
        ("/waste/misprint?job=DROP", 400, "job: 'DROP' is not a job number"),
        ("/retention?within=forever", 400, "within: 'forever' is not a number of days"),
    ):
        response = client.get(path)
        assert response.status_code == status, path
        assert message in error_of(response), path
    assert duties.db.everything() == rows
    assert "colour-cast" in DEFAULT_MISPRINT_REASONS  # refused: not among this lab's reasons


@contextmanager
def _journal_at(
    duties: Duties, clock: Clock | None, *, node: str | None = None
) -> Iterator[Journal]:
    """Another connection to the duties' journal: another print server (``node``), or one
    whose clock stands elsewhere (to make something overdue)."""
    journal = open_journal(location_of(duties.journal), clock, node=node)
    try:
        yield journal
    finally:
        journal.close()
