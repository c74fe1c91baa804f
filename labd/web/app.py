"""The console's ASGI application: routes, the login, the guard every route passes, headers.

Every route is in :data:`labd.web.roles.ROUTES` with the lowest role allowed; one guard
(:func:`_guarded`) checks the session and the role before a handler runs, and the CSRF
token of every POST, so no handler can forget either.  Handlers are plain functions run in
Starlette's thread pool: the journal (:mod:`labd.store`) and CUPS (pycups) block.

What a person does here goes through the functions the command line calls
(:mod:`labd.printing.actions`) with the web user's name as ``by``: the journal cannot tell
a retry from the board from ``labd retry`` but by that name.  Pages are rendered on the
server (Jinja2, autoescaped); the one script (``static/console.js``, no inline script: the
Content-Security-Policy allows only the console's own files) refreshes the board when the
journal moves, told by server-sent events (``/events``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import anyio
import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labd.clock import Clock, SystemClock, readable
from labd.config import Config
from labd.errors import (
    JobActionRefused,
    JobNotFound,
    JournalUnavailable,
    LabdError,
    PrintError,
    UnknownName,
)
from labd.journal import Journal
from labd.printing import CupsClient
from labd.web import api, duties, i18n, pages, preview, reports
from labd.web.accounts import PASSWORD_MAX, AccountError, Accounts, Outcome, Role, check_name
from labd.web.i18n import _
from labd.web.pages import BadInput, local_path
from labd.web.roles import ROUTES, RouteRule, allowed
from labd.web.sessions import AddressThrottle, Session, Sessions, new_token, same_token

log = structlog.get_logger(__name__)

HERE: Final = Path(__file__).parent
SESSION_COOKIE: Final = "labd_session"
LOGIN_COOKIE: Final = "labd_login"  # the login form's CSRF token, before there is a session
# How often /events looks at the journal's newest event: a change reaches the board within
# this and the table's fetch.
EVENTS_POLL_SECONDS: Final = 0.25
EVENTS_KEEPALIVE_SECONDS: Final = 15.0
# Routes a script calls: without a session they answer 401, not a redirect to the login.
_PASSIVE: Final = frozenset({"/board/table", "/events"})
# Everything the pages load comes from the console itself: no CDN, no inline script.
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STATUS: Final[Mapping[type[LabdError], int]] = {
    JobNotFound: 404,
    JobActionRefused: 409,
    UnknownName: 400,
    AccountError: 400,
    PrintError: 503,
    JournalUnavailable: 503,
}


class JournalHead:
    """The journal's newest sequence number, read at most once per EVENTS_POLL_SECONDS
    however many boards are open: every /events stream asks here, not the database.
    Real time, as the streams' own sleeps are (not the console's injected clock)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._lock = threading.Lock()
        self._seq = -1
        self._read_at: float | None = None

    def current(self) -> int:
        """The head, read now if the last read is older than a poll's interval."""
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= EVENTS_POLL_SECONDS:
                self._seq, self._read_at = self._journal.last_seq(), now
            return self._seq


@dataclass
class Console:
    """What the console's handlers share: the configuration, the journal, CUPS, the
    accounts and the sessions."""

    config: Config
    journal: Journal
    cups: CupsClient
    accounts: Accounts
    sessions: Sessions
    throttle: AddressThrottle
    templates: Jinja2Templates
    clock: Clock
    head: JournalHead = field(init=False)  # what every /events stream polls, shared

    def __post_init__(self) -> None:
        self.head = JournalHead(self.journal)

    def render(
        self, call: Call, name: str, context: Mapping[str, Any], status: int = 200
    ) -> Response:
        """A page of ``templates/``, with what every page shows (the user, the nav)."""
        session = call.session
        base = {
            "session": session,
            "user": session.user if session else None,
            "role": session.role.value if session else None,
            "rank": session.role.rank if session else -1,
            "csrf": session.csrf if session else "",
            "notes": _take_notes(session),
            "path": call.request.url.path,
            "lang": i18n.language(),
            "languages": i18n.switcher(call.request),
            "readable": lambda ts: readable(ts, self.config.timezone) if ts else "-",
        }
        return self.templates.TemplateResponse(
            call.request, name, {**base, **context}, status_code=status
        )

    def error(self, call: Call, status: int, message: str) -> Response:
        """The error page: what went wrong, that nothing was changed, and the way back."""
        return self.render(call, "error.html", {"status": status, "message": message}, status)


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: the session (None on public routes) and the
    form's fields (POST)."""

    request: Request
    session: Session | None
    form: Mapping[str, str]

    @property
    def user(self) -> str:
        """The web user's name (the ``by`` of what they do)."""
        if self.session is None:
            raise BadInput(_("log in first"))
        return self.session.user

    @property
    def role(self) -> Role | None:
        return None if self.session is None else self.session.role


Handler = Callable[[Console, Call], Response]


def _take_notes(session: Session | None) -> list[str]:
    if session is None:
        return []
    notes = list(session.notes)
    session.notes.clear()
    return notes


def create_app(config: Config, journal: Journal, clock: Clock | None = None) -> Starlette:
    """The console over ``journal`` (opened by the caller, closed by it)."""
    clock = clock or SystemClock()
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.trim_blocks = templates.env.lstrip_blocks = True  # tidy HTML
    # Every text goes through gettext, in the request's language (labd.web.i18n).
    templates.env.add_extension("jinja2.ext.i18n")
    i18n.load()
    templates.env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
    )
    templates.env.globals["role_name"] = i18n.role_name
    console = Console(
        config=config,
        journal=journal,
        cups=CupsClient(config.cups_server),
        accounts=Accounts(journal),
        sessions=Sessions(clock, config.web.session_idle_minutes * 60.0),
        throttle=AddressThrottle(clock),
        templates=templates,
        clock=clock,
    )
    handlers: dict[tuple[str, str], Handler] = {
        ("GET", "/login"): _login_form,
        ("POST", "/logout"): _logout,
        ("GET", "/"): pages.board,
        ("GET", "/board/table"): pages.board_table,
        ("GET", "/printers"): pages.printers,
        ("GET", "/jobs/{job_id:int}"): pages.job_detail,
        ("POST", "/jobs/{job_id:int}/retry"): pages.retry,
        ("POST", "/jobs/{job_id:int}/cancel"): pages.cancel,
        ("POST", "/jobs/{job_id:int}/reprint"): pages.reprint,
        ("POST", "/jobs/{job_id:int}/close"): pages.close,
        ("POST", "/jobs/{job_id:int}/resolve"): pages.resolve,
        ("GET", "/journal"): pages.journal_page,
        ("GET", "/journal/verify"): pages.verify,
        ("GET", "/users"): pages.users,
        **duties.HANDLERS,  # quarantine, media, waste, retention
        **reports.HANDLERS,  # reports, their CSV, the Art. 30 record
        **preview.HANDLERS,  # a job's output as a small picture
    }
    routes: list[Route | Mount] = []
    for rule in ROUTES:
        key = (rule.method, rule.path)
        if rule.path.startswith(api.PREFIX + "/"):
            continue  # the JSON API's, below: tokens, not sessions
        if key == ("POST", "/login"):
            endpoint = _login_endpoint(console)
        elif key == ("GET", "/events"):
            endpoint = _events_endpoint(console, rule)
        else:
            endpoint = _guarded(console, rule, handlers[key])
        routes.append(Route(rule.path, endpoint, methods=[rule.method]))
    routes += api.routes(console)
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        call = Call(request, console.sessions.get(request.cookies.get(SESSION_COOKIE)), {})
        message = _("No such page.") if status == 404 else _("The console cannot answer that.")
        return console.error(call, status, message)

    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_found},
        middleware=[Middleware(i18n.LanguageMiddleware, english_only=(api.PREFIX + "/",))],
    )
    app.state.console = console
    return app


def secure_headers(app: ASGIApp) -> ASGIApp:
    """Wrap ``app``: every response carries the console's security headers."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                if tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


# -- the guard ----------------------------------------------------------------------------------


def _session_of(console: Console, request: Request, *, touch: bool) -> Session | None:
    """The request's live session, and its account still enabled (checked each time: a
    disabled account's sessions end at once, a changed role applies at once)."""
    session = console.sessions.get(request.cookies.get(SESSION_COOKIE), touch=touch)
    if session is None:
        return None
    account = console.accounts.get(session.user)
    if account is None or account.disabled:
        console.sessions.end_user(session.user)
        return None
    session.role = account.role
    return session


def _guarded(
    console: Console, rule: RouteRule, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` behind the checks every route passes: session, role, CSRF, errors."""
    passive = rule.path in _PASSIVE

    async def endpoint(request: Request) -> Response:
        session = None
        if rule.lowest is not None:
            session = await run_in_threadpool(_session_of, console, request, touch=not passive)
        call = Call(request, session, {})
        if rule.lowest is not None and session is None:
            if passive:
                return Response("log in again", status_code=401)
            if rule.method == "GET":
                target = "/login?" + urlencode({"next": local_path(str(request.url.path))})
                return RedirectResponse(target, status_code=303)
            return console.error(call, 403, _("Your session has ended: log in again."))
        if not allowed(rule, call.role):
            lowest = i18n.role_name(rule.lowest.value) if rule.lowest else _("anyone")
            role = i18n.role_name(call.role.value) if call.role else _("nobody")
            return console.error(
                call,
                403,
                _(
                    "Not for a %(role)s: %(what)s is for the role %(lowest)s and above. "
                    "Nothing was done.",
                    role=role,
                    what=i18n.gettext(rule.what),
                    lowest=lowest,
                ),
            )
        if rule.method == "POST":
            form = await request.form()
            fields = _fields(form)
            expected = session.csrf if session is not None else ""
            if not same_token(fields.get("csrf"), expected):
                log.warning(
                    "web.csrf_refused", path=request.url.path, user=call.session and call.user
                )
                return console.error(
                    call,
                    403,
                    _(
                        "This form did not come from the console's own page (its CSRF token "
                        "is missing or wrong): nothing was changed. Reload the page and try "
                        "again."
                    ),
                )
            call = Call(request, session, fields)
        try:
            return await run_in_threadpool(handler, console, call)
        except LabdError as e:
            status = next((s for t, s in _STATUS.items() if isinstance(e, t)), 400)
            return console.error(call, status, e.get_message())

    return endpoint


def _fields(form: FormData) -> dict[str, str]:
    """A form's text fields (an uploaded file where text belongs is bad input)."""
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise BadInput(_("field %(key)r must be text", key=key))
        fields[key] = value
    return fields


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """A cookie only this console's pages send back: HttpOnly, SameSite=Strict, Secure
    when the console is reached over TLS (directly, or through a proxy that says so)."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


# -- logging in and out -------------------------------------------------------------------------


def _login_form(console: Console, call: Call) -> Response:
    if _session_of(console, call.request, touch=False) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(console, call, 200, None)


def _login_page(console: Console, call: Call, status: int, message: str | None) -> Response:
    token = new_token()
    response = console.render(
        call,
        "login.html",
        {
            "login_csrf": token,
            "next": local_path(call.request.query_params.get("next") or call.form.get("next")),
            "message": message,
            "name": call.form.get("name", ""),
        },
        status,
    )
    set_cookie(response, call.request, LOGIN_COOKIE, token)
    return response


def _login_endpoint(console: Console) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        form = await request.form()
        try:
            fields = _fields(form)
        except BadInput as e:
            return console.error(Call(request, None, {}), 400, e.get_message())
        call = Call(request, None, fields)
        if not same_token(fields.get("csrf"), request.cookies.get(LOGIN_COOKIE) or "\0"):
            return _login_page(
                console,
                call,
                403,
                _("The login form had expired: nothing was sent. Log in again."),
            )
        return await run_in_threadpool(_log_in, console, call)

    return endpoint


def _log_in(console: Console, call: Call) -> Response:
    address = call.request.client.host if call.request.client else "unknown"
    if console.throttle.blocked(address):
        minutes = int(console.throttle.window // 60)
        return _login_page(
            console,
            call,
            429,
            _(
                "Too many failed logins from this computer: wait up to %(minutes)s minutes, "
                "then try again.",
                minutes=minutes,
            ),
        )
    name, password = call.form.get("name", "").strip(), call.form.get("password", "")
    try:
        check_name(name)
    except AccountError as e:
        _count_failure(console, address)
        return _login_page(console, call, 400, e.get_message())
    if not password or len(password) > PASSWORD_MAX:
        _count_failure(console, address)
        return _login_page(console, call, 400, _("Give the account's password."))
    login = console.accounts.authenticate(name, password, address=address)
    if login.outcome is Outcome.OK and login.account is not None:
        session = console.sessions.start(login.account.name, login.account.role)
        log.info("web.logged_in", user=session.user, role=session.role.value)
        target = local_path(call.form.get("next"))
        response = RedirectResponse(target, status_code=303)
        set_cookie(response, call.request, SESSION_COOKIE, session.token)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response
    _count_failure(console, address)
    log.info("web.login_refused", outcome=login.outcome.value)
    if login.outcome is Outcome.LOCKED:
        until = readable(login.locked_until or "", console.config.timezone)
        return _login_page(
            console,
            call,
            403,
            _(
                "This account is locked after too many wrong passwords, until %(until)s. "
                "Wait, or ask an administrator to set a new password (labd user passwd).",
                until=until,
            ),
        )
    return _login_page(console, call, 401, _("Wrong user name or password."))


def _count_failure(console: Console, address: str) -> None:
    if console.throttle.failed(address):
        with console.journal.transaction() as tx:
            tx.event(
                "web.address_throttled",
                {"failures": console.throttle.limit, "window_seconds": console.throttle.window},
                detail=f"from {address}",
            )


def _logout(console: Console, call: Call) -> Response:
    console.sessions.end(call.request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- live updates -------------------------------------------------------------------------------


def _events_endpoint(console: Console, rule: RouteRule) -> Callable[[Request], Awaitable[Response]]:
    """``/events``: the journal's newest sequence number whenever it changes."""

    async def endpoint(request: Request) -> Response:
        session = await run_in_threadpool(_session_of, console, request, touch=False)
        if session is None or not allowed(rule, session.role):
            return Response("log in again", status_code=401)
        token = session.token

        async def stream() -> Any:
            last = -1
            quiet = 0.0
            while True:
                if console.sessions.get(token, touch=False) is None:
                    yield "event: expired\ndata: \n\n"
                    return
                seq = await run_in_threadpool(console.head.current)
                if seq != last:
                    last, quiet = seq, 0.0
                    yield f"id: {seq}\ndata: {seq}\n\n"
                elif quiet >= EVENTS_KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield ": still here\n\n"
                await anyio.sleep(EVENTS_POLL_SECONDS)
                quiet += EVENTS_POLL_SECONDS

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},  # nginx: pass each event on at once
        )

    return endpoint
