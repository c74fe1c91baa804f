"""The console in the browser's language: a real ``labd web`` process asked over HTTP.

The pages come in English, German or Norwegian Bokmål by the request's Accept-Language
header, unless the footer's switcher picked one (``?lang=``, kept in the ``lang``
cookie); the JSON API stays English.  The journal is SQLite only: which language a page
speaks has nothing to do with the store (the other console tests run on both).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from labd.demo.embedded import EmbeddedPrintServer
from labd.journal import Journal
from labd.model import JobState
from labd.web import api, i18n
from labd.web.roles import ROUTES
from tests.webconsole import (
    PASSWORD,
    ConsoleProcess,
    add_user,
    csrf_of,
    error_of,
    lab_journal,
    try_login,
)

GERMAN = "de-DE,de;q=0.9,en;q=0.8"
BOKMAL = "nb-NO,nb;q=0.9,en;q=0.5"
_queues = itertools.count(1)


@dataclass
class Lab:
    journal: Journal
    console: ConsoleProcess
    jobs: dict[JobState, int]


@pytest.fixture
def lab(tmp_path: Path, print_server: EmbeddedPrintServer) -> Iterator[Lab]:
    config, journal, jobs = lab_journal(
        tmp_path,
        tmp_path / "state" / "journal.sqlite",
        print_server,
        f"i18n-{next(_queues)}",
        order="ORD-i18n-1",
    )
    add_user(config, tmp_path, "tech", "technician")
    add_user(config, tmp_path, "admin", "admin")
    console = ConsoleProcess(config, tmp_path / "web.log").start()
    try:
        yield Lab(journal, console, jobs)
    finally:
        console.stop()
        journal.close()


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]*)">', html)
    assert match is not None, html[:500]
    return match.group(1)


def _h1(html: str) -> str:
    match = re.search(r"<h1>([^<]*)</h1>", html)
    assert match is not None, html[:2000]
    return match.group(1)


def _lang_cookie(response: httpx.Response) -> str | None:
    """The ``Set-Cookie`` of the language, if the response sets it."""
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith("lang=")]
    assert len(cookies) <= 1, cookies
    return cookies[0] if cookies else None


def _client(lab: Lab, accept_language: str | None) -> httpx.Client:
    client = lab.console.client()
    if accept_language is not None:
        client.headers["accept-language"] = accept_language
    return client


@pytest.mark.parametrize(
    ("accept_language", "lang", "heading", "field"),
    [
        (None, "en", "Log in", "User name"),  # httpx sends no Accept-Language: English
        (GERMAN, "de", "Anmelden", "Benutzername"),
        ("nb-NO", "nb", "Logg inn", "Brukernavn"),
        ("no", "nb", "Logg inn", "Brukernavn"),
        ("nn-NO,nn;q=0.9", "nb", "Logg inn", "Brukernavn"),
        ("fi-FI,fi;q=0.9,sv;q=0.8", "en", "Log in", "User name"),  # no Finnish catalog yet
    ],
)
def test_the_login_page_speaks_the_browsers_language(
    lab: Lab, accept_language: str | None, lang: str, heading: str, field: str
) -> None:
    with _client(lab, accept_language) as client:
        response = client.get("/login")
    assert response.status_code == 200
    assert _lang(response.text) == lang
    assert _h1(response.text) == heading
    assert f"<label>{field} <input" in response.text
    assert _lang_cookie(response) is None  # only a choice in the switcher is kept


def _log_in(client: httpx.Client) -> None:
    response = try_login(client, "tech", PASSWORD)
    assert response.status_code == 303, response.text


@pytest.mark.parametrize(
    ("accept_language", "lang", "texts"),
    [
        (
            GERMAN,
            "de",
            (
                "Übersicht",
                "Abmelden",
                "Techniker",
                "Behälter W-9: in Betrieb genommen (P-4, QC), jetzt open",
            ),
        ),
        (
            BOKMAL,
            "nb",
            ("Oversikt", "Logg ut", "tekniker", "Beholder W-9: tatt i bruk (P-4, QC), nå open"),
        ),
    ],
)
def test_the_board_a_refusal_and_a_note_in_german_and_bokmal(
    lab: Lab, accept_language: str, lang: str, texts: tuple[str, str, str, str]
) -> None:
    board, logout, role, opened = texts
    with _client(lab, accept_language) as client:
        _log_in(client)
        page = client.get("/")
        assert page.status_code == 200
        assert _lang(page.text) == lang
        assert f'id="nav-board" aria-current="page">{board}</a>' in page.text
        assert f'id="logout">{logout}</button>' in page.text
        assert f"tech ({role})</span>" in page.text  # the role's name; data-role stays English
        assert 'data-role="technician"' in page.text
        # A refusal built on the Python side (the guard's, naming the route's purpose) and
        # a form's refusal (duties.py): in the same language; neither changed anything.
        before = lab.journal.last_seq()
        refused = client.get("/journal")
        assert refused.status_code == 403
        with i18n.speaking(lang):
            expected = i18n._(
                "Not for a %(role)s: %(what)s is for the role %(lowest)s and above. "
                "Nothing was done.",
                role=i18n.role_name("technician"),
                what=i18n.gettext("the journal's events, filtered, in pages"),
                lowest=i18n.role_name("supervisor"),
            )
            nothing = i18n.gettext("Not done")
        assert error_of(refused) == expected
        assert not expected.startswith("Not for a")  # translated, not the English text
        assert _h1(refused.text) == nothing
        form = client.post("/media/register", data={"csrf": csrf_of(page.text), "kind": "tape"})
        assert form.status_code == 400
        with i18n.speaking(lang):
            known = error_of(form).split(": ", 2)[-1]
            assert error_of(form) == i18n._(
                "%(field)s: %(value)r is not one of: %(known)s",
                field="kind",
                value="tape",
                known=known,
            )
        assert lab.journal.last_seq() == before
        with i18n.speaking(lang):
            no_page = i18n.gettext("No such page.")
        assert error_of(client.get("/no/such/page")) == no_page
        # What an action did, said on the next page: in the language it was done in.
        done = client.post(
            "/waste/containers/open",
            data={"csrf": csrf_of(page.text), "container": "W-9", "material": "P",
                  "level": "4", "location": "QC"},
        )  # fmt: skip
        assert done.status_code == 303, done.text
        note = re.search(r'<p class="note" role="status">([^<]*)</p>', client.get("/waste").text)
        assert note is not None
        assert note.group(1) == opened  # the container's state is the ledger's: English


@pytest.mark.parametrize("accept_language", [GERMAN, BOKMAL])
def test_every_page_renders_in_each_language(lab: Lab, accept_language: str) -> None:
    # Every page of ROUTES (on a job that has one): not the API, the event stream, or a
    # file (a CSV, a preview image).
    paths = [
        r.path.replace("{job_id:int}", str(lab.jobs[JobState.QUARANTINED]))
        for r in ROUTES
        if r.method == "GET"
        and not r.path.startswith(api.PREFIX)
        and r.path not in ("/events", "/login")  # a session goes from the login to the board
    ]
    pages = [p for p in paths if "{" not in p and "." not in p.rsplit("/", 1)[-1]]
    assert "/" in pages
    lang = i18n.negotiate(accept_language)
    with _client(lab, accept_language) as client:
        response = try_login(client, "admin", PASSWORD)
        assert response.status_code == 303, response.text
        for path in pages:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:1000])
            if path != "/board/table":  # a part of the board, not a page
                assert _lang(page.text) == lang, path
            # Nothing escaped twice: a text's markup (a link, a path in <code>) is markup.
            for tag in ("code", "a", "strong"):
                assert f"&lt;{tag}" not in page.text, (path, tag)


def test_the_switcher_keeps_its_choice_over_the_browsers_language(lab: Lab) -> None:
    with _client(lab, GERMAN) as client:
        first = client.get("/login")
        assert _lang(first.text) == "de"
        # The footer offers each language, on this very page.
        assert 'href="/login?lang=nb" hreflang="nb"' in first.text
        picked = client.get("/login?lang=nb")
        assert _lang(picked.text) == "nb"
        cookie = _lang_cookie(picked)
        assert cookie is not None
        assert cookie.startswith("lang=nb;")
        assert "SameSite=strict" in cookie
        assert "HttpOnly" in cookie
        assert "Max-Age=31536000" in cookie
        # Kept: the next pages are Bokmål although the browser still asks for German.
        again = client.get("/login")
        assert _lang(again.text) == "nb"
        assert _lang_cookie(again) is None
        _log_in(client)
        assert _lang(client.get("/").text) == "nb"
        # An unknown choice changes nothing; English can be picked back.
        assert _lang(client.get("/?lang=xx").text) == "nb"
        assert _lang(client.get("/?lang=en").text) == "en"
        assert _lang(client.get("/").text) == "en"
        # A cookie naming no language the console speaks is ignored: the header decides.
        client.cookies.set("lang", "fr")
        assert _lang(client.get("/").text) == "de"


def test_the_api_stays_english(lab: Lab) -> None:
    with _client(lab, None) as english, _client(lab, GERMAN) as german:
        for path in ("/api/v1/health", "/api/v1/openapi.json"):
            plain, asked = english.get(path), german.get(path)
            assert (plain.status_code, plain.text) == (asked.status_code, asked.text)
            assert _lang_cookie(german.get(path + "?lang=de")) is None
