"""What the console's languages cost: loading the catalogs, and a page in German or Bokmål
beside the same page in English.

    .venv/bin/python bench/i18n.py [--loads 20] [--renders 2000] [--verbose]

1. Loading: labd.web.i18n reads each ``.po`` and compiles it in memory, once per process
   (no ``.mo`` in the repository that could drift from its ``.po``).  The obvious
   alternative side by side: reading a ``.mo`` compiled beforehand (made here, in a
   temporary folder, from the same ``.po``).  Median of --loads loads each, milliseconds.
2. A page: the login page (``login.html`` in ``base.html``: every text through gettext,
   the footer's switcher) rendered --renders times in English (the texts as written) and
   in German and Bokmål (each text looked up in the request's catalog): median
   microseconds a page, and the ratio to English.
"""

from __future__ import annotations

import gettext
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from jinja2 import Environment, FileSystemLoader, Template

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchargs

from labd.web import catalogs, i18n  # after the path set-up above


def _ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def load_po(code: str) -> None:
    i18n.translations.cache_clear()
    i18n.translations(code)


def load_mo(path: Path) -> None:
    with path.open("rb") as f:
        gettext.GNUTranslations(f)


def timed(what: Callable[..., object], n: int, *args: object) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        what(*args)
        times.append(time.perf_counter() - start)
    return times


def login_page() -> Template:
    """The login page as the console renders it (its environment's settings)."""
    env = Environment(
        loader=FileSystemLoader(catalogs.WEB / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
    )
    env.globals["role_name"] = i18n.role_name
    return env.get_template("login.html")


def render(page: Template, code: str) -> str:
    links = [(c, name, f"/login?lang={c}") for c, name in i18n.LANGUAGES.items()]
    with i18n.speaking(code):
        return page.render(
            lang=code, languages=links, session=None, user=None, role=None, rank=-1,
            csrf="", notes=[], path="/login", login_csrf="x" * 43, next="/",
            message=None, name="",
        )  # fmt: skip


def main() -> int:
    options = benchargs.parser(__doc__)
    options.add_argument("--loads", type=int, default=20, help="catalog loads of each kind")
    options.add_argument("--renders", type=int, default=2000, help="renders of the page")
    args = benchargs.parse(options)
    print(f"catalogs: {', '.join(i18n.TRANSLATED)}; {len(catalogs.extract())} texts")
    with tempfile.TemporaryDirectory() as tmp:
        for code in i18n.TRANSLATED:
            mo = Path(tmp, f"{code}.mo")
            with mo.open("wb") as f:
                write_mo(f, catalogs.read(i18n.catalog_path(code)))
            po_ms = _ms(timed(load_po, args.loads, code))
            mo_ms = _ms(timed(load_mo, args.loads, mo))
            print(
                f"load {code}: .po compiled at load {po_ms:.2f} ms, a prebuilt .mo "
                f"{mo_ms:.2f} ms (x{po_ms / mo_ms:.1f}; once per process)"
            )
    i18n.load()
    page = login_page()
    english = _ms(timed(render, args.renders, page, "en")) * 1000
    print(f"login page, en: {english:.0f} us")
    for code in i18n.TRANSLATED:
        us = _ms(timed(render, args.renders, page, code)) * 1000
        print(f"login page, {code}: {us:.0f} us (x{us / english:.2f} of English)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
