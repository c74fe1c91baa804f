"""The console's languages: English, German and Norwegian Bokmål, chosen per request.

The labs labd is written for are in Norway, Germany and Finland, and the person at the
board reads it in their own language.  Every text of a page goes through gettext: the
templates' ``_()``, and the texts the Python side shows (a refusal, the note after an
action) through :func:`_` here.  English is the source language; the German and Bokmål
catalogs are the ``.po`` files under ``locale/`` (kept by ``scripts/i18n``), read once per
process and compiled in memory, so there is no ``.mo`` file in the repository that could
drift from its ``.po``.

A request's language is the one picked in the footer's switcher (``?lang=de`` on any page,
then kept in the ``lang`` cookie), else the best of its Accept-Language header by q-value,
else English.  Norwegian browsers say ``nb``, ``no`` or ``nn``: all three get Bokmål (labd
ships no Nynorsk catalog, and every Norwegian reads Bokmål).  Finnish gets English: no
Finnish catalog yet.  :class:`LanguageMiddleware` puts the language into a context
variable for the request, so a template and the handler that renders it (in Starlette's
thread pool: anyio copies the context there) speak the same language.

Not translated, on purpose: the JSON API (``/api/v1`` stays English for the programs that
read it), the journal's data (states, event kinds, reasons), log messages, and the command
line, which shares some texts with the console (a check's refusal outside a request is
English: the context variable's default).
"""

from __future__ import annotations

import gettext as stdlib_gettext
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "COOKIE",
    "LANGUAGES",
    "N_",
    "SOURCE",
    "LanguageMiddleware",
    "_",
    "gettext",
    "language",
    "load",
    "negotiate",
    "ngettext",
    "pgettext",
    "role_name",
    "speaking",
    "switcher",
]

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "labd"
SOURCE: Final = "en"  # the language the texts are written in
# Every language the console speaks, by its own name (as the switcher shows it).
LANGUAGES: Final[Mapping[str, str]] = {"en": "English", "de": "Deutsch", "nb": "Norsk bokmål"}
TRANSLATED: Final = tuple(code for code in LANGUAGES if code != SOURCE)
COOKIE: Final = "lang"
COOKIE_SECONDS: Final = 365 * 24 * 3600  # a lab's screen keeps its language for a year
# A browser's primary language subtag that gets another shipped language.
_ALIASES: Final[Mapping[str, str]] = {"no": "nb", "nn": "nb"}
_MOST_TAGS: Final = 32  # of an Accept-Language header; a browser sends a handful

_language: ContextVar[str] = ContextVar("labd_web_language", default=SOURCE)


def N_(message: str) -> str:  # noqa: N802  # gettext's own name for it
    """Mark ``message`` for the catalogs where it is defined (a module constant); it is
    translated where it is shown, with :func:`gettext`."""
    return message


# The roles as a page names them (their values stay English in the data and the journal).
ROLE_NAMES: Final[Mapping[str, str]] = {
    "technician": N_("technician"),
    "supervisor": N_("supervisor"),
    "admin": N_("admin"),
}


def catalog_path(code: str) -> Path:
    """Where language ``code``'s catalog is: ``locale/CODE/LC_MESSAGES/labd.po``."""
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> stdlib_gettext.NullTranslations:
    """The catalog of language ``code``, read from its ``.po`` and compiled in memory once
    per process (English: the texts as written)."""
    if code == SOURCE:
        return stdlib_gettext.NullTranslations()
    with catalog_path(code).open("rb") as f:
        catalog = read_po(f, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def load() -> None:
    """Read every catalog now (at the console's start), so a broken ``.po`` stops the start
    instead of the first request in its language."""
    for code in LANGUAGES:
        translations(code)


def language() -> str:
    """The current request's language (English outside a request)."""
    return _language.get()


@contextmanager
def speaking(code: str) -> Iterator[None]:
    """Texts in language ``code`` within the block (tests, a benchmark; a request gets its
    language from :class:`LanguageMiddleware`)."""
    if code not in LANGUAGES:
        raise ValueError(f"labd speaks {', '.join(LANGUAGES)}, not {code!r}")
    token = _language.set(code)
    try:
        yield
    finally:
        _language.reset(token)


def gettext(message: str) -> str:
    """``message`` in the current request's language."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or a plural form of a message for ``n``, in the request's language."""
    return translations(_language.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the request's language, where the same English word says two things
    (``pgettext("button", "Seal")``: the action, not the seal)."""
    return translations(_language.get()).pgettext(context, message)


def _(message: str, /, **values: object) -> str:
    """``message`` translated, its ``%(name)s`` placeholders filled from ``values``."""
    text = gettext(message)
    return text % values if values else text


def role_name(role: str) -> str:
    """A role as a page names it (the role's value when it is no role)."""
    return gettext(ROLE_NAMES[role]) if role in ROLE_NAMES else role


def negotiate(accept_language: str | None) -> str:
    """The language the console speaks that an Accept-Language header prefers most (by
    q-value, then order; a region is ignored: ``de-AT`` is German), else English.

    Not Babel's ``negotiate_locale``: it takes a list in order of preference, without
    q-values, and does not know that ``no`` and ``nn`` should get Bokmål here."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:_MOST_TAGS]):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:  # q=0: "not this one"; NaN is not > 0 either
            ranked.append((-quality, index, tag.strip()))
    for _quality, _index, tag in sorted(ranked):
        primary = tag.replace("_", "-").split("-")[0].lower()
        code = _ALIASES.get(primary, primary)
        if code in LANGUAGES:
            return code
    return SOURCE


def chosen(request: Request) -> tuple[str, str | None]:
    """The request's language, and the one its ``?lang=`` picks now (to keep in the cookie;
    None when it picks nothing new)."""
    asked = request.query_params.get("lang", "") if request.method == "GET" else ""
    kept = request.cookies.get(COOKIE, "")
    if asked in LANGUAGES:
        return asked, asked if asked != kept else None
    if kept in LANGUAGES:
        return kept, None
    return negotiate(request.headers.get("accept-language")), None


def switcher(request: Request) -> list[tuple[str, str, str]]:
    """The footer's language switcher: each language's code, its own name and this page's
    address in it (a page reached by a POST switches on the board: a link can only GET)."""
    if request.method == "GET":
        path = request.url.path
        query = parse_qsl(request.url.query, keep_blank_values=True)
    else:
        path, query = "/", []
    kept = [(k, v) for k, v in query if k != "lang"]
    return [
        (code, name, f"{path}?{urlencode([*kept, ('lang', code)])}")
        for code, name in LANGUAGES.items()
    ]


def _cookie(code: str, *, secure: bool) -> tuple[bytes, bytes]:
    """The ``Set-Cookie`` header that keeps ``code``: SameSite=Strict, HttpOnly, a year."""
    response = Response()
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_SECONDS,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return next((k, v) for k, v in response.raw_headers if k == b"set-cookie")


class LanguageMiddleware:
    """Each request of the pages in its language (see the module's docstring); the paths
    under ``english_only`` (the JSON API) stay English whatever the browser asks."""

    def __init__(self, app: ASGIApp, english_only: tuple[str, ...] = ()) -> None:
        self.app = app
        self.english_only = english_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(self.english_only):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        code, keep = chosen(request)
        token = _language.set(code)
        try:
            if keep is None:
                await self.app(scope, receive, send)
                return
            header = _cookie(keep, secure=request.url.scheme == "https")

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), header]
                await send(message)

            await self.app(scope, receive, send_with_cookie)
        finally:
            _language.reset(token)
