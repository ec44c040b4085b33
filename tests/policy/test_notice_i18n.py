"""The notice's translation catalogues: extracted template up to date, catalogues complete and consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from fiduciary.policy.notice import available_languages, load_translations
from fiduciary.policy.notice.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src" / "fiduciary" / "policy" / "notice" / "templates"
POT = LOCALE_DIR / "messages.pot"

HEADINGS = [
    "Who we are",
    "What we collect and why",
    "The data we collect",
    "Why we use it",
    "Who receives your data",
    "Cookies",
    "Marketing",
    "Your rights",
    "Children",
    "How we protect your data",
    "Contact us",
    "How to complain",
    "Changes to this notice",
    "Version history",
    "Contents",
]


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def msgids(catalog: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else "\x00".join(m.id) for m in catalog if m.id}


def test_pot_is_up_to_date_with_templates_and_code(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run(  # type: ignore[no-untyped-call]
        ["pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(fresh), str(ROOT)]
    )
    extracted = msgids(read(fresh))
    assert len(extracted) > 200
    committed = msgids(read(POT))
    assert extracted - committed == set(), "run pybabel extract (see docs/notice.md): new strings missing"
    assert committed - extracted == set(), "run pybabel extract (see docs/notice.md): stale strings in the .pot"


@pytest.mark.parametrize("language", ["en", "hi"])
def test_catalogues_hold_every_message_of_the_template(language: str) -> None:
    assert language in available_languages()
    catalog = read(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", language)
    assert msgids(catalog) == msgids(read(POT)), "run pybabel update (see docs/notice.md)"
    assert [m.id for m in catalog if m.id and m.fuzzy] == []
    problems = [(m.id, str(e)) for m, errors in catalog.check() for e in errors]
    assert problems == []  # placeholders such as %(duration)s match the msgid


def test_hindi_catalogue_translates_headings_and_everything_else() -> None:
    catalog = read(LOCALE_DIR / "hi" / "LC_MESSAGES" / "messages.po", "hi")
    for heading in HEADINGS:
        message = catalog.get(heading)
        assert message is not None and message.string, heading
        assert re.search("[\u0900-\u097f]", str(message.string)), heading  # Devanagari
    untranslated = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert untranslated == []


def test_translations_load_from_po_without_compiled_files() -> None:
    assert list(LOCALE_DIR.rglob("*.mo")) == []
    hindi = load_translations("hi")
    assert hindi.gettext("Your rights") == "आपके अधिकार"
    assert hindi.ngettext("%(num)d month", "%(num)d months", 1) % {"num": 1} == "1 महीना"
    assert hindi.ngettext("%(num)d month", "%(num)d months", 6) % {"num": 6} == "6 महीने"
    english = load_translations("en")
    assert english.gettext("Your rights") == "Your rights"
    missing = load_translations("zz")
    assert missing.gettext("Your rights") == "Your rights"


def _literal_text(source: str) -> str:
    """What a template outputs verbatim: everything outside tags, expressions, trans blocks and CSS."""
    source = re.sub(r"\{%-?\s*trans\b.*?endtrans\s*-?%\}", " ", source, flags=re.S)
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    source = re.sub(r"<style>.*?</style>", " ", source, flags=re.S)
    source = re.sub(r"<[^>]*>", " ", source)
    return source


@pytest.mark.parametrize("template", ["notice.html.j2", "notice.md.j2"])
def test_templates_have_no_untranslated_words(template: str) -> None:
    text = _literal_text((TEMPLATES / template).read_text(encoding="utf-8"))
    words = re.findall(r"[A-Za-z]{2,}", text)
    assert words == [], f"fixed text outside gettext in {template}: {words}"
