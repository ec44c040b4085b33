"""Routes: proving who a customer is, and the customer session that proof opens (issue 13 item 2).

- `POST /v1/identity/codes` (public): a one-time code to an email or phone on file. The same 202 for an
  identifier nobody holds (a decoy challenge), answered no earlier than `ANSWER_FLOOR_SECONDS` after the
  start, whoever holds it: neither the answer nor its timing tells a stranger who is a customer (GDPR Art
  12(6) and DPDP Rule 14 ask us to verify the requester, not to reveal our customers).
- `POST /v1/identity/sessions` (public): the code for a customer session (`cst_…`, 30 minutes).
- `POST /v1/people/{person_id}/sessions` (`sessions:write`): the store's backend vouches for the customer
  signed in on its site and gets a session for them, without a code.
- `GET` and `DELETE /v1/identity/sessions/current` (the customer session): who am I; sign out.

Requests and answers carry ids, codes and times; the identifier, the code and the token never reach a log,
an audit event or an error message. docs/identity.md.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.errors import ValidationFailed
from fiduciary.identity.codes import MAX_ATTEMPTS, Issued, Verdict, Verification, issue_code, verify_code
from fiduciary.identity.sessions import (
    CustomerSession,
    OpenedSession,
    VerifiedBy,
    open_session,
    revoke,
    verified_by_code,
)
from fiduciary.runtime import Runtime
from fiduciary.vault.identifiers import MAX_IDENTIFIER_CHARS
from fiduciary.web.contract import ContractRoute, LanguageTag, PersonIdPath
from fiduciary.web.customer import customer_session_dependency
from fiduciary.web.deps import SESSION_DEPENDENCY, database_gate, run_request_work, runtime_dependency
from fiduciary.web.problems import problem_response, request_instance
from fiduciary.web.routes.audit import request_id
from fiduciary.web.security import client_key, public_rate_limit, require_scopes

router = APIRouter(tags=["identity"], route_class=ContractRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
NO_STORE = {"Cache-Control": "no-store"}  # an answer holding a token is kept by no cache (RFC 9111 s.5.2.2.5)


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["email", "phone"] = Field(description="Which identifier on file receives the code.")
    identifier: Annotated[str, StringConstraints(min_length=1, max_length=MAX_IDENTIFIER_CHARS)] = Field(
        description="The email address or phone number (E.164, or national for the store's country)."
    )
    language: LanguageTag | None = Field(default=None, description="The message's language, when the policy has it.")


class ChallengeOut(BaseModel):
    challenge_id: str = Field(description="`vc_` + 32 hex digits: send it back with the code.")
    expires_at: datetime = Field(description="When the code stops working (10 minutes).")


ChallengeId = Annotated[
    str, StringConstraints(pattern=r"^vc_[0-9a-f]{32}$"), Field(description="The `challenge_id` of the code.")
]
Code = Annotated[
    str,
    StringConstraints(pattern=r"^ *(?:[0-9] *){6}$", max_length=24),
    Field(description="The 6-digit code as received (spaces are ignored)."),
]


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: ChallengeId
    code: Code


class OpenedOut(BaseModel):
    token: str = Field(
        description="The bearer token (`Authorization: Bearer cst_…`), shown this once; keep it in memory only."
    )
    session_id: str = Field(description="`cs_` + 32 hex digits.")
    expires_at: datetime = Field(description="30 minutes after opening; use does not extend it.")


class SessionOut(BaseModel):
    session_id: str
    person_id: str
    verified_by: VerifiedBy = Field(description="`signed_in_session`, `email_otp` or `sms_otp`.")
    expires_at: datetime


def _issue_and_commit(runtime: Runtime, body: CodeRequest, client: str) -> Issued:
    with runtime.sessions() as session:
        try:
            issued = issue_code(
                runtime,
                session,
                kind=body.kind,
                identifier=body.identifier,
                client_address=client,
                language=body.language,
            )
        except ValidationFailed as exc:  # the domain names `identifier`; the request's field is `body.identifier`
            raise ValidationFailed(exc.detail, [replace(p, field=f"body.{p.field}") for p in exc.fields]) from None
        session.commit()  # the challenge and its message together, before the answer
    return issued


@router.post(
    "/v1/identity/codes",
    status_code=202,
    summary="Send a one-time code to an email or phone on file (the same answer for one nobody holds)",
    response_model=ChallengeOut,
    responses={422: _PROBLEM, 429: _PROBLEM},
)
async def request_code(
    request: Request,
    body: CodeRequest,
    _limited: None = Depends(public_rate_limit),
    runtime: Runtime = Depends(runtime_dependency),
) -> JSONResponse:
    # Its own transaction instead of the request's: the wait below must not hold the SQLite database gate.
    gate = database_gate(request.app)
    if gate is None:
        issued = await run_request_work(request, _issue_and_commit, runtime, body, client_key(request))
    else:
        async with gate.exclusive():
            issued = await run_request_work(request, _issue_and_commit, runtime, body, client_key(request))
    # `identity.codes.pace`, without holding a thread: known and unknown identifiers answer at the same time.
    await anyio.sleep(max(0.0, issued.answer_at - time.monotonic()))
    out = ChallengeOut(challenge_id=issued.challenge_id, expires_at=issued.expires_at)
    return JSONResponse(out.model_dump(mode="json"), status_code=202, headers=NO_STORE)


# verdict -> (status, title, detail)
_REFUSALS: dict[Verdict, tuple[int, str, str]] = {
    Verdict.WRONG: (401, "Unauthorized", "The code is not right."),
    Verdict.EXPIRED: (401, "Unauthorized", "The code has expired; ask for a new one."),
    Verdict.CONSUMED: (401, "Unauthorized", "The code was already used; ask for a new one."),
    Verdict.LOCKED: (403, "Forbidden", f"The code was tried {MAX_ATTEMPTS} times and is locked; ask for a new one."),
}


def _refused(request: Request, result: Verification) -> JSONResponse:
    status, title, detail = _REFUSALS[result.verdict]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem_response(
        status,
        title,
        detail,
        f"code_{result.verdict.value}",
        request_instance(request),
        headers=headers,
        extensions={"verdict": result.verdict.value, "attempts_left": result.attempts_left},
    )


def _opened(opened: OpenedSession) -> JSONResponse:
    out = OpenedOut(token=opened.token, session_id=opened.session_id, expires_at=opened.expires_at)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=NO_STORE)


@router.post(
    "/v1/identity/sessions",
    status_code=201,
    summary="Trade a one-time code for a customer session (401 wrong/expired/used code, 403 locked)",
    response_model=OpenedOut,
    responses={401: _PROBLEM, 403: _PROBLEM, 422: _PROBLEM, 429: _PROBLEM},
)
def open_session_with_code(
    request: Request,
    body: SessionRequest,
    _limited: None = Depends(public_rate_limit),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> JSONResponse:
    result = verify_code(runtime, session, body.challenge_id, body.code)  # commits: the attempt counts
    if result.verdict is not Verdict.OK or result.person_id is None:
        return _refused(request, result)
    opened = open_session(
        runtime,
        session,
        person_id=result.person_id,
        verified_by=verified_by_code(session, body.challenge_id),
        request_id=req_id,
        client_address=client_key(request),
    )
    return _opened(opened)


@router.post(
    "/v1/people/{person_id}/sessions",
    status_code=201,
    summary="Open a customer session for the customer signed in on the store's site (the backend vouches)",
    response_model=OpenedOut,
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def open_session_for_signed_in(
    person_id: PersonIdPath,
    key: ApiKey = Depends(require_scopes(Scope.SESSIONS_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> JSONResponse:
    opened = open_session(
        runtime,
        session,
        person_id=person_id,
        verified_by=VerifiedBy.SIGNED_IN_SESSION,
        actor=key.id,
        request_id=req_id,
    )
    return _opened(opened)


@router.get(
    "/v1/identity/sessions/current",
    summary="Who am I: the customer session's person and how they were verified",
    response_model=SessionOut,
    responses={401: _PROBLEM, 429: _PROBLEM},
)
async def current_session(customer: CustomerSession = Depends(customer_session_dependency)) -> SessionOut:
    return SessionOut(
        session_id=customer.session_id,
        person_id=customer.person_id,
        verified_by=VerifiedBy(customer.verified_by),
        expires_at=customer.expires_at,
    )


@router.delete(
    "/v1/identity/sessions/current",
    status_code=204,
    summary="Sign out: revoke the customer session",
    response_class=Response,
    responses={401: _PROBLEM, 429: _PROBLEM},
)
def end_current_session(
    customer: CustomerSession = Depends(customer_session_dependency),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> Response:
    revoke(runtime, session, customer.session_id, request_id=req_id)
    return Response(status_code=204)
