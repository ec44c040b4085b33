"""Translation catalogues for the notice, read from .po files at run time.

DPDP Act s.5(3) lets a person read the notice in English or any Eighth-Schedule language, so the fixed text
of the notice lives in Babel catalogues (src/fiduciary/locale/<lang>/LC_MESSAGES/messages.po). The .po files
are compiled in memory when first used: a deployment has no build step and no .mo files to forget.
Values that come from the policy file (names, descriptions) are the store's words and are never translated.
"""

from __future__ import annotations

import re
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent.parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"

_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def available_languages() -> tuple[str, ...]:
    """Languages with a catalogue on disk, English first."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po") if p.is_file())
    return tuple(sorted(found, key=lambda code: (code != DEFAULT_LANGUAGE, code)))


def resolve_language(tag: str | None) -> str:
    """The catalogue to use for a BCP 47 tag: exact match, then the primary language, then English.

    `hi-IN` → `hi`; `ta` (no catalogue yet) → `en`. Malformed tags also fall back to English here; the web
    layer rejects them before they reach this point.
    """
    if not tag or not _TAG.match(tag):
        return DEFAULT_LANGUAGE
    languages = available_languages()
    normalised = tag.replace("-", "_")
    parts = normalised.split("_")
    candidates = [normalised, f"{parts[0].lower()}_{parts[1].upper()}" if len(parts) > 1 else "", parts[0]]
    for candidate in candidates:
        if candidate and candidate.lower() in {lang.lower() for lang in languages}:
            return next(lang for lang in languages if lang.lower() == candidate.lower())
    return DEFAULT_LANGUAGE


def negotiate_language(accept_language: str | None) -> str | None:
    """The best catalogue for an Accept-Language header (RFC 9110 §12.5.4), or None if none fits."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")[:32]):
        fields = [f.strip() for f in item.split(";")]
        tag, quality = fields[0], 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0 and _TAG.match(tag):
            ranked.append((-quality, index, tag))
    languages = set(available_languages())
    for _quality, _index, tag in sorted(ranked):
        primary = tag.replace("_", "-").split("-")[0].lower()
        resolved = resolve_language(tag)
        if resolved in languages and resolved.split("_")[0].lower() == primary:
            return resolved
    return None


@lru_cache(maxsize=32)
def load_translations(language: str) -> NullTranslations:
    """Translations for a resolved language code; English (the msgids) when there is no catalogue."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def babel_locale(language: str) -> Locale:
    """The CLDR locale used for country names, weekday names and dates."""
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LANGUAGE)
