"""Rendering the privacy center's pages: Jinja2 with autoescape, the gettext catalogue, a nonce per response.

The fixed text is English msgids translated through `src/fiduciary/locale` (Hindi complete), like the notice
(docs/notice.md, "Translations"); values from the policy (purpose names, contacts) are the store's words and
are shown as written. The language is `?lang=` when given (only a catalogue's code, never a person's value),
else the best of Accept-Language, else the policy's own language (DPDP s.5(3)).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from fiduciary.policy.notice import negotiate_language, resolve_language
from fiduciary.policy.notice.i18n import available_languages, load_translations
from fiduciary.runtime import Runtime
from fiduciary.web.privacy_center.guard import CSRF_FIELD, new_nonce, page_headers

BASE: Final = "/privacy-center"
LANGUAGE_NAMES: Final = {"en": "English", "hi": "हिन्दी"}


@lru_cache(maxsize=8)
def environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("fiduciary.web.privacy_center", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(load_translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def explicit_language(request: Request) -> str | None:
    """The `?lang=` of the request when it names a catalogue we have."""
    asked = request.query_params.get("lang", "")
    return asked if asked in available_languages() else None


def page_language(request: Request, runtime: Runtime) -> str:
    explicit = explicit_language(request)
    if explicit is not None:
        return explicit
    negotiated = negotiate_language(request.headers.get("accept-language"))
    return negotiated or resolve_language(runtime.policy().document.language)


def link(request: Request, path: str) -> str:
    """A link within the center that keeps an explicitly chosen language."""
    language = explicit_language(request)
    return f"{path}?lang={language}" if language else path


def render(
    request: Request,
    runtime: Runtime,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    csrf: str | None = None,
) -> HTMLResponse:
    """One page, with this response's nonce in its CSP and on any inline tag (`nonce` in the template)."""
    language = page_language(request, runtime)
    nonce = new_nonce()
    languages = [(code, LANGUAGE_NAMES.get(code, code)) for code in available_languages()]
    text = (
        environment(language)
        .get_template(template)
        .render(
            **context,
            lang=language,
            nonce=nonce,
            csrf=csrf,
            csrf_field=CSRF_FIELD,
            base=BASE,
            url=lambda path: link(request, BASE + path),
            current_path=request.url.path if request.method == "GET" else BASE,
            languages=languages,
        )
    )
    headers = {**page_headers(nonce), "Content-Language": language.replace("_", "-")}
    return HTMLResponse(text, status_code=status, headers=headers)
