"""The console's message catalogs kept up to date: extract, update, check.

``scripts/i18n`` runs :func:`main`: it extracts every text of the templates and the Python
(the mapping is ``babel.cfg`` beside this file) into ``locale/labd.pot`` and merges it into
each language's ``.po``: a new text arrives untranslated, a text no longer used goes.  The
tests extract the same way, from the sources as they are, and fail on a text without a
translation (:func:`untranslated`) or with placeholders its translation lacks
(:func:`placeholder_mismatches`), so a page never shows a half-translated sentence unseen.
Tooling, not run by the console: :mod:`labd.web.i18n` reads the ``.po`` files.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any, Final

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from labd.web.i18n import DOMAIN, LOCALE_DIR, TRANSLATED, catalog_path

WEB: Final = Path(__file__).parent
MAPPING: Final = WEB / "babel.cfg"
TEMPLATE: Final = LOCALE_DIR / f"{DOMAIN}.pot"
# %(name)s and {name}: what a translation must keep, each of them.
_PLACEHOLDER: Final = re.compile(r"%\((\w+)\)[-#0 +]?\d*(?:\.\d+)?[sdrif]|\{(\w*)[^{}]*\}")
_WIDTH: Final = 100  # like the code: fewer wrapped msgids to read


def route_rules(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extraction method for ``roles.py``: the ``what`` of each ``RouteRule(...)``
    (its fourth argument), which a refused request names."""
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "RouteRule"
            and len(node.args) == 4
            and isinstance(node.args[3], ast.Constant)
            and isinstance(node.args[3].value, str)
        ):
            yield node.lineno, "N_", node.args[3].value, ["what a route is for"]


def extract(root: Path = WEB) -> Catalog:
    """Every text of the console's templates and Python under ``root`` (the console's
    package: ``labd/web``), from the sources as they are, by ``root/babel.cfg``."""
    with (root / MAPPING.name).open() as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call]
    catalog = Catalog(project="labd", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        root, method_map, options_map, comment_tags=("Translators:",), strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, domain=DOMAIN)


def _write(path: Path, catalog: Catalog) -> None:
    with path.open("wb") as f:
        write_po(f, catalog, width=_WIDTH, include_lineno=False, ignore_obsolete=True)


def update() -> Catalog:
    """Extract, write ``labd.pot``, and merge it into each language's ``.po`` (its header
    comment, the glossary, is kept); the template."""
    template = extract()
    if not TEMPLATE.exists() or _entries(read(TEMPLATE)) != _entries(template):
        _write(TEMPLATE, template)  # else left alone: its date would be the only change
    for code in TRANSLATED:
        path = catalog_path(code)
        catalog = read(path) if path.exists() else Catalog(locale=code, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        _write(path, catalog)
    return template


def _entries(catalog: Catalog) -> list[tuple[object, ...]]:
    """What the ``.pot`` shows of each text (its files: it is written without line numbers)."""
    return [
        (m.id, m.context, sorted({f for f, _line in m.locations}), m.auto_comments) for m in catalog
    ]


def _forms(message: Message) -> list[str]:
    string = message.string
    return [s or "" for s in string] if isinstance(string, tuple | list) else [string or ""]


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


def untranslated(template: Catalog, catalog: Catalog) -> list[str]:
    """The texts of ``template`` that ``catalog`` does not translate (missing, empty, or
    fuzzy: a fuzzy translation is not used)."""
    missing = []
    for message in template:
        if not message.id:
            continue  # the header
        found = catalog.get(message.id, message.context)
        if found is None or found.fuzzy or not all(_forms(found)):
            missing.append(_ids(message)[0])
    return missing


def placeholders(text: str) -> set[str]:
    """The named placeholders of a text: ``%(name)s`` and ``{name}``."""
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


def placeholder_mismatches(catalog: Catalog) -> list[str]:
    """Translations whose placeholders differ from their text's."""
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        wanted = placeholders(_ids(message)[-1])  # a plural's plural has all of them
        for form in _forms(message):
            if form and placeholders(form) != wanted:
                wrong.append(f"{_ids(message)[0]!r} -> {form!r}")
    return wrong


def main(argv: list[str] | None = None) -> int:
    """``scripts/i18n [--check]``: update the catalogs (or only check them); say what is
    left to translate.  Exit 1 when a text lacks a translation or a placeholder."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    template = extract() if check else update()
    problems = 0
    for code in TRANSLATED:
        catalog = read(catalog_path(code))
        missing = untranslated(template, catalog)
        wrong = placeholder_mismatches(catalog)
        problems += len(missing) + len(wrong)
        print(f"{code}: {len(template)} texts, {len(missing)} untranslated")  # noqa: T201
        for text in missing:
            print(f"  untranslated: {text!r}")  # noqa: T201
        for text in wrong:
            print(f"  placeholders differ: {text}")  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
