"""The console's JSON API (``/api/v1``): the same jobs, orders and printers for programs.

A lab's order system asks "how far is order X?"; a wall display or a monitor asks how the
printers and the daemon stand.  They get JSON, and an OpenAPI 3.1 document that says what
they may ask (``/api/v1/openapi.json``, written here as data: :data:`OPERATIONS`; a test
holds it to :data:`labd.web.roles.ROUTES`, both ways).

An integration proves who it is with a token of its own (:mod:`labd.web.tokens`) sent as
``Authorization: Bearer SECRET`` on every request.  The API reads no cookie: a browser's
session never reaches it, so no page of another site can make a logged-in browser call it
(there is no ambient credential to ride on), and it needs no CSRF token.  The API only
reads; what a person does stays on the pages.  Roles are those of the pages
(:data:`~labd.web.roles.ROUTES`): an order's jobs name its reference, personal data, and
are for supervisor tokens only, each look journaled as ``api.order_viewed``, as a
supervisor's look at a job's page is as ``web.personal_viewed``.

Every refusal is a JSON error (``{"error": CODE, "message": TEXT}``) that says what was
wrong; nothing is changed by any request but the journal's record of who asked.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labd.cli.common import hotfolders_filter
from labd.cli.jobs import job_row
from labd.cli.journal import event_summary
from labd.errors import JobNotFound, JournalUnavailable, LabdError, PrintError, UnknownName
from labd.journal import Journal
from labd.journal.nodes import node_names
from labd.journal.summary import ATTENTION_STATES
from labd.model import Job, JobState
from labd.running import running_status
from labd.web.pages import BadInput, queue_rows
from labd.web.roles import ROUTES, RouteRule, allowed
from labd.web.sessions import AddressThrottle
from labd.web.tokens import ApiToken, Tokens

if TYPE_CHECKING:
    from labd.web.app import Console

__all__ = ["OPERATIONS", "PREFIX", "openapi", "routes"]

log = structlog.get_logger(__name__)

PREFIX: Final = "/api/v1"
VERSION: Final = "1.0.0"
LIMIT_DEFAULT: Final = 100
LIMIT_MAX: Final = 500
_MAX_ID: Final = 2**63 - 1  # the journal's integers; a larger number is no job
_ORDER_MAX: Final = 200
_FINISHED: Final = frozenset({JobState.DONE, JobState.CANCELED, JobState.WITHDRAWN})
_JOBS_PARAMETERS: Final = ("state", "hotfolder", "printer", "node", "limit", "before")


class NotFound(LabdError):
    """{}"""

    # An API path or an order the journal has nothing for.
    code = "api.not_found"


class Unavailable(LabdError):
    """{}"""

    # What the API would answer from cannot be asked now (CUPS).
    code = "api.unavailable"


_STATUS: Final[Mapping[type[LabdError], int]] = {
    JobNotFound: 404,
    NotFound: 404,
    UnknownName: 400,
    BadInput: 400,
    Unavailable: 503,
    PrintError: 503,
    JournalUnavailable: 503,
}


@dataclass
class Api:
    """What the API's handlers share: the console's parts, the tokens, and its own
    throttle of wrong tokens (a browser's failed logins do not block an integration)."""

    console: Console
    tokens: Tokens
    throttle: AddressThrottle


@dataclass(frozen=True)
class ApiCall:
    """One request as a handler sees it: the token (None on the public document)."""

    request: Request
    token: ApiToken | None

    @property
    def by(self) -> str:
        return self.token.by if self.token is not None else "nobody"


Handler = Callable[[Api, ApiCall], Any]  # JSON-ready data


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    """The secret of ``Authorization: Bearer SECRET``; None when there is no such header."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


# -- the routes ---------------------------------------------------------------------------------


def routes(console: Console) -> list[Route]:
    """The API's routes (its rows of ROUTES) and, last, a JSON answer for any other
    path under :data:`PREFIX`."""
    api = Api(console, Tokens(console.journal), AddressThrottle(console.clock))
    handlers: dict[str, Handler] = {
        f"{PREFIX}/openapi.json": lambda _api, _call: openapi(),
        f"{PREFIX}/health": health,
        f"{PREFIX}/jobs": jobs,
        f"{PREFIX}/jobs/{{job_id}}": job,
        f"{PREFIX}/orders/{{order_ref}}": order,
        f"{PREFIX}/printers": printers,
    }
    found = [
        Route(rule.path, _endpoint(api, rule, handlers[rule.path]), methods=[rule.method])
        for rule in ROUTES
        if rule.path.startswith(PREFIX + "/")
    ]

    async def no_route(request: Request) -> Response:
        return _error(
            404,
            NotFound.code,
            f"no API route {request.method} {request.url.path}; "
            f"what there is: {PREFIX}/openapi.json",
        )

    return [*found, Route(PREFIX + "/{rest:path}", no_route, methods=_ALL_METHODS)]


_ALL_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _endpoint(
    api: Api, rule: RouteRule, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` behind the token check: who asks, may they, and errors as JSON."""

    async def endpoint(request: Request) -> Response:
        token = None
        if rule.lowest is not None:
            address = _address(request)
            if api.throttle.blocked(address):
                minutes = int(api.throttle.window // 60)
                return _error(
                    429,
                    "api.throttled",
                    f"too many wrong tokens from this address: wait up to {minutes} minutes",
                    **{"Retry-After": str(int(api.throttle.window))},
                )
            secret = _bearer(request)
            if secret is None:
                return _error(
                    401,
                    "api.no_token",
                    "send the integration's token: 'Authorization: Bearer SECRET' "
                    "(labd token add NAME --role ROLE makes one)",
                    **{"WWW-Authenticate": 'Bearer realm="labd"'},
                )
            token = await run_in_threadpool(api.tokens.authenticate, secret, address=address)
            if token is None:
                await run_in_threadpool(_count_failure, api, address)
                return _error(
                    401,
                    "api.bad_token",
                    "this token is not valid: unknown, or revoked (labd token list)",
                    **{"WWW-Authenticate": 'Bearer realm="labd", error="invalid_token"'},
                )
            if not allowed(rule, token.role):
                lowest = rule.lowest.value
                return _error(
                    403,
                    "api.forbidden",
                    f"not for a {token.role.value}'s token: {rule.what} is for {lowest} "
                    "tokens and above",
                )
        try:
            data = await run_in_threadpool(handler, api, ApiCall(request, token))
        except LabdError as e:
            status = next((s for t, s in _STATUS.items() if isinstance(e, t)), 400)
            return _error(status, e.code, e.get_message())
        return JSONResponse(data)

    return endpoint


def _count_failure(api: Api, address: str) -> None:
    if api.throttle.failed(address):
        with api.console.journal.transaction() as tx:
            tx.event(
                "api.address_throttled",
                {"failures": api.throttle.limit, "window_seconds": api.throttle.window},
                detail=f"from {address}",
            )


# -- the handlers -------------------------------------------------------------------------------


def job_summary(job: Job, journal: Journal) -> dict[str, object]:
    """A job as ``labd jobs --format json`` gives it, without its order reference (that
    is :func:`order`'s, for supervisors)."""
    row = job_row(job, journal)
    del row["order"]
    return row


def _number(text: str, what: str, *, low: int = 1, high: int = _MAX_ID) -> int:
    if not (text.isascii() and text.isdecimal() and low <= int(text) <= high):
        raise BadInput(f"{what}: {text!r} is not a number from {low} to {high}")
    return int(text)


def jobs(api: Api, call: ApiCall) -> object:
    """Jobs, newest first, filtered; a page at a time (``next``: the following page)."""
    q = call.request.query_params
    unknown = sorted(set(q) - set(_JOBS_PARAMETERS))
    if unknown:
        raise BadInput(
            f"unknown parameter {unknown[0]!r}; the parameters: {', '.join(_JOBS_PARAMETERS)}"
        )
    console, journal = api.console, api.console.journal
    states = None
    if q.get("state"):
        states = []
        for text in q["state"].split(","):
            try:
                states.append(JobState(text.strip().upper()))
            except ValueError:
                known = ", ".join(s.value for s in JobState)
                raise BadInput(f"state: {text!r} is not a job state; the states: {known}") from None
    hotfolders = hotfolders_filter(
        console.config,
        journal,
        hotfolder=q.get("hotfolder") or None,
        printer=q.get("printer") or None,
    )
    node = q.get("node") or None
    if node is not None:
        known_nodes = node_names(journal.store)
        if node not in known_nodes:
            raise UnknownName("node", node, "the journal", ", ".join(known_nodes) or "none")
    limit = _number(q["limit"], "limit", high=LIMIT_MAX) if "limit" in q else LIMIT_DEFAULT
    before = _number(q["before"], "before") if "before" in q else None
    found = journal.jobs(states, hotfolders=hotfolders, limit=limit, before=before, node=node)
    following = None
    if len(found) == limit:
        asked = {k: v for k, v in q.items() if k != "before"}
        following = f"{PREFIX}/jobs?" + urlencode({**asked, "before": str(found[-1].id)})
    return {"jobs": [job_summary(j, journal) for j in found], "next": following}


def job(api: Api, call: ApiCall) -> object:
    """One job: its files, outputs and CUPS jobs, its whole history."""
    journal = api.console.journal
    text = call.request.path_params["job_id"]
    if not (text.isascii() and text.isdecimal()):
        raise BadInput(f"{text!r} is not a job number")
    job_id = int(text)
    if job_id > _MAX_ID:
        raise JobNotFound(job_id)
    found = journal.job(job_id)
    return {
        **job_summary(found, journal),
        "file_details": [
            {"seq": f.seq, "name": f.name, "size": f.size, "copies": f.copies}
            for f in journal.files(job_id)
        ],
        "outputs": [
            {
                "seq": o.seq,
                "source_seq": o.source_seq,
                "queue": o.cups_queue,
                "submit_intent_at": o.submit_intent_at,
                "cups_job_id": o.cups_job_id,
                "cups_state": o.cups_state,
            }
            for o in journal.outputs(job_id)
        ],
        "events": [
            {"seq": e.seq, "ts": e.ts, "kind": e.kind, "summary": event_summary(e)}
            for e in journal.events(job_id=job_id)
        ],
    }


def order(api: Api, call: ApiCall) -> object:
    """An order's jobs (and their reprints) and how they stand; the look is journaled."""
    journal = api.console.journal
    ref = call.request.path_params["order_ref"]
    if not ref or len(ref) > _ORDER_MAX or not ref.isprintable():
        raise BadInput(f"an order reference is 1 to {_ORDER_MAX} printable characters")
    ids = journal.jobs_of_order(ref)
    if not ids:
        raise NotFound("no job of this order in the journal")
    found = [journal.job(i) for i in ids]
    with journal.transaction() as tx:
        tx.event("api.order_viewed", {"jobs": ids, "by": call.by}, job_id=ids[0])
    counts: dict[str, int] = {}
    for j in found:
        counts[j.state.value] = counts.get(j.state.value, 0) + 1
    return {
        "order": ref,
        "finished": all(j.state in _FINISHED for j in found),
        "attention": [j.id for j in found if j.state in ATTENTION_STATES],
        "counts": counts,
        "jobs": [job_summary(j, journal) for j in found],
    }


def printers(api: Api, _call: ApiCall) -> object:
    """Each configured printer's queue as CUPS sees it, and labd's jobs there."""
    rows, problem = queue_rows(api.console)
    if problem is not None:
        raise Unavailable(problem)
    return {
        "printers": [
            {
                "printer": r.printer,
                "queue": r.queue,
                "known": r.known,
                "state": r.state,
                "accepting": r.accepting,
                "reasons": list(r.reasons),
                "message": r.message,
                "jobs_in_cups": list(r.in_cups),
                "held_jobs": [j.id for j in r.held],
            }
            for r in rows
        ]
    }


def health(api: Api, _call: ApiCall) -> object:
    """Whether the journal answers and the daemon runs and takes jobs; the job counts."""
    config, journal = api.console.config, api.console.journal
    counts = journal.counts()
    status = running_status(config.state_dir)
    problems = []
    if status is None:
        problems.append("labd is not running on this server")
    elif status.held:
        problems.append(f"labd takes no jobs: {status.held}")
    attention = sum(counts.get(s, 0) for s in ATTENTION_STATES)
    return {
        "status": "ok" if not problems else "degraded",
        "problems": problems,
        "journal": {"head": journal.last_seq()},
        "daemon": {
            "running": status is not None,
            "pid": status.pid if status else None,
            "taking_jobs": status is not None and not status.held,
        },
        "jobs": {"counts": {s.value: n for s, n in sorted(counts.items())}, "attention": attention},
    }


# -- the OpenAPI document ------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: Mapping[str, object]) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, object]:
    said = {
        400: "bad input: the message says which parameter and what it takes",
        401: "no token, or one that is unknown or revoked",
        403: "the token's role may not ask this",
        404: "no such job, order or route",
        429: "too many wrong tokens from this address",
        503: "CUPS or the journal cannot be asked now",
    }
    return {str(s): _json(said[s], _ref("Error")) for s in statuses}


_NULLABLE_TEXT: Final = {"type": ["string", "null"]}
_JOB_PROPERTIES: Final = {
    "id": {"type": "integer"},
    "state": {"type": "string", "enum": [s.value for s in JobState]},
    "hotfolder": {"type": "string"},
    "kind": {"type": "string"},
    "entry": {"type": "string", "description": "the file or folder name as dropped"},
    "technician": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "rule": _NULLABLE_TEXT,
    "reason": _NULLABLE_TEXT,
    "node": _NULLABLE_TEXT,
    "files": {"type": "array", "items": {"type": "string"}},
    "queue": _NULLABLE_TEXT,
    "cups_job_ids": {"type": "array", "items": {"type": "integer"}},
}
SCHEMAS: Final[dict[str, object]] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "a machine-readable code"},
            "message": {"type": "string", "description": "what was wrong, for a person"},
        },
    },
    "Job": {"type": "object", "required": list(_JOB_PROPERTIES), "properties": _JOB_PROPERTIES},
    "JobDetail": {
        "allOf": [
            _ref("Job"),
            {
                "type": "object",
                "properties": {
                    "file_details": {"type": "array", "items": {"type": "object"}},
                    "outputs": {"type": "array", "items": {"type": "object"}},
                    "events": {"type": "array", "items": {"type": "object"}},
                },
            },
        ]
    },
}
_JOB_ID: Final = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_ORDER_REF: Final = {
    "name": "order_ref",
    "in": "path",
    "required": True,
    "description": "the order reference of the job ticket",
    "schema": {"type": "string", "minLength": 1, "maxLength": _ORDER_MAX},
}


def _query(name: str, description: str, schema: Mapping[str, object]) -> dict[str, object]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


# Every operation of the API by (method, path as ROUTES spells it).
OPERATIONS: Final[dict[tuple[str, str], dict[str, object]]] = {
    ("GET", f"{PREFIX}/openapi.json"): {
        "summary": "This document",
        "security": [],
        "responses": {"200": _json("the OpenAPI document", {"type": "object"})},
    },
    ("GET", f"{PREFIX}/health"): {
        "summary": "Whether the journal answers, the daemon runs and takes jobs; job counts",
        "responses": {
            "200": _json(
                "how labd stands",
                {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}},
                },
            ),
            **_errors(401, 429, 503),
        },
    },
    ("GET", f"{PREFIX}/jobs"): {
        "summary": "Jobs, newest first, filtered, a page at a time",
        "parameters": [
            _query(
                "state",
                "one state or several, comma-separated (HELD,UNCERTAIN)",
                {"type": "string"},
            ),
            _query("hotfolder", "a hot folder's name", {"type": "string"}),
            _query("printer", "a printer's name: the jobs of its hot folders", {"type": "string"}),
            _query("node", "a print server's name (a shared journal)", {"type": "string"}),
            _query(
                "limit",
                f"jobs in a page (default {LIMIT_DEFAULT})",
                {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
            ),
            _query(
                "before",
                "only jobs older than this job id: the next page",
                {"type": "integer", "minimum": 1},
            ),
        ],
        "responses": {
            "200": _json(
                "a page of jobs; next is the following page's path, or null",
                {
                    "type": "object",
                    "required": ["jobs", "next"],
                    "properties": {
                        "jobs": {"type": "array", "items": _ref("Job")},
                        "next": _NULLABLE_TEXT,
                    },
                },
            ),
            **_errors(400, 401, 429),
        },
    },
    ("GET", f"{PREFIX}/jobs/{{job_id}}"): {
        "summary": "A job: files, outputs and CUPS jobs, the whole history",
        "parameters": [_JOB_ID],
        "responses": {"200": _json("the job", _ref("JobDetail")), **_errors(400, 401, 404, 429)},
    },
    ("GET", f"{PREFIX}/orders/{{order_ref}}"): {
        "summary": "An order's jobs and reprints and how they stand (supervisor tokens; "
        "each look is journaled as api.order_viewed)",
        "parameters": [_ORDER_REF],
        "responses": {
            "200": _json(
                "the order",
                {
                    "type": "object",
                    "required": ["order", "finished", "attention", "counts", "jobs"],
                    "properties": {
                        "order": {"type": "string"},
                        "finished": {
                            "type": "boolean",
                            "description": "every job DONE, CANCELED or WITHDRAWN",
                        },
                        "attention": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "description": "jobs HELD or UNCERTAIN",
                        },
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "jobs": {"type": "array", "items": _ref("Job")},
                    },
                },
            ),
            **_errors(400, 401, 403, 404, 429),
        },
    },
    ("GET", f"{PREFIX}/printers"): {
        "summary": "Each configured printer's CUPS queue: state, reasons, labd's jobs there",
        "responses": {
            "200": _json("the printers", {"type": "object", "required": ["printers"]}),
            **_errors(401, 429, 503),
        },
    },
}


def openapi() -> dict[str, object]:
    """The OpenAPI 3.1 document of the API, from :data:`OPERATIONS` and the roles of
    :data:`~labd.web.roles.ROUTES` (``x-labd-role``: the lowest token role allowed)."""
    lowest = {(r.method, r.path): r.lowest for r in ROUTES}
    paths: dict[str, dict[str, object]] = {}
    for (method, path), operation in OPERATIONS.items():
        role = lowest.get((method, path))
        paths.setdefault(path, {})[method.lower()] = {
            **operation,
            "operationId": re.sub(r"\W+", "_", f"{method} {path.removeprefix(PREFIX)}").strip("_"),
            "x-labd-role": role.value if role is not None else None,
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "labd",
            "version": VERSION,
            "description": "The print-production daemon's jobs, orders and printers. "
            "Tokens: labd token add NAME --role technician|supervisor.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
