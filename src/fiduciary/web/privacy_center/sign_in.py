"""The privacy center's sign-in by one-time code, and sign-out (issue 14 items 1 and 5).

An email or phone goes in a POST body only; `identity.codes.issue_code` sends the code (the same page for an
identifier nobody holds, answered no earlier than its pace, without holding SQLite's writer gate, as
`POST /v1/identity/codes` does). The right code opens a NEW customer session (`identity.sessions`), whose
token goes in the HttpOnly cookie: a session id set before sign-in is never taken over (session fixation),
and a session this browser still held is revoked. Signing out revokes the session and clears the cookie.
GDPR Art 12(6) and DPDP Rule 14: the requester is verified before any of their data is shown.
"""

from __future__ import annotations

import re
import time
from typing import Final

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from fiduciary.errors import ValidationFailed
from fiduciary.identity.codes import Issued, TooManyCodes, Verdict, issue_code, verify_code
from fiduciary.identity.sessions import LIFETIME, SessionRefused, authenticate, open_session, revoke, verified_by_code
from fiduciary.runtime import Runtime
from fiduciary.vault.identifiers import MAX_IDENTIFIER_CHARS
from fiduciary.web.deps import SESSION_DEPENDENCY, database_gate, run_request_work, runtime_dependency
from fiduciary.web.privacy_center.banner_sync import link_browser_visitor, sync_banner_cookie
from fiduciary.web.privacy_center.guard import (
    CSRF_FIELD,
    PRE_COOKIE,
    PRE_COOKIE_SECONDS,
    SESSION_COOKIE,
    Posted,
    check_csrf,
    cookie_token,
    csrf_token,
    form_fields,
    new_pre_value,
    pre_binding,
    signed_in_post,
)
from fiduciary.web.privacy_center.pages import BASE, explicit_language, link, render
from fiduciary.web.routes.audit import request_id
from fiduciary.web.security import client_key, public_rate_limit

router = APIRouter(prefix=BASE, include_in_schema=False, dependencies=[Depends(public_rate_limit)])

_CHALLENGE: Final = re.compile(r"^vc_[0-9a-f]{32}$")
_CODE: Final = re.compile(r"^ *(?:[0-9] *){6}$")


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    """`__Host-` cookies: Secure, Path=/, no Domain; HttpOnly and SameSite=Strict as well."""
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict")


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")


def _sign_in_page(request: Request, runtime: Runtime, *, error: str | None = None, status: int = 200) -> Response:
    """The identifier form, bound to this browser's pre-session cookie (made afresh when it has none)."""
    binding = pre_binding(request)
    value = None
    if binding is None:
        value = new_pre_value()
        binding = f"pre:{value}"
    response = render(
        request, runtime, "sign_in.html.j2", {"error": error}, status=status, csrf=csrf_token(runtime, binding)
    )
    if value is not None:
        set_cookie(response, PRE_COOKIE, value, PRE_COOKIE_SECONDS)
    return response


def _code_page(
    request: Request, runtime: Runtime, challenge_id: str, *, error: str | None = None, status: int = 200
) -> Response:
    binding = pre_binding(request) or ""
    context = {"challenge_id": challenge_id, "error": error}
    return render(request, runtime, "code.html.j2", context, status=status, csrf=csrf_token(runtime, binding))


@router.get("/sign-in")
def sign_in_form(request: Request, runtime: Runtime = Depends(runtime_dependency)) -> Response:
    """The sign-in form: an email or a phone on file."""
    return _sign_in_page(request, runtime)


def _issue_and_commit(runtime: Runtime, kind: str, identifier: str, client: str, language: str | None) -> Issued:
    with runtime.sessions() as session:
        issued = issue_code(
            runtime, session, kind=kind, identifier=identifier, client_address=client, language=language
        )
        session.commit()  # the challenge and its message together, before the answer
    return issued


@router.post("/sign-in")
async def sign_in(
    request: Request,
    fields: dict[str, str] = Depends(form_fields),
    runtime: Runtime = Depends(runtime_dependency),
) -> Response:
    """Send a code; the next page asks for it, whoever holds the identifier (or nobody)."""
    check_csrf(runtime, pre_binding(request), fields.get(CSRF_FIELD))
    kind, identifier = fields.get("kind", ""), fields.get("identifier", "").strip()
    if kind not in ("email", "phone") or not identifier or len(identifier) > MAX_IDENTIFIER_CHARS:
        return _sign_in_page(request, runtime, error="identifier", status=422)
    args = (runtime, kind, identifier, client_key(request), explicit_language(request))
    gate = database_gate(request.app)
    try:
        if gate is None:
            issued = await run_request_work(request, _issue_and_commit, *args)
        else:
            async with gate.exclusive():
                issued = await run_request_work(request, _issue_and_commit, *args)
    except ValidationFailed:
        return _sign_in_page(request, runtime, error="identifier", status=422)
    except TooManyCodes:
        return _sign_in_page(request, runtime, error="too_many", status=429)
    # `identity.codes.pace`, without holding a thread or the gate: known and unknown identifiers alike.
    await anyio.sleep(max(0.0, issued.answer_at - time.monotonic()))
    return _code_page(request, runtime, issued.challenge_id)


def _revoke_previous(request: Request, runtime: Runtime, session: Session, req_id: str) -> None:
    """A session this browser still holds ends when another one opens (one person per browser at a time)."""
    token = cookie_token(request)
    if token is None:
        return
    try:
        previous = authenticate(runtime, session, token)
    except SessionRefused:
        return
    revoke(runtime, session, previous.session_id, request_id=req_id)


@router.post("/sign-in/code")
def enter_code(
    request: Request,
    fields: dict[str, str] = Depends(form_fields),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> Response:
    """The code for a new customer session in the cookie, then the overview (303, so a reload posts nothing)."""
    check_csrf(runtime, pre_binding(request), fields.get(CSRF_FIELD))
    challenge_id, code = fields.get("challenge_id", ""), fields.get("code", "")
    if not _CHALLENGE.fullmatch(challenge_id):
        return _sign_in_page(request, runtime, error="expired", status=422)
    if len(code) > 24 or not _CODE.fullmatch(code):
        return _code_page(request, runtime, challenge_id, error="format", status=422)
    result = verify_code(runtime, session, challenge_id, code)  # commits: the attempt counts
    if result.verdict is Verdict.WRONG:
        return _code_page(request, runtime, challenge_id, error="wrong", status=401)
    if result.verdict is not Verdict.OK or result.person_id is None:
        return _sign_in_page(request, runtime, error=result.verdict.value, status=401)
    _revoke_previous(request, runtime, session, req_id)
    opened = open_session(
        runtime,
        session,
        person_id=result.person_id,
        verified_by=verified_by_code(session, challenge_id),
        request_id=req_id,
        client_address=client_key(request),
    )
    response = RedirectResponse(link(request, BASE), status_code=303, headers={"Cache-Control": "no-store"})
    set_cookie(response, SESSION_COOKIE, opened.token, int(LIFETIME.total_seconds()))
    clear_cookie(response, PRE_COOKIE)
    link_browser_visitor(runtime, session, request, result.person_id)  # the banner's choices are the person's
    sync_banner_cookie(runtime, session, request, result.person_id, response)
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    posted: Posted = Depends(signed_in_post),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> Response:
    """Revoke the session and forget the cookie."""
    revoke(runtime, session, posted.customer.session_id, request_id=req_id)
    response = RedirectResponse(link(request, BASE + "/sign-in"), status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


def signed_out_redirect(request: Request) -> Response:
    """Where a page sends someone without a valid session: the sign-in form (the bad cookie cleared)."""
    response = RedirectResponse(
        link(request, BASE + "/sign-in"), status_code=303, headers={"Cache-Control": "no-store"}
    )
    if SESSION_COOKIE in request.cookies:
        clear_cookie(response, SESSION_COOKIE)
    return response


def csrf_refused_page(request: Request, runtime: Runtime) -> HTMLResponse:
    return render(request, runtime, "refused.html.j2", {}, status=403)
