"""Routes: the public privacy notice of the policy in force, at /privacy (HTML), /privacy.md and /privacy.json.

The notice is rendered from the current published version with its history, so what a person reads is
exactly what the system enforces (DPDP s.5, Rule 3). The page needs no script, so it is served under a
Content-Security-Policy that allows none.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from fiduciary.policy import versions
from fiduciary.policy.notice import (
    NoticeFormat,
    negotiate_language,
    notice_versions,
    render_notice,
    resolve_language,
)
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY, request_base_url
from fiduciary.web.problems import problem_response, request_instance
from fiduciary.web.security import public_rate_limit

# A public page: anyone may read it, so it is rate limited per client address like every public endpoint.
router = APIRouter(tags=["notice"], dependencies=[Depends(public_rate_limit)], route_class=ContractRoute)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MEDIA_TYPES: dict[NoticeFormat, str] = {
    "html": "text/html; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "json": "application/json",
}

LanguageQuery = Annotated[
    str | None,
    Query(
        max_length=35,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="Language of the notice (BCP 47, e.g. `hi`); overrides Accept-Language. "
        "Languages without a catalogue fall back to English.",
    ),
]


class _RenderCache:
    """Rendered notices by (published versions, format, language, base URL).

    A published version is immutable and identified by its content hash, so a rendering can be reused
    until a new version is published, which changes the key.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[tuple[object, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> str | None:
        with self._lock:
            text = self._items.get(key)
            if text is not None:
                self._items.move_to_end(key)
            return text

    def put(self, key: tuple[object, ...], text: str) -> None:
        with self._lock:
            self._items[key] = text
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_cache = _RenderCache()


def _choose_language(request: Request, lang: str | None, default: str) -> str:
    if lang:
        return resolve_language(lang)
    return negotiate_language(request.headers.get("accept-language")) or resolve_language(default)


def _notice(request: Request, session: Session, fmt: NoticeFormat, lang: str | None) -> Response:
    current = versions.current(session)
    if current is None:
        return problem_response(
            503,
            "No published policy",
            "No policy version has been published yet; publish one with `fiduciary policy publish FILE`.",
            "policy_not_published",
            request_instance(request),
            headers={"Retry-After": "60", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
    language = _choose_language(request, lang, current.document.language)
    published = versions.history(session)
    base_url = request_base_url(request)
    key = (
        tuple((p.version, p.content_hash) for p in published),
        current.version,
        fmt,
        language,
        base_url,
    )
    text = _cache.get(key)
    if text is None:
        text = render_notice(
            current.document,
            fmt,
            history=notice_versions(published),
            language=language,
            base_url=base_url,
            current=current.version,
        )
        _cache.put(key, text)
    etag = '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": "public, max-age=300",
        "Vary": "Accept-Language",
        "Content-Language": language.replace("_", "-"),
        "ETag": etag,
    }
    if_none_match = request.headers.get("if-none-match", "")
    if etag in [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(content=text, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/privacy", response_class=Response, summary="The privacy notice (HTML)")
def privacy_html(request: Request, lang: LanguageQuery = None, session: Session = SESSION_DEPENDENCY) -> Response:
    """The privacy notice of the policy in force, as a standalone page."""
    return _notice(request, session, "html", lang)


@router.get("/privacy.md", response_class=Response, summary="The privacy notice (Markdown)")
def privacy_markdown(request: Request, lang: LanguageQuery = None, session: Session = SESSION_DEPENDENCY) -> Response:
    """The privacy notice of the policy in force, as Markdown."""
    return _notice(request, session, "markdown", lang)


@router.get("/privacy.json", response_class=Response, summary="The privacy notice (JSON view model)")
def privacy_json(request: Request, lang: LanguageQuery = None, session: Session = SESSION_DEPENDENCY) -> Response:
    """The privacy notice of the policy in force, as the structured data the pages are rendered from."""
    return _notice(request, session, "json", lang)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon, said explicitly: browsers ask for /favicon.ico on every page, and a 404 would be logged
    as an error in the console of every notice reader (the browser test checks the console is clean)."""
    return Response(status_code=204, headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"})
