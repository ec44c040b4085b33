"""What the cookie banner shows and decides with: the policy's cookie catalogue grouped by category.

The banner (`/banner.js`, docs/banner.md) knows nothing of its own: every category, purpose text and cookie
it shows comes from the policy in force, so the banner says exactly what the ledger enforces (DPDP s.5-6,
GDPR Art 7, ePrivacy Art 5(3)). The consent cookie the banner endpoint sets is built here too, so the
endpoint and the script agree on its one format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from babel.lists import format_list

from fiduciary.people.service import VISITOR_ID_RE
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.notice.i18n import babel_locale, load_translations
from fiduciary.policy.notice.view import N_, Translator
from fiduciary.policy.schema import Cookie, CookieCategory

# The consent cookie: visitor id, policy version, time of the choice and the optional categories accepted.
# No personal value: the visitor id is random and names nobody (docs/banner.md, "Cookies").
CONSENT_COOKIE = "fiduciary_consent"
# Ask again after this long even without a material change. No law fixes the period; the CNIL's 2020
# guidelines on cookies recommend six months, which is also what the EDPB cookie taskforce saw as usual.
ASK_AGAIN_AFTER_DAYS = 180
COOKIE_MAX_AGE = ASK_AGAIN_AFTER_DAYS * 86_400

# Google Consent Mode v2 signals each optional category grants; everything else stays denied.
CONSENT_MODE: Mapping[CookieCategory, tuple[str, ...]] = {
    CookieCategory.FUNCTIONAL: (),
    CookieCategory.ANALYTICS: ("analytics_storage",),
    CookieCategory.ADVERTISING: ("ad_storage", "ad_user_data", "ad_personalization"),
}
# The banner's fixed wording, in the gettext catalogue (src/fiduciary/locale, docs/notice.md "Translations")
# and sent in the configuration in the visitor's language: DPDP s.5(3) and Rule 3 ask for a notice the person
# can understand, in English or an Eighth-Schedule language. The policy's own texts (purposes, cookies) are
# the store's words in the policy's language and are sent as written.
CATEGORY_TEXT: Mapping[CookieCategory, tuple[str, str]] = {
    CookieCategory.NECESSARY: (N_("Strictly necessary"), N_("Needed for the site to work. Always on.")),
    CookieCategory.FUNCTIONAL: (N_("Functional"), N_("Remember your settings.")),
    CookieCategory.ANALYTICS: (N_("Analytics"), N_("Help us measure and improve the store.")),
    CookieCategory.ADVERTISING: (N_("Advertising"), N_("Show you our ads on other sites.")),
}
# Key in the configuration's "text" → the English msgid; `%(store)s` is filled in here, not by the script.
BANNER_TEXT: Mapping[str, str] = {
    "title": N_("Cookies on %(store)s"),
    "intro": N_(
        "We use cookies that the site needs, and others only if you agree. "
        "You can change your mind at any time with the cookie settings link."
    ),
    "notice": N_("Privacy notice"),
    "accept": N_("Accept all"),
    "reject": N_("Reject all"),
    "customise": N_("Customise"),
    "choose": N_("Choose your cookies"),
    "save": N_("Save choices"),
    "always_on": N_("always on"),
    "cookies": N_("Cookies"),
}
GPC_TEXT = N_(
    "Your browser sent a Global Privacy Control signal, so we treat it as an opt-out of the sale or sharing "
    "of your data and of targeted advertising: %(categories)s stays off."
)


@dataclass(frozen=True)
class BannerConfig:
    """The banner's configuration as JSON text, with its ETag; `categories` maps each optional category
    to the consent purposes it stands for (used to build the consent cookie)."""

    body: bytes
    etag: str
    categories: Mapping[str, frozenset[str]]


def _cookie_json(cookie: Cookie) -> dict[str, str]:
    return {
        "name": cookie.name,
        "provider": cookie.provider,
        "party": cookie.party,
        "lifetime": str(cookie.lifetime),
        "description": cookie.description,
    }


def _category(
    policy: CompiledPolicy, category: CookieCategory, cookies: Sequence[Cookie], t: Translator
) -> dict[str, Any]:
    purpose_ids = sorted({c.purpose for c in cookies if c.purpose is not None})
    purposes = [policy.purposes[p] for p in purpose_ids if p in policy.purposes]
    consent = sorted(p.id for p in purposes if p.id in policy.consent_purposes)
    name, text = CATEGORY_TEXT[category]
    # A category is optional when one of its cookies serves a consent purpose. Otherwise it needs no
    # consent (strictly necessary, or a setting the visitor asked for: CNIL exemption list) and is on.
    optional = category is not CookieCategory.NECESSARY and bool(consent)
    return {
        "id": category.value,
        "name": t.gettext(name),
        "text": t.gettext(text),
        "optional": optional,
        "purposes": consent,
        # GPC opts out of sale/sharing and targeted advertising (CCPA 11 CCR §7025, Cal. Civ. Code §1798.135)
        "gpc": any(p.sale_or_sharing or p.targeted_advertising for p in purposes if p.id in consent),
        "consent_mode": list(CONSENT_MODE.get(category, ())) if optional else [],
        "uses": [{"name": p.name, "description": p.description} for p in purposes],
        "cookies": [_cookie_json(c) for c in cookies],
    }


def _texts(t: Translator, language: str, store: str, categories: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The banner's fixed wording in `language`; the GPC notice names the categories GPC keeps off (empty
    when none does: the script then shows no notice)."""
    texts = {key: t.gettext(msgid) for key, msgid in BANNER_TEXT.items()}
    texts["title"] = texts["title"] % {"store": store}
    off = [str(c["name"]) for c in categories if c["gpc"]]
    texts["gpc"] = t.gettext(GPC_TEXT) % {"categories": format_list(off, locale=babel_locale(language))} if off else ""
    return texts


def build_config(policy: CompiledPolicy, floors: Mapping[str, int], language: str = "en") -> BannerConfig:
    """The banner configuration of `policy` with its fixed wording in `language` (a catalogue code from
    `resolve_language`; English without one); `floors` are the re-consent floors (purpose → oldest version
    whose consent still counts, `consent.reconsent`): a stored choice older than the highest floor of the
    banner's purposes is asked again (ISO/IEC 29184 5.5.3)."""
    t = load_translations(language)
    by_category: dict[CookieCategory, list[Cookie]] = {c: [] for c in CookieCategory}
    for cookie in policy.document.cookies:
        by_category[cookie.category].append(cookie)
    categories = [_category(policy, c, cookies, t) for c, cookies in by_category.items() if cookies]
    banner_purposes = {p for c in categories for p in c["purposes"]}
    controller = policy.document.controller
    store = controller.trading_name or controller.legal_name
    config = {
        "version": policy.version or 0,
        "min_version": max((floors.get(p, 0) for p in banner_purposes), default=0),
        "ask_again_after_days": ASK_AGAIN_AFTER_DAYS,
        "cookie": CONSENT_COOKIE,
        "language": policy.document.language,
        "store": store,
        "lang": language.replace("_", "-"),  # the language of "text" and the categories' fixed names
        "text": _texts(t, language, store, categories),
        "categories": categories,
    }
    body = json.dumps(config, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    optional = {c["id"]: frozenset(c["purposes"]) for c in categories if c["optional"]}
    return BannerConfig(body=body, etag=etag, categories=optional)


def accepted_categories(categories: Mapping[str, frozenset[str]], granted: Iterable[str]) -> list[str]:
    """The optional categories whose every consent purpose is among `granted`, in a stable order."""
    given = set(granted)
    return sorted(c for c, purposes in categories.items() if purposes and purposes <= given)


@dataclass(frozen=True)
class StoredChoice:
    """The consent cookie's value read back: what `consent_cookie` wrote (or `/banner.js`)."""

    visitor_id: str
    version: int
    chosen_at: int
    categories: tuple[str, ...]


def read_consent_cookie(value: str | None) -> StoredChoice | None:
    """The consent cookie's parts, or None when it is absent or not of the one format (never trusted further)."""
    parts = (value or "").split(".")
    if len(parts) != 4 or not VISITOR_ID_RE.fullmatch(parts[0]) or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    if len(parts[1]) > 10 or len(parts[2]) > 12 or len(parts[3]) > 200:
        return None
    categories = tuple(c for c in parts[3].split("-") if c)
    return StoredChoice(parts[0], int(parts[1]), int(parts[2]), categories)


def consent_cookie(visitor_id: str, version: int, chosen_at: int, categories: Sequence[str], *, secure: bool) -> str:
    """The `Set-Cookie` value for the consent cookie (RFC 6265 cookie-octets only: `.` and `-` separate).

    Set by the server because Safari caps cookies a script writes at seven days (ITP), which would erase
    the choice and ask again within a week; `/banner.js` writes the same value where no answer sets it.
    Not HttpOnly: the script reads it to know the choice before it loads any tag.
    """
    value = f"{visitor_id}.{version}.{chosen_at}.{'-'.join(categories)}"
    attributes = [f"{CONSENT_COOKIE}={value}", "Path=/", f"Max-Age={COOKIE_MAX_AGE}", "SameSite=Lax"]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)
