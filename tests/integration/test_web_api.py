"""The console's JSON API (``/api/v1``): a real ``labd web`` process, real tokens, httpx.

Tokens are made and revoked with ``labd token`` as an administrator would; the console
serves a journal on SQLite and on PostgreSQL whose jobs were taken through the real life
cycle, with a queue of the session's private CUPS.  What the API did is read back from the
journal, never from the API's own word.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from labd.demo.embedded import EmbeddedPrintServer
from labd.journal import Journal
from labd.model import JobState
from labd.store import StoreLocation
from labd.web import api
from labd.web.accounts import Role
from labd.web.roles import ROUTES, RouteRule, allowed
from labd.web.sessions import ADDRESS_FAILURES
from labd.web.tokens import digest_of
from tests.factories import run_labd
from tests.webconsole import ConsoleProcess, add_user, lab_journal, log_in

ORDER = "ORD-Nordmann-4711"
NODE = "shop-1"
API_ROUTES = [r for r in ROUTES if r.path.startswith(api.PREFIX + "/")]
_queues = itertools.count(1)


@dataclass
class ApiLab:
    """A journal with one job in each state an integration asks about, the console over
    it, and the secrets of the tokens ``labd token`` made (and of one it revoked)."""

    config: Path
    journal: Journal
    console: ConsoleProcess
    jobs: dict[JobState, int]
    secrets: dict[str, str]  # technician, supervisor, revoked, wrong

    def get(
        self, path: str, secret: str | None, client: httpx.Client | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
        if client is not None:
            return client.get(path, headers=headers)
        with self.console.client() as fresh:
            return fresh.get(path, headers=headers)

    def events_after(self, seq: int) -> list[tuple[str, dict[str, object], int | None, str | None]]:
        return [(e.kind, dict(e.data), e.job_id, e.detail) for e in self.journal.events(after=seq)]


def add_token(config: Path, name: str, role: str) -> str:
    """``labd token add NAME --role ROLE``: the secret it prints once."""
    code, out = run_labd(config, "token", "add", name, "--role", role)
    assert code == 0, out
    return out.splitlines()[-1]


@pytest.fixture
def lab(
    tmp_path: Path, store_location: StoreLocation, print_server: EmbeddedPrintServer
) -> Iterator[ApiLab]:
    config, journal, jobs = lab_journal(
        tmp_path, store_location, print_server, f"api-{next(_queues)}", order=ORDER, node=NODE
    )
    secrets = {
        "technician": add_token(config, "wall-screen", "technician"),
        "supervisor": add_token(config, "erp", "supervisor"),
        "revoked": add_token(config, "old-erp", "supervisor"),
    }
    code, _ = run_labd(config, "token", "revoke", "old-erp")
    assert code == 0
    # A secret of the right form that no token has.
    secrets["wrong"] = "labd_" + "x" * 43
    add_user(config, tmp_path, "admi", "admin")
    console = ConsoleProcess(config, tmp_path / "web.log").start()
    try:
        yield ApiLab(config, journal, console, jobs, secrets)
    finally:
        console.stop()
        journal.close()


def _concrete(rule: RouteRule, lab: ApiLab) -> str:
    return rule.path.replace("{job_id}", str(lab.jobs[JobState.HELD])).replace("{order_ref}", ORDER)


def _check_answer(rule: RouteRule, lab: ApiLab, body: Any) -> None:
    """What a 200 of each route must hold, from what the journal and CUPS hold."""
    everyone = sorted(lab.jobs.values())
    if rule.path.endswith("/openapi.json"):
        assert body == api.openapi()
    elif rule.path.endswith("/health"):
        assert body["journal"] == {"head": lab.journal.last_seq()}
        assert body["status"] == "degraded"  # no daemon runs beside this console
        assert body["problems"] == ["labd is not running on this server"]
        assert body["jobs"] == {
            "counts": {"DONE": 1, "HELD": 1, "QUARANTINED": 1, "UNCERTAIN": 1},
            "attention": 2,
        }
    elif rule.path.endswith("/jobs"):
        jobs = body["jobs"]
        assert isinstance(jobs, list)
        assert [j["id"] for j in jobs] == everyone[::-1]
        assert body["next"] is None
        assert all("order" not in j and ORDER not in json.dumps(j) for j in jobs)
    elif rule.path.endswith("{job_id}"):
        assert body["id"] == lab.jobs[JobState.HELD]
        assert body["state"] == "HELD"
        assert body["rule"] == "print.printer_stopped"
        assert body["files"] == ["a.jpg", "b.jpg"]
        assert [f["size"] for f in body["file_details"]] == [1, 2]
        assert [o["cups_job_id"] for o in body["outputs"] if o["cups_job_id"]] == body[
            "cups_job_ids"
        ]
        assert ORDER not in json.dumps(body)
    elif rule.path.endswith("{order_ref}"):
        assert [j["id"] for j in body["jobs"]] == everyone
    elif rule.path.endswith("/printers"):
        [mine] = [p for p in body["printers"] if p["printer"] == "minilab"]
        assert mine["state"] == "idle"
        assert mine["held_jobs"] == [lab.jobs[JobState.HELD]]
    else:
        raise AssertionError(f"no check for {rule.path}: add one")


def test_every_api_route_answers_each_token_as_the_readme_table_says(lab: ApiLab) -> None:
    before = lab.journal.last_seq()
    states = {i: lab.journal.job(i).state for i in lab.jobs.values()}
    for rule in API_ROUTES:
        path = _concrete(rule, lab)
        for who in ("technician", "supervisor", "revoked", "wrong", None):
            response = lab.get(path, lab.secrets[who] if who else None)
            where = f"{path} with {who}'s token"
            assert response.headers["content-type"] == "application/json", where
            body = response.json()
            role = Role(who) if who in ("technician", "supervisor") else None
            if rule.lowest is None or (role is not None and allowed(rule, role)):
                assert response.status_code == 200, (where, body)
                _check_answer(rule, lab, body)
            elif role is not None:
                assert response.status_code == 403, where
                assert body["error"] == "api.forbidden"
                assert body["message"] == (
                    f"not for a {who}'s token: {rule.what} is for supervisor tokens and above"
                )
            elif who is None:
                assert response.status_code == 401, where
                assert body["error"] == "api.no_token"
                assert response.headers["www-authenticate"] == 'Bearer realm="labd"'
            else:
                assert response.status_code == 401, where
                assert body == {
                    "error": "api.bad_token",
                    "message": "this token is not valid: unknown, or revoked (labd token list)",
                }
    # A browser's session is no credential here: the API reads no cookie.
    browser = log_in(lab.console, "admi")
    for rule in API_ROUTES:
        if rule.lowest is not None:
            response = lab.get(_concrete(rule, lab), None, browser)
            assert response.status_code == 401, rule.path
    browser.close()
    # The journal holds every refused token (named when it was one), and nothing else
    # changed; the supervisor's order look is journaled (test_an_order_look_is_journaled).
    protected = [r for r in API_ROUTES if r.lowest is not None]
    refused = [
        (data["token"], data["why"], detail)
        for kind, data, _, detail in lab.events_after(before)
        if kind == "api.token_refused"
    ]
    assert sorted(refused, key=str) == sorted(
        [("old-erp", "revoked", "from 127.0.0.1"), (None, "unknown", "from 127.0.0.1")]
        * len(protected),
        key=str,
    )
    kinds = {k for k, _, _, _ in lab.events_after(before)}
    assert kinds == {"api.token_refused", "api.order_viewed", "web.login"}
    assert {i: lab.journal.job(i).state for i in lab.jobs.values()} == states


def test_the_openapi_document_parses_and_matches_the_routes(lab: ApiLab) -> None:
    response = lab.get(f"{api.PREFIX}/openapi.json", None)
    assert response.status_code == 200
    document = json.loads(response.text)
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    # Every route of the document is in ROUTES with the same role, and every API row of
    # ROUTES is in the document.
    documented = {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert set(documented) == {(r.method, r.path) for r in API_ROUTES}
    for rule in API_ROUTES:
        operation = documented[(rule.method, rule.path)]
        assert operation["x-labd-role"] == (rule.lowest.value if rule.lowest else None)
        assert (operation.get("security") == []) == (rule.lowest is None), rule.path
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]
        if rule.lowest is not None:
            assert "401" in operation["responses"], rule.path
        # Each {parameter} of the path is declared, and nothing else is in the path.
        in_path = set(re.findall(r"\{(\w+)\}", rule.path))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == declared, rule.path
    assert len({op["operationId"] for op in documented.values()}) == len(documented)
    # Every $ref points at a schema the document has.
    refs = re.findall(r'"\$ref":\s*"#/components/schemas/(\w+)"', response.text)
    assert refs
    assert set(refs) <= set(document["components"]["schemas"])
    # And the served routes are those of the document: a path it lacks is a JSON 404.
    assert lab.get(f"{api.PREFIX}/orders", lab.secrets["supervisor"]).status_code == 404


def test_bad_input_is_a_json_error_that_says_what_and_changes_nothing(lab: ApiLab) -> None:
    supervisor = lab.secrets["supervisor"]
    states = {i: lab.journal.job(i).state for i in lab.jobs.values()}
    lab.get(f"{api.PREFIX}/health", supervisor)  # the token's first use is noted, not chained
    before = lab.journal.last_seq()
    cases = [
        ("/jobs/424242", 404, "job.not_found", "No job 424242 in the journal."),
        ("/jobs/abc", 400, "web.bad_input", "'abc' is not a job number"),
        ("/jobs/99999999999999999999", 404, "job.not_found", "No job 99999999999999999999"),
        ("/jobs?state=PRINTING", 400, "web.bad_input",
         "state: 'PRINTING' is not a job state; the states: DISCOVERED, CLAIMED"),
        ("/jobs?state=held,nonsense", 400, "web.bad_input", "state: 'nonsense' is not a job"),
        ("/jobs?hotfolder=nowhere", 400, "name.unknown", "No hot folder 'nowhere'"),
        ("/jobs?printer=nowhere", 400, "name.unknown", "No printer 'nowhere'"),
        ("/jobs?node=elsewhere", 400, "name.unknown",
         f"No node 'elsewhere' in the journal; the known ones: {NODE}."),
        ("/jobs?limit=0", 400, "web.bad_input", "limit: '0' is not a number from 1 to 500"),
        ("/jobs?limit=ten", 400, "web.bad_input", "limit: 'ten' is not a number from 1 to 500"),
        ("/jobs?before=-1", 400, "web.bad_input", "before: '-1' is not a number"),
        ("/jobs?colour=red", 400, "web.bad_input",
         "unknown parameter 'colour'; the parameters: state, hotfolder, printer, node"),
        ("/orders/ORD-nobody", 404, "api.not_found", "no job of this order in the journal"),
        ("/orders/%0Aevil", 400, "web.bad_input", "an order reference is 1 to 200 printable"),
        ("/nothing", 404, "api.not_found", "no API route GET /api/v1/nothing"),
    ]  # fmt: skip
    for path, status, code, message in cases:
        response = lab.get(api.PREFIX + path, supervisor)
        assert response.status_code == status, (path, response.text)
        body = response.json()
        assert body["error"] == code, (path, body)
        assert body["message"].startswith(message), (path, body)
        assert "Traceback" not in response.text
    with lab.console.client() as client:
        response = client.post(
            f"{api.PREFIX}/jobs", headers={"Authorization": f"Bearer {supervisor}"}
        )
    assert response.status_code == 404
    assert response.json()["message"].startswith("no API route POST /api/v1/jobs")
    assert lab.journal.last_seq() == before
    assert {i: lab.journal.job(i).state for i in lab.jobs.values()} == states


def test_an_order_look_is_journaled_without_the_reference(lab: ApiLab) -> None:
    before = lab.journal.last_seq()
    response = lab.get(f"{api.PREFIX}/orders/{ORDER}", lab.secrets["supervisor"])
    assert response.status_code == 200
    body = response.json()
    ids = sorted(lab.jobs.values())
    assert body["order"] == ORDER
    assert body["finished"] is False
    assert body["attention"] == [lab.jobs[JobState.HELD], lab.jobs[JobState.UNCERTAIN]]
    assert body["counts"] == {"HELD": 1, "UNCERTAIN": 1, "QUARANTINED": 1, "DONE": 1}
    assert {j["id"]: j["state"] for j in body["jobs"]} == {i: s.value for s, i in lab.jobs.items()}
    [(kind, data, job_id, _)] = lab.events_after(before)
    assert (kind, data, job_id) == ("api.order_viewed", {"jobs": ids, "by": "api:erp"}, ids[0])
    # The reference is personal data: never in the chain.
    assert all(ORDER not in repr(e.data) for e in lab.journal.events())
    # A technician's token may not ask, and its try shows nothing and is not a look.
    refused = lab.get(f"{api.PREFIX}/orders/{ORDER}", lab.secrets["technician"])
    assert refused.status_code == 403
    assert ORDER not in refused.text
    assert [k for k, _, _, _ in lab.events_after(before)] == ["api.order_viewed"]


def test_jobs_come_in_pages_and_filtered(lab: ApiLab) -> None:
    secret = lab.secrets["technician"]
    newest_first = sorted(lab.jobs.values(), reverse=True)
    seen: list[int] = []
    path: str | None = f"{api.PREFIX}/jobs?limit=3&hotfolder=prints&node={NODE}"
    pages = 0
    while path is not None:
        body = lab.get(path, secret).json()
        seen += [j["id"] for j in body["jobs"]]
        path, pages = body["next"], pages + 1
        if path is not None:
            assert "hotfolder=prints" in path
            assert f"node={NODE}" in path
    assert (seen, pages) == (newest_first, 2)
    body = lab.get(f"{api.PREFIX}/jobs?state=held,UNCERTAIN", secret).json()
    assert [j["id"] for j in body["jobs"]] == [
        lab.jobs[JobState.UNCERTAIN],
        lab.jobs[JobState.HELD],
    ]
    assert body["jobs"][1]["reason"]
    body = lab.get(f"{api.PREFIX}/jobs?before={lab.jobs[JobState.UNCERTAIN]}", secret).json()
    assert [j["id"] for j in body["jobs"]] == [lab.jobs[JobState.HELD]]


def test_wrong_tokens_from_one_address_are_throttled(lab: ApiLab) -> None:
    before = lab.journal.last_seq()
    for n in range(ADDRESS_FAILURES):
        response = lab.get(f"{api.PREFIX}/jobs", f"labd_guess{n}")
        assert response.status_code == 401
    # Now even the right token waits: the address is refused before any token is looked at.
    response = lab.get(f"{api.PREFIX}/jobs", lab.secrets["technician"])
    assert response.status_code == 429
    assert response.json()["error"] == "api.throttled"
    assert int(response.headers["retry-after"]) > 0
    kinds = [k for k, _, _, _ in lab.events_after(before)]
    assert kinds == ["api.token_refused"] * ADDRESS_FAILURES + ["api.address_throttled"]
    # The pages' logins are another throttle: a person at the same address may still log in.
    log_in(lab.console, "admi").close()


def test_labd_token_shows_the_secret_once_and_revokes(lab: ApiLab) -> None:
    before = lab.journal.last_seq()
    code, out = run_labd(lab.config, "token", "add", "monitor", "--role", "technician")
    assert code == 0
    secret = out.splitlines()[-1]
    assert re.fullmatch(r"labd_[A-Za-z0-9_-]{43}", secret)
    assert lab.get(f"{api.PREFIX}/health", secret).status_code == 200
    code, listing = run_labd(lab.config, "token", "list", "--format", "json")
    assert code == 0
    rows = {r["name"]: r for r in map(json.loads, listing.splitlines())}
    assert rows["monitor"]["role"] == "technician"
    assert rows["monitor"]["revoked_at"] is None
    assert rows["monitor"]["last_used_at"] is not None
    assert rows["old-erp"]["revoked_at"] is not None
    code, table = run_labd(lab.config, "token", "list")
    assert re.search(r"^monitor\s+technician\s+live\s", table, re.M), table
    assert re.search(r"^old-erp\s+supervisor\s+revoked\s", table, re.M), table
    # Neither the secret nor its hash is in anything labd shows or chains.
    shown = listing + table + repr([e.data for e in lab.journal.events()])
    assert secret not in shown
    assert digest_of(secret) not in shown
    assert run_labd(lab.config, "token", "revoke", "monitor") == (
        0,
        "token monitor: revoked: refused from its next use on\n",
    )
    assert lab.get(f"{api.PREFIX}/health", secret).status_code == 401
    events = [(k, d) for k, d, _, _ in lab.events_after(before)]
    assert events[0] == (
        "api.token_added",
        {"token": "monitor", "role": "technician", "by": events[0][1]["by"]},
    )
    assert ("api.token_revoked", {"token": "monitor", "by": events[0][1]["by"]}) in events
    # A revoked name may be given again: a new secret; the old one stays refused.
    again = add_token(lab.config, "monitor", "supervisor")
    assert again != secret
    assert lab.get(f"{api.PREFIX}/health", again).status_code == 200
    assert lab.get(f"{api.PREFIX}/health", secret).status_code == 401


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        pytest.param(("add", "erp", "--role", "technician"), 51,
                     "there is already a token 'erp' (labd token list); revoke it first",
                     id="name-taken"),
        pytest.param(("add", "Bad Name", "--role", "technician"), 51, "is not a token name",
                     id="bad-name"),
        pytest.param(("revoke", "old-erp"), 51, "the token 'old-erp' was revoked already",
                     id="revoked-twice"),
        pytest.param(("revoke", "nobody"), 51,
                     "no token 'nobody'; the tokens: erp, old-erp, wall-screen", id="unknown"),
        pytest.param(("add", "boss", "--role", "admin"), 2, "", id="no-admin-tokens"),
    ],
)  # fmt: skip
def test_a_refused_token_command_says_why_and_changes_nothing(
    lab: ApiLab, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, said: str
) -> None:
    before = lab.journal.last_seq()
    _, listed = run_labd(lab.config, "token", "list", "--format", "json")
    capsys.readouterr()
    assert run_labd(lab.config, "token", *args) == (code, "")
    assert said in capsys.readouterr().err
    assert lab.journal.last_seq() == before
    assert run_labd(lab.config, "token", "list", "--format", "json") == (0, listed)
