"""The console in a browser (``labd web``): a real server process over a real journal.

Each test starts ``labd web`` as a subprocess on a free port, with accounts made by
``labd user add``, over a journal on SQLite and on PostgreSQL whose jobs were taken
through the real life cycle, and a queue of the session's private CUPS; it talks HTTP
with httpx as a browser would (the login form's token, the session cookie).  What the
console did is read back from the journal, never from the console's own word.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from labd.demo.embedded import EmbeddedPrintServer
from labd.journal import Journal
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from labd.web.accounts import LOCK_AFTER, Role
from labd.web.roles import ROUTES, RouteRule, allowed
from tests.alert_receivers import make_certificate
from tests.factories import GOOD_CONFIG, job_in_state, run_labd, write_config
from tests.webconsole import (
    PASSWORD,
    ROLES,
    ConsoleProcess,
    add_user,
    csrf_of,
    error_of,
    log_in,
    try_login,
)

REPO = Path(__file__).resolve().parents[2]
ORDER = "ORD-Nordmann-4711"
_queues = itertools.count(1)


@dataclass
class Lab:
    """A configuration, its journal with one job in each state a person acts on, the
    console serving it, and the jobs' ids."""

    config: Path
    journal: Journal
    console: ConsoleProcess
    queue: str
    jobs: dict[JobState, int]

    def state(self, job_id: int) -> JobState:
        return self.journal.job(job_id).state

    def events_after(self, seq: int) -> list[tuple[str, dict[str, object], str | None]]:
        return [(e.kind, dict(e.data), e.detail) for e in self.journal.events(after=seq)]


def _config_text(server: str, queue: str) -> str:
    return (
        GOOD_CONFIG.replace('queue = "minilab"', f'queue = "{queue}"')
        + f'\n[cups]\nserver = "{server}"\n'
    )


@pytest.fixture
def lab(
    tmp_path: Path, store_location: StoreLocation, print_server: EmbeddedPrintServer
) -> Iterator[Lab]:
    queue = f"web-{next(_queues)}"
    print_server.add_printer_queue(queue)
    config = write_config(
        tmp_path, _config_text(print_server.server, queue), journal=store_location
    )
    journal = open_journal(store_location)
    jobs = {
        state: job_in_state(
            journal,
            state,
            tmp_path / "spool",
            order=ORDER,
            queue=queue,
            entry=f"{state.value} order",
        ).id
        for state in (JobState.HELD, JobState.UNCERTAIN, JobState.QUARANTINED, JobState.DONE)
    }
    held = journal.job(jobs[JobState.HELD])
    for o in journal.outputs(held.id):  # real pictures: the route walk asks for a preview
        Image.new("RGB", (60, 40), (200, 120, 40)).save(Path(held.spool) / o.path)
    for role in ROLES:
        add_user(config, tmp_path, f"{role[:4]}", role)
    console = ConsoleProcess(config, tmp_path / "web.log").start()
    try:
        yield Lab(config, journal, console, queue, jobs)
    finally:
        console.stop()
        journal.close()


def _user(role: str) -> str:
    return role[:4]  # tech, supe, admi


# -- every route, every role -------------------------------------------------------------------


def _concrete(rule: RouteRule, lab: Lab) -> str:
    """A path of ``rule``'s route: GET on a real job; POST on a job that does not exist,
    so that an allowed action is refused by the journal (404), never done."""
    job = lab.jobs[JobState.HELD] if rule.method == "GET" else 999999
    return rule.path.replace("{job_id:int}", str(job))


def _ask(client: httpx.Client, rule: RouteRule, path: str, csrf: str) -> httpx.Response:
    if rule.path == "/events":
        with client.stream("GET", path) as response:
            return response  # the status and headers; the stream is closed unread
    if rule.method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf": csrf})


def test_every_route_answers_each_role_as_the_readme_table_says(lab: Lab) -> None:
    routes = [
        r
        for r in ROUTES
        if r.path not in ("/login", "/logout") and not r.path.startswith("/api/")  # tokens
    ]
    for role in (None, *ROLES):
        client = log_in(lab.console, _user(role)) if role else lab.console.client()
        csrf = csrf_of(client.get("/").text) if role else "no session, no token"
        for rule in routes:
            path = _concrete(rule, lab)
            response = _ask(client, rule, path, csrf)
            where = f"{rule.method} {path} as {role}"
            if allowed(rule, Role(role) if role else None):
                # A POST on no job, or with an empty form (the duty pages' forms name what
                # they act on in their fields): refused, never done.
                on_job = "{job_id:int}" in rule.path
                expected = 200 if rule.method == "GET" else 404 if on_job else 400
                assert response.status_code == expected, (where, response.text[:500])
                if rule.method == "POST" and on_job:
                    assert error_of(response) == "No job 999999 in the journal.", where
            elif role is None and rule.path in ("/board/table", "/events"):
                assert response.status_code == 401, where
            elif role is None and rule.method == "GET":
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/login?next="), where
            else:
                assert response.status_code == 403, where
                message = error_of(response)
                assert "Nothing was done" in message or "log in again" in message, where
        client.close()
    # Nothing any of it did changed a job.
    assert {s: lab.state(i) for s, i in lab.jobs.items()} == {s: s for s in lab.jobs}


def test_the_readme_shows_the_same_table() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## The console in a browser", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    marks = {"technician": 1, "supervisor": 2, "admin": 3}
    for rule in ROUTES:
        shown = rule.path.replace("{job_id:int}", "N")
        [row] = [r for r in rows if r.startswith(f"| `{rule.method} {shown}`")]
        cells = [c.strip() for c in row.strip("|").split("|")]
        for role, column in marks.items():
            assert (cells[column] == "yes") == allowed(rule, Role(role)), (rule, role, cells)


# -- CSRF, lockout, cookies ---------------------------------------------------------------------


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(lab: Lab) -> None:
    held = lab.jobs[JobState.HELD]
    client = log_in(lab.console, "tech")
    before = lab.journal.last_seq()
    for data in ({}, {"csrf": ""}, {"csrf": "a token of another session"}):
        response = client.post(f"/jobs/{held}/retry", data=data)
        assert response.status_code == 403
        assert "CSRF token is missing or wrong): nothing was changed" in error_of(response)
    response = client.post("/logout", data={})
    assert response.status_code == 403
    assert lab.state(held) is JobState.HELD
    assert lab.journal.last_seq() == before
    assert client.get("/").status_code == 200  # still logged in: the logout was refused too
    # The login form's own token: a login posted from elsewhere is refused unread.
    fresh = lab.console.client()
    response = fresh.post("/login", data={"name": "tech", "password": PASSWORD})
    assert response.status_code == 403
    assert "labd_session" not in response.cookies
    assert lab.journal.last_seq() == before


def test_repeated_wrong_passwords_lock_the_account_and_are_journaled(lab: Lab) -> None:
    before = lab.journal.last_seq()
    client = lab.console.client()
    for _ in range(LOCK_AFTER - 1):
        response = try_login(client, "supe", "not the password")
        assert response.status_code == 401
        assert error_of(response) == "Wrong user name or password."
    response = try_login(client, "supe", "not the password either")
    assert response.status_code == 403
    assert "locked after too many wrong passwords" in error_of(response)
    # Locked: the right password is refused too, and nothing of a session is handed out.
    response = try_login(client, "supe", PASSWORD)
    assert response.status_code == 403
    assert "locked" in error_of(response)
    assert "labd_session" not in client.cookies
    events = lab.events_after(before)
    kinds = [k for k, _, _ in events]
    assert kinds == ["web.login_failed"] * LOCK_AFTER + ["web.locked", "web.login_failed"]
    assert events[LOCK_AFTER][1]["user"] == "supe"
    assert events[LOCK_AFTER][1]["failures"] == LOCK_AFTER
    assert events[-1][1] == {"user": "supe", "why": "locked"}
    assert all(detail == "from 127.0.0.1" for _, _, detail in events)
    for _, data, detail in events:
        for secret in ("not the password", PASSWORD, "argon2"):
            assert secret not in repr(data) + repr(detail)
    # Another account is not locked by it; `labd user passwd` lifts the lock.
    log_in(lab.console, "tech").close()
    new_password = lab.config.parent / "new.password"
    new_password.write_text("a brand new password\n")
    code, _ = run_labd(lab.config, "user", "passwd", "supe", "--password-file", str(new_password))
    assert code == 0
    log_in(lab.console, "supe", "a brand new password").close()


def _cookie_header(response: httpx.Response, name: str) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


def test_the_session_cookie_is_httponly_strict_and_gone_after_logout(lab: Lab) -> None:
    client = lab.console.client()
    response = try_login(client, "tech", PASSWORD)
    cookie = _cookie_header(response, "labd_session")
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags  # plain HTTP on 127.0.0.1: behind a proxy, or a trial
    board = client.get("/")
    assert board.status_code == 200
    assert "script-src 'self'" in board.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in board.headers["content-security-policy"]
    assert "unsafe-inline" not in board.headers["content-security-policy"]
    assert board.headers["x-frame-options"] == "DENY"
    assert "<script>" not in board.text
    assert " on" + "click=" not in board.text
    response = client.post("/logout", data={"csrf": csrf_of(board.text)})
    assert response.status_code == 303
    token = cookie.split(";")[0].split("=", 1)[1]
    # The old token is dead on the server, not only forgotten by this browser.
    stale = lab.console.client()
    stale.cookies.set("labd_session", token)
    assert stale.get("/").status_code == 303


def test_under_tls_the_cookie_is_secure(
    tmp_path: Path, store_location: StoreLocation, print_server: EmbeddedPrintServer
) -> None:
    certificate = make_certificate(tmp_path)
    text = _config_text(print_server.server, "labd-virtual") + (
        f'\n[web]\ntls_cert = "{certificate.cert}"\ntls_key = "{certificate.key}"\n'
    )
    config = write_config(tmp_path, text, journal=store_location)
    open_journal(store_location).close()
    add_user(config, tmp_path, "anna", "technician")
    console = ConsoleProcess(config, tmp_path / "web.log", scheme="https").start()
    try:
        client = console.client()
        response = try_login(client, "anna", PASSWORD)
        flags = {f.strip().lower() for f in _cookie_header(response, "labd_session").split(";")}
        assert {"secure", "httponly", "samesite=strict"} <= flags
        board = client.get("/")
        assert board.status_code == 200
        assert board.headers["strict-transport-security"].startswith("max-age=")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{console.port}/login", timeout=5)
    finally:
        console.stop()


# -- acting from the board ----------------------------------------------------------------------


def _row(html: str, job_id: int) -> str:
    match = re.search(rf'<tr data-job="{job_id}" data-state="(\w+)".*?</tr>', html, re.S)
    assert match is not None, html
    return match.group(0)


def test_a_retry_from_the_board_is_journaled_with_the_web_users_name(lab: Lab) -> None:
    held = lab.jobs[JobState.HELD]
    client = log_in(lab.console, "tech")
    board = client.get("/")
    row = _row(board.text, held)
    assert 'data-state="HELD"' in row
    assert "print.printer_stopped" in row
    assert 'data-action="retry"' in row
    # The board lists what needs a person first.
    attention = board.text.split('id="section-attention"')[1].split("</section>")[0]
    assert f'data-job="{held}"' in attention
    assert f'data-job="{lab.jobs[JobState.DONE]}"' not in attention
    before = lab.journal.last_seq()
    response = client.post(f"/jobs/{held}/retry", data={"csrf": csrf_of(row), "back": "/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert lab.state(held) is JobState.CONVERTED  # held before it was sent: it goes again
    [(kind, data, _)] = lab.events_after(before)
    assert kind == "job.state_changed"
    assert (data["from"], data["to"], data["by"], data["why"]) == (
        "HELD", "CONVERTED", "tech", "retry",
    )  # fmt: skip
    page = client.get("/")
    assert f"Job {held}: retried, now CONVERTED" in page.text
    assert f"Job {held}: retried" not in client.get("/").text  # said once


def test_a_supervisor_resolves_and_a_technician_may_not(lab: Lab) -> None:
    uncertain = lab.jobs[JobState.UNCERTAIN]
    tech = log_in(lab.console, "tech")
    assert 'data-action="resolve-printed"' not in _row(tech.get("/").text, uncertain)
    before = lab.journal.last_seq()
    refused = tech.post(
        f"/jobs/{uncertain}/resolve",
        data={"csrf": csrf_of(tech.get("/").text), "decision": "printed"},
    )
    assert refused.status_code == 403
    assert lab.journal.last_seq() == before
    supe = log_in(lab.console, "supe")
    row = _row(supe.get("/").text, uncertain)
    response = supe.post(
        f"/jobs/{uncertain}/resolve", data={"csrf": csrf_of(row), "decision": "printed"}
    )
    assert response.status_code == 303
    assert lab.state(uncertain) is JobState.DONE
    [(kind, data, _)] = [e for e in lab.events_after(before) if e[0] != "web.login"]
    assert (kind, data["to"], data["by"]) == ("job.state_changed", "DONE", "supe")


def test_bad_input_gives_a_clear_error_page_and_changes_nothing(lab: Lab) -> None:
    client = log_in(lab.console, "admi")
    csrf = csrf_of(client.get("/").text)
    done, quarantined = lab.jobs[JobState.DONE], lab.jobs[JobState.QUARANTINED]
    states = {i: lab.state(i) for i in lab.jobs.values()}
    before = lab.journal.last_seq()
    cases = [
        ("post", "/jobs/424242/cancel", {}, 404, "No job 424242 in the journal."),
        ("post", f"/jobs/{done}/retry", {}, 409, f"Job {done} is DONE: it has printed"),
        ("post", f"/jobs/{lab.jobs[JobState.UNCERTAIN]}/resolve", {"decision": "maybe"}, 400,
         "'maybe' is no decision: printed (it did) or reprint"),
        ("post", f"/jobs/{quarantined}/close", {"reason": "   "}, 400, "say why the job is closed"),
        ("post", f"/jobs/{quarantined}/close", {"reason": "x", "replaced_by": "7; DROP"}, 400,
         "replaced_by: '7; DROP' is not a list of numbers"),
        ("post", f"/jobs/{done}/reprint", {"outputs": "1,two"}, 400,
         "outputs: '1,two' is not a list of numbers"),
        ("post", f"/jobs/{done}/reprint", {"outputs": "9"}, 409, "no output 9"),
        ("get", "/?hotfolder=nowhere", {}, 400, "No hot folder 'nowhere'"),
        ("get", "/?technician=%3Cscript%3E", {}, 400, "is not a technician's name"),
        ("get", "/journal?since=yesterday", {}, 400, "since: 'yesterday' is not a date"),
        ("get", "/journal/verify?head=nonsense", {}, 400, "is not a head noted"),
        ("get", "/jobs/123456789", {}, 404, "No job 123456789 in the journal."),
    ]  # fmt: skip
    for method, path, data, status, message in cases:
        if method == "post":
            response = client.post(path, data={"csrf": csrf, **data})
        else:
            response = client.get(path)
        assert response.status_code == status, (path, response.text[:800])
        assert message in error_of(response), (path, error_of(response))
        assert "Traceback" not in response.text
    assert {i: lab.state(i) for i in lab.jobs.values()} == states
    assert lab.journal.last_seq() == before
    # A user name no account can have: said so, and nothing journaled (it is no account).
    response = try_login(lab.console.client(), "Robert'); DROP TABLE--", PASSWORD)
    assert response.status_code == 400
    assert "is not a user name" in error_of(response)
    assert lab.journal.last_seq() == before


# -- what each role sees ------------------------------------------------------------------------


def test_the_order_reference_is_for_supervisors_and_their_look_is_journaled(lab: Lab) -> None:
    done = lab.jobs[JobState.DONE]
    tech = log_in(lab.console, "tech")
    before = lab.journal.last_seq()
    page = tech.get(f"/jobs/{done}")
    assert page.status_code == 200
    assert ORDER not in page.text
    assert "DONE order" in page.text  # the entry's name, which technicians handle anyway
    assert 'data-cups-job="' in page.text
    assert lab.journal.last_seq() == before  # no personal detail shown, no access event
    page = log_in(lab.console, "supe").get(f"/jobs/{done}")
    assert ORDER in page.text
    events = [(k, d) for k, d, _ in lab.events_after(before) if k != "web.login"]
    assert events == [("web.personal_viewed", {"job": done, "by": "supe", "order_ref": True})]
    # The whole history is there: every state the job went through.
    for state in ("CLAIMED", "CONVERTED", "SUBMITTING", "SUBMITTED", "PRINTED", "DONE"):
        assert f"-&gt; {state}" in page.text


def test_a_disabled_account_is_logged_out_at_once(lab: Lab) -> None:
    client = log_in(lab.console, "tech")
    assert client.get("/").status_code == 200
    code, out = run_labd(lab.config, "user", "disable", "tech")
    assert (code, out) == (0, "user tech: disabled: its sessions end now\n")
    response = client.get("/")
    assert response.status_code == 303
    assert try_login(lab.console.client(), "tech", PASSWORD).status_code == 401
    kinds = [k for k, _, _ in lab.events_after(0) if k.startswith("web.user")]
    assert kinds == ["web.user_added"] * 3 + ["web.user_disabled"]


# -- live updates and printers ------------------------------------------------------------------


def test_the_board_hears_of_a_journal_change_within_a_second(lab: Lab) -> None:
    client = log_in(lab.console, "tech")
    with client.stream("GET", "/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert int(first.removeprefix("data: ")) == lab.journal.last_seq()
        changed = time.monotonic()
        lab.journal.done(lab.jobs[JobState.UNCERTAIN], resolved="printed", by="someone")
        second = next(line for line in lines if line.startswith("data: "))
        took = time.monotonic() - changed
    assert int(second.removeprefix("data: ")) == lab.journal.last_seq()
    assert took < 1.0
    table = client.get("/board/table")
    assert 'data-state="DONE"' in _row(table.text, lab.jobs[JobState.UNCERTAIN])
    assert "<html" not in table.text  # the fragment the script swaps in, not a page


def test_the_printers_page_shows_a_stopped_queue_and_its_reason(
    lab: Lab, print_server: EmbeddedPrintServer
) -> None:
    client = log_in(lab.console, "tech")

    def row() -> str:
        html = client.get("/printers").text
        match = re.search(rf'<tr data-queue="{lab.queue}".*?</tr>', html, re.S)
        assert match is not None, html
        return match.group(0)

    assert 'data-state="idle"' in row()
    subprocess.run(
        ["cupsdisable", "-h", print_server.server, "-r", "paper out", lab.queue], check=True
    )
    try:
        stopped = row()
        assert 'data-state="stopped"' in stopped
        assert "paper out" in stopped
        assert f'data-job="{lab.jobs[JobState.HELD]}"' in stopped  # labd's held job there
    finally:
        subprocess.run(["cupsenable", "-h", print_server.server, lab.queue], check=True)
    assert 'data-state="idle"' in row()
