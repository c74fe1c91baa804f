"""The console's catalogs are complete and its language choice is the browser's.

Completeness is checked against the sources as they are now: the texts are extracted
from the templates and the Python at test time (never read from the committed
``labd.pot``), so a new text without a German or Bokmål translation fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from labd.web import catalogs, i18n
from labd.web.accounts import AccountError, check_name


@pytest.fixture(scope="module")
def template() -> Catalog:
    return catalogs.extract()


@pytest.mark.parametrize("code", i18n.TRANSLATED)
def test_every_text_of_the_console_has_a_translation(template: Catalog, code: str) -> None:
    assert len(template) > 0
    catalog = catalogs.read(i18n.catalog_path(code))
    assert catalogs.untranslated(template, catalog) == [], (
        f"run scripts/i18n and translate these in {i18n.catalog_path(code)}"
    )


@pytest.mark.parametrize("code", i18n.TRANSLATED)
def test_translations_keep_their_texts_placeholders(code: str) -> None:
    catalog = catalogs.read(i18n.catalog_path(code))
    assert catalogs.placeholder_mismatches(catalog) == []


def test_a_missing_or_renamed_placeholder_is_found() -> None:
    catalog = Catalog(locale="de")
    catalog.add("Job %(job)s of %(order)s", "Auftrag %(job)s von %(bestellung)s")
    catalog.add("Hold {hold} placed", "Sperre gesetzt")
    catalog.add("%(level)d %%", "%(level)d %%")  # a literal % is no placeholder
    assert len(catalogs.placeholder_mismatches(catalog)) == 2
    assert catalogs.placeholders("%(a)s, %(b)r, %(c)d %% {d}") == {"a", "b", "c", "d"}


def test_a_new_text_without_translation_fails_the_check(tmp_path: Path) -> None:
    # The console's sources as they are, plus a page with one new text.
    copy = tmp_path / "web"
    shutil.copytree(catalogs.WEB, copy, ignore=shutil.ignore_patterns("locale", "static"))
    (copy / "templates" / "new.html").write_text(
        '{% extends "base.html" %}{% block content %}'
        '<p>{{ _("A text nobody has translated yet") }}</p>{% endblock %}\n'
    )
    now, with_it = catalogs.extract(), catalogs.extract(copy)
    for code in i18n.TRANSLATED:
        catalog = catalogs.read(i18n.catalog_path(code))
        before = set(catalogs.untranslated(now, catalog))  # empty, when the first test passes
        after = set(catalogs.untranslated(with_it, catalog))
        assert after - before == {"A text nobody has translated yet"}


def test_a_fuzzy_or_empty_translation_counts_as_missing(template: Catalog) -> None:
    catalog = catalogs.read(i18n.catalog_path("de"))
    before = set(catalogs.untranslated(template, catalog))
    first, second = [m for m in catalog if m.id and m.id in template and m.id not in before][:2]
    first.flags.add("fuzzy")
    second.string = ""
    assert set(catalogs.untranslated(template, catalog)) - before == {first.id, second.id}


@pytest.mark.parametrize("code", i18n.TRANSLATED)
def test_the_catalog_compiled_at_load_says_what_its_po_says(code: str) -> None:
    translations = i18n.translations(code)
    catalog = catalogs.read(i18n.catalog_path(code))
    checked = 0
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            singular, plural = message.id[:2]
            assert isinstance(message.string, tuple | list)
            assert translations.ngettext(singular, plural, 1) == message.string[0]
            assert translations.ngettext(singular, plural, 5) == message.string[1]
        elif message.context:
            assert translations.pgettext(message.context, message.id) == message.string
        else:
            assert translations.gettext(message.id) == message.string
        checked += 1
    assert checked == len(catalog)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("nb-NO", "nb"),
        ("nb", "nb"),
        ("no", "nb"),  # Norwegian without a written standard: Bokmål
        ("nn-NO,nn;q=0.9,en;q=0.5", "nb"),  # Nynorsk readers read Bokmål; no Nynorsk catalog
        ("en-US,en;q=0.9,de;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,de;q=0.5,en;q=0.3", "de"),  # the best one it speaks
        ("en;q=0.4, de;q=0.6", "de"),  # by q-value, not by order
        ("de;q=0.5, nb;q=0.5", "de"),  # equal q: the first
        ("DE-at", "de"),
        ("de_DE", "de"),
        ("de;q=0, en", "en"),  # q=0: not German
        ("fi-FI,fi;q=0.9,sv;q=0.8", "en"),  # no Finnish catalog (yet)
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("de;q=nonsense, nb;q=0.1", "nb"),  # a q that is no number counts as 0
        (";;,,;q=1", "en"),
    ],
)
def test_the_language_is_negotiated_from_accept_language(header: str | None, code: str) -> None:
    assert i18n.negotiate(header) == code


def test_texts_outside_a_request_stay_english_and_inside_follow_it() -> None:
    # `labd user add` calls the same check as the login form: its refusal is English
    # on the command line (no request), and in the browser's language on the form.
    with pytest.raises(AccountError) as english:
        check_name("Kari Nordmann")
    assert english.value.get_message().startswith("'Kari Nordmann' is not a user name")
    for code in i18n.TRANSLATED:
        with i18n.speaking(code), pytest.raises(AccountError) as translated:
            check_name("Kari Nordmann")
        message = translated.value.get_message()
        assert message.startswith("'Kari Nordmann' ")
        assert message != english.value.get_message()
    assert i18n.language() == "en"  # the block put it back
    with pytest.raises(ValueError, match="not 'fi'"):
        i18n.speaking("fi").__enter__()


def test_role_names_are_translated_and_unknown_ones_shown_as_they_are() -> None:
    with i18n.speaking("de"):
        names = {role: i18n.role_name(role) for role in i18n.ROLE_NAMES}
    assert names["technician"] != "technician"
    assert len(set(names.values())) == len(names)
    assert i18n.role_name("guest") == "guest"
