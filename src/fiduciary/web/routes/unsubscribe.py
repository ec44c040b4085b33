"""Routes: one-click unsubscribe links (RFC 8058) and the headers helper for the store's mailer.

- `GET /u/{token}` shows a confirmation page and changes nothing: mail security scanners fetch every link
  in a message, so a GET that unsubscribed would unsubscribe people who never clicked.
- `POST /u/{token}` withdraws at once. Mail clients send `List-Unsubscribe=One-Click` (RFC 8058 s.3.2) with
  no cookie or sign-in; the page's form posts the same body, so it works without JavaScript. It is
  idempotent. Withdrawal must be as easy as consent (DPDP s.6(4), GDPR Art 7(3)).
- `POST /v1/comms/unsubscribe-headers` (API key, consent:write) returns the headers for one message.

The public routes are rate limited per client address; the token is the only authority, so they need no
CSRF token (RFC 8058 forbids requiring any prior state). Pages send a strict Content-Security-Policy with a
per-response nonce for the one inline style, and `Referrer-Policy: no-referrer` keeps the token out of
other sites' logs.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.comms.unsubscribe import (
    MAILTO_PATTERN,
    TOKEN_PATTERN,
    InvalidToken,
    UnsubscribeToken,
    check_mailto,
    list_unsubscribe_headers,
    make_token,
    read_token,
    unsubscribe,
    unsubscribe_status,
    unsubscribe_url,
)
from fiduciary.consent.evidence import evidence_from
from fiduciary.consent.service import ConsentService
from fiduciary.decisions.ids import PERSON_ID_PATTERN
from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.people.service import get_person
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.runtime import Runtime
from fiduciary.web.contract import JSON_INTEGER, ContractRoute, PurposeId
from fiduciary.web.deps import SESSION_DEPENDENCY, request_base_url, runtime_dependency
from fiduciary.web.security import public_rate_limit, require_scopes

router = APIRouter(tags=["unsubscribe"], route_class=ContractRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_pages = Environment(
    loader=PackageLoader("fiduciary.web", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    auto_reload=False,
)
DEFAULT_VALID_DAYS = 365
# The pattern is published, not enforced by request validation: a token that does not match it cannot carry
# our signature, so `read_token` refuses it like any forged link, and a person who followed a truncated link
# gets the "not valid" page (400) instead of a JSON 422.
UnsubscribeTokenPath = Annotated[
    str,
    Path(
        description="The signed token of an unsubscribe link (base64url).",
        json_schema_extra={"pattern": TOKEN_PATTERN},
    ),
]
ONE_CLICK = "One-Click"


def secret_key(runtime: Runtime) -> bytes:
    """The HMAC key, read once per runtime (it may come from a file)."""
    return runtime.shared("comms.secret_key", bytes, runtime.settings.resolved_secret_key)


def _store_name(policy: CompiledPolicy) -> str:
    controller = policy.document.controller
    return controller.trading_name or controller.legal_name


def _contact(policy: CompiledPolicy) -> str | None:
    contacts = policy.document.contacts
    for c in (contacts.privacy_contact, contacts.data_protection_officer, contacts.grievance_officer):
        if c is not None and c.email:
            return str(c.email)
    return None


def _page(policy: CompiledPolicy, status: int, *, state: str, title: str, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _pages.get_template("unsubscribe.html").render(
        language=policy.document.language,
        store=_store_name(policy),
        contact=_contact(policy),
        state=state,
        title=title,
        nonce=nonce,
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "Cache-Control": "no-store",
            "X-Robots-Tag": "noindex, nofollow",
        },
    )


def _invalid_page(policy: CompiledPolicy, error: InvalidToken) -> HTMLResponse:
    expired = error.code == "unsubscribe_token_expired"
    return _page(
        policy,
        400,
        state="invalid",
        title="This link has expired" if expired else "This link is not valid",
        message=(
            "This unsubscribe link is too old to use."
            if expired
            else "This unsubscribe link is incomplete or was changed. Nothing was changed."
        ),
    )


def _wants_html(accept: str | None) -> bool:
    return accept is not None and "text/html" in accept


def _read(runtime: Runtime, token: str) -> UnsubscribeToken:
    return read_token(secret_key(runtime), token)


@router.get(
    "/u/{token}",
    summary="Unsubscribe confirmation page (changes nothing)",
    response_class=HTMLResponse,
    dependencies=[Depends(public_rate_limit)],
    responses={400: {"description": "Forged, expired or malformed link (an HTML page)"}, 429: _PROBLEM},
)
def confirm_page(
    token: UnsubscribeTokenPath,
    runtime: Runtime = Depends(runtime_dependency),
    session: Session = SESSION_DEPENDENCY,
) -> HTMLResponse:
    policy = runtime.policy()
    try:
        parsed = _read(runtime, token)
    except InvalidToken as error:
        return _invalid_page(policy, error)
    outcome = unsubscribe_status(session, policy, parsed)
    if outcome.status == "already_unsubscribed":
        return _page(policy, 200, state="already", title="Already unsubscribed", purpose_name=outcome.purpose_name)
    return _page(
        policy,
        200,
        state="confirm",
        title="Unsubscribe",
        purpose_name=outcome.purpose_name,
        action=f"/u/{token}",
    )


@router.post(
    "/u/{token}",
    summary="One-click unsubscribe (RFC 8058): withdraw the consent at once; idempotent",
    dependencies=[Depends(public_rate_limit)],
    responses={
        200: {"description": "Unsubscribed (JSON, or an HTML page for a browser)"},
        400: {"description": "Forged, expired or malformed link; nothing changed", **_PROBLEM},
        422: _PROBLEM,
        429: _PROBLEM,
    },
)
def one_click(
    token: UnsubscribeTokenPath,
    request: Request,
    list_unsubscribe: Annotated[str | None, Form(alias="List-Unsubscribe", max_length=32)] = None,
    accept: Annotated[str | None, Header()] = None,
    runtime: Runtime = Depends(runtime_dependency),
    session: Session = SESSION_DEPENDENCY,
) -> Any:
    policy = runtime.policy()
    try:
        parsed = _read(runtime, token)
    except InvalidToken as error:
        if _wants_html(accept):
            return _invalid_page(policy, error)
        raise
    if list_unsubscribe is not None and list_unsubscribe != ONE_CLICK:
        raise ValidationFailed(
            "Unknown List-Unsubscribe value.",
            [FieldProblem("body.List-Unsubscribe", "must be One-Click (RFC 8058)")],
        )
    evidence = evidence_from(request.headers.get("user-agent"), request.client.host if request.client else None)
    outcome = unsubscribe(session, ConsentService.for_runtime(runtime), parsed, evidence=evidence)
    if _wants_html(accept):
        if outcome.status == "unsubscribed":
            return _page(policy, 200, state="done", title="You are unsubscribed", purpose_name=outcome.purpose_name)
        return _page(policy, 200, state="already", title="Already unsubscribed", purpose_name=outcome.purpose_name)
    return JSONResponse(
        {"purpose": outcome.purpose, "status": outcome.status, "ledger_position": outcome.ledger_position},
        headers={"Cache-Control": "no-store"},
    )


class HeadersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: str = Field(pattern=PERSON_ID_PATTERN, description="The recipient's person id.")
    purpose: PurposeId = Field(description="The consent purpose the message is sent under.")
    mailto: str | None = Field(
        default=None,
        max_length=254,
        pattern=MAILTO_PATTERN,
        description="An address that also unsubscribes (listed after the link).",
    )
    valid_days: Annotated[int, JSON_INTEGER] = Field(
        default=DEFAULT_VALID_DAYS,
        ge=30,
        le=3650,
        description="How long the link works; at least 30 days (CAN-SPAM 16 CFR 316.5 asks for 30).",
    )


class HeadersOut(BaseModel):
    headers: dict[str, str] = Field(description="Add these to the message; DKIM must sign both.")
    url: str
    expires_at: datetime


@router.post(
    "/v1/comms/unsubscribe-headers",
    summary="List-Unsubscribe and List-Unsubscribe-Post headers for one outgoing message",
    response_model=HeadersOut,
    responses={404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
def unsubscribe_headers(
    body: HeadersIn,
    request: Request,
    _key: ApiKey = Depends(require_scopes(Scope.CONSENT_WRITE)),
    runtime: Runtime = Depends(runtime_dependency),
    session: Session = SESSION_DEPENDENCY,
) -> HeadersOut:
    if body.mailto is not None:
        try:
            check_mailto(body.mailto)
        except ValueError:
            raise ValidationFailed(
                "The mailto address is malformed.", [FieldProblem("body.mailto", "must be a bare address")]
            ) from None
    policy = runtime.policy()
    cp = policy.compiled_purposes.get(body.purpose)
    if cp is None:
        raise ValidationFailed(
            "Unknown purpose. Valid purposes for consent: " + ", ".join(sorted(policy.consent_purposes)) + ".",
            [FieldProblem("body.purpose", "is not a purpose of the policy in force")],
        )
    if not cp.needs_consent:
        raise Conflict(
            f"Purpose '{body.purpose}' runs on {cp.legal_ground.value.replace('_', ' ')}, not consent; there is "
            "no consent for a link to withdraw (a person objects through POST /v1/people/{id}/restrictions).",
            code="purpose_not_consent_based",
            fields=[FieldProblem("body.purpose", f"legal ground is {cp.legal_ground.value}")],
        )
    get_person(session, body.subject_id, field="body.subject_id")
    expires_at = (datetime.now(UTC) + timedelta(days=body.valid_days)).replace(microsecond=0)
    token = make_token(secret_key(runtime), body.subject_id, body.purpose, expires_at=expires_at)
    base = request_base_url(request)
    headers = list_unsubscribe_headers(base, token, mailto=body.mailto)
    return HeadersOut(headers=headers, url=unsubscribe_url(base, token), expires_at=expires_at)
