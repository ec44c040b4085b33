"""Routes: the cookie banner, its script, style and configuration, and the endpoint that records its choices.

`/banner.js` and `/banner.css` are static (docs/banner.md); `/v1/banner/config` is the policy's cookie
catalogue grouped by category (`web.banner_config`). `POST /v1/banner/consents` records an anonymous
visitor's choices in the consent ledger (origin-checked, rate limited) and answers with the consent cookie,
so that the choice outlives Safari's seven-day cap on cookies a script writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.consent.flows import record_with_gpc
from fiduciary.consent.reconsent import reconsent_floors
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.people.service import new_visitor_id
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.notice import negotiate_language, resolve_language
from fiduciary.storage.base import utcnow
from fiduciary.web.banner_config import BannerConfig, accepted_categories, build_config, consent_cookie
from fiduciary.web.contract import ContractRoute, LanguageTag, VisitorIdField, allowed_methods
from fiduciary.web.deps import SESSION_DEPENDENCY, joins_group_commit, request_base_url, run_request_work
from fiduciary.web.routes.consent import (
    MAX_ACTIONS,
    ActionIn,
    ConsentRequest,
    ConsentResponse,
    GpcHeader,
    _gpc,
    _inputs,
    _locator,
    _reply,
    _request_evidence,
    _subject_json,
    banner_origin,
    check_origin,
    consent_service,
)
from fiduciary.web.security import cross_origin, public_rate_limit

router = APIRouter(tags=["banner"], route_class=ContractRoute)

ASSET_CACHE = "public, max-age=3600"  # a fixed URL: a new release reaches visitors within the hour
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"  # `?v=<hash>` names one content for ever
CONFIG_CACHE = "public, max-age=300"  # a new policy version reaches visitors within five minutes


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    version: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _load(name: str, media_type: str) -> _Asset:
    body = files("fiduciary.web").joinpath(f"static/banner/{name}").read_bytes()
    return _Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])


# Read once at import: the files ship with the package and change only with a release.
ASSETS = {
    "banner.js": _load("banner.js", "text/javascript; charset=utf-8"),
    "banner.css": _load("banner.css", "text/css; charset=utf-8"),
}

VersionQuery = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^[0-9a-f]{1,64}$", description="The content hash: cached for a year."),
]


def _not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return etag in [tag.strip().removeprefix("W/") for tag in given.split(",")]


def _asset(request: Request, name: str, version: str | None) -> Response:
    asset = ASSETS[name]
    cache = IMMUTABLE_CACHE if version == asset.version else ASSET_CACHE
    headers = {"Cache-Control": cache, "ETag": asset.etag, "Cross-Origin-Resource-Policy": "cross-origin"}
    if _not_modified(request, asset.etag):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get(
    "/banner.js",
    response_class=Response,
    summary="The cookie banner script (one <script> tag embeds it; docs/banner.md)",
    dependencies=[Depends(public_rate_limit)],
)
def banner_js(request: Request, v: VersionQuery = None) -> Response:
    """Vanilla JavaScript, no dependency; reads `/v1/banner/config` from the origin it was loaded from."""
    return _asset(request, "banner.js", v)


@router.get(
    "/banner.css",
    response_class=Response,
    summary="The cookie banner stylesheet (loaded by /banner.js)",
    dependencies=[Depends(public_rate_limit)],
)
def banner_css(request: Request, v: VersionQuery = None) -> Response:
    """The banner's style; `/banner.js` links it with `?v=` its content hash."""
    return _asset(request, "banner.css", v)


LanguageQuery = Annotated[
    str | None,
    Query(
        max_length=35,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="Language of the banner's fixed wording (BCP 47, e.g. `hi`); `/banner.js` sends the page's"
        " `<html lang>` or the browser's language. Without a catalogue for it: Accept-Language, then the"
        " policy's language, then English. The policy's own texts stay in the policy's language.",
    ),
]


def banner_language(lang: str | None, accept_language: str | None, policy_language: str) -> tuple[str, bool]:
    """The catalogue for the banner's fixed wording and whether Accept-Language chose it (then `Vary`).

    DPDP s.5(3): the person may read the notice in English or an Eighth-Schedule language; the page's own
    language is the best guess of the one they read, the browser's preference the next.
    """
    asked = negotiate_language(lang) if lang else None
    if asked:
        return asked, False
    negotiated = negotiate_language(accept_language)
    return (negotiated or resolve_language(policy_language)), True


def current_config(session: Session, service: ConsentService, language: str = "en") -> BannerConfig:
    """The banner configuration of the policy in force (raises `NoPolicyInForce` when none is)."""
    return build_config(service.policy(), reconsent_floors(session), language)


@router.get(
    "/v1/banner/config",
    response_class=Response,
    summary="Cookie banner configuration: the policy's cookie categories, purposes and cookies",
    dependencies=[Depends(public_rate_limit)],
)
@cross_origin(banner_origin)
def banner_config(
    request: Request,
    lang: LanguageQuery = None,
    session: Session = SESSION_DEPENDENCY,
    service: ConsentService = Depends(consent_service),
) -> Response:
    """What `/banner.js` shows, with the policy version it must record and the stylesheet's version."""
    policy_language = service.policy().document.language
    language, negotiated = banner_language(lang, request.headers.get("accept-language"), policy_language)
    config = current_config(session, service, language)
    # The ETag is the body's hash, so each language has its own; a cache keys on the URL (`?lang=`) and,
    # when the header chose the language, on Accept-Language too.
    headers = {"Cache-Control": CONFIG_CACHE, "ETag": config.etag, "Content-Language": language.replace("_", "-")}
    if negotiated:
        headers["Vary"] = "Accept-Language"
    if _not_modified(request, config.etag):
        return Response(status_code=304, headers=headers)
    css = ASSETS["banner.css"].version
    body = config.body[:-1] + b',"css":"' + css.encode("ascii") + b'"}'
    return Response(body, media_type="application/json", headers=headers)


# ------------------------------------------------------------------------------------------------ choices

_categories_by_policy: dict[str, Mapping[str, frozenset[str]]] = {}


def optional_categories(policy: CompiledPolicy) -> Mapping[str, frozenset[str]]:
    """Optional category → its consent purposes, per policy content (floors do not change them)."""
    found = _categories_by_policy.get(policy.content_hash)
    if found is None:
        found = _categories_by_policy[policy.content_hash] = build_config(policy, {}).categories
    return found


def consent_cookie_secure(request: Request, base_url: str | None = None) -> bool:
    """Whether the consent cookie gets `Secure`: the service is reached over https (`base_url`: the
    request's `request_base_url`, when the caller has it already)."""
    base = request_base_url(request) if base_url is None else base_url
    return base.startswith("https:") or request.scope.get("scheme") == "https"


class BannerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visitor_id: VisitorIdField | None = Field(
        default=None, description="The visitor id this browser was given; omit on first visit."
    )
    language: LanguageTag | None = None
    policy_version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        strict=True,
        description="The policy version the banner showed. A version other than the one in force is refused"
        " (409 `policy_version_stale`) and nothing is recorded: the ledger holds the version the visitor saw.",
    )
    actions: list[ActionIn] = Field(min_length=1, max_length=MAX_ACTIONS)


class BannerResponse(ConsentResponse):
    visitor_id: str


@router.options("/v1/banner/consents", include_in_schema=False)
@cross_origin(banner_origin)
def banner_preflight(request: Request) -> Response:
    """CORS preflight; Access-Control-Allow-Origin and Vary come from `cross_origin` like on every answer."""
    response = Response(status_code=204, headers={"Allow": allowed_methods(request.app, "/v1/banner/consents")})
    if banner_origin(request):
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _check_choice(body: BannerRequest, visitor_id: str, version: int | None) -> None:
    if not visitor_id.startswith("vis_"):
        raise ValidationFailed(
            "The banner records choices of anonymous visitors only.",
            [FieldProblem("body.visitor_id", "must be a visitor id 'vis_…'")],
        )
    if body.policy_version is not None and body.policy_version != version:
        # GDPR Art 7(1), DPDP s.6: the ledger must show the notice the person saw; a banner showing an older
        # version asks again with the current one rather than have its choice filed under a text not shown.
        raise Conflict(
            "The banner showed another policy version than the one in force; reload its configuration and ask again.",
            code="policy_version_stale",
            fields=[FieldProblem("body.policy_version", f"the version in force is {version}")],
        )
    purposes = [a.purpose for a in body.actions]
    if len(set(purposes)) != len(purposes):
        first = next(i for i, p in enumerate(purposes) if purposes.index(p) != i)
        raise ValidationFailed(
            "Each purpose may be chosen once per banner answer.",
            [FieldProblem(f"body.actions.{first}.purpose", "chosen twice")],
        )


@router.post(
    "/v1/banner/consents",
    status_code=201,
    summary="Cookie banner: record an anonymous visitor's choices (no API key; rate limited, origin-checked)",
    response_model=BannerResponse,
    responses={409: {"description": "Not a consent purpose, or a policy version other than the one in force"}},
    dependencies=[Depends(public_rate_limit), Depends(check_origin)],
)
@cross_origin(banner_origin)  # every answer, errors too, readable by the store's page (docs/consent.md)
@joins_group_commit
async def banner_consents(
    body: BannerRequest,
    request: Request,
    session: Session = SESSION_DEPENDENCY,
    service: ConsentService = Depends(consent_service),
    _sec_gpc: GpcHeader = None,
) -> Response:
    # Async so that on SQLite one visitor's choices are recorded inline under the database gate
    # (`run_request_work`: no thread hand-offs, as for POST /v1/consents); elsewhere in a worker thread.
    return await run_request_work(request, _record_choice, body, request, session, service)


def _record_choice(body: BannerRequest, request: Request, session: Session, service: ConsentService) -> Response:
    visitor_id = body.visitor_id or new_visitor_id()
    policy = service.policy()
    _check_choice(body, visitor_id, policy.version)
    evidence = _request_evidence(request)
    signals = [(visitor_id, evidence)] if _gpc(request) else []
    request_model = ConsentRequest(
        subject_id=visitor_id,
        channel=ConsentChannel.BANNER,
        language=body.language,
        actions=body.actions,
    )
    items, origins = _inputs(request_model, evidence, policy.document.language, "body")

    def locate(index: int, name: str) -> str:
        return "body.visitor_id" if name == "subject_id" else _locator(origins)(index, name)

    base_url = request_base_url(request)
    minted = frozenset() if body.visitor_id else frozenset([visitor_id])
    results = record_with_gpc(
        service, session, items, gpc_signals=signals, locate=locate, base_url=base_url, new_visitors=minted
    )
    response = _reply(_subject_json(visitor_id, results, visitor_id=visitor_id))
    granted = [a.purpose for a in body.actions if a.action == "grant"]
    categories = accepted_categories(optional_categories(policy), granted)
    chosen_at = int(utcnow().timestamp())
    cookie = consent_cookie(
        visitor_id, policy.version or 0, chosen_at, categories, secure=consent_cookie_secure(request, base_url)
    )
    response.headers.append("Set-Cookie", cookie)
    return response
