"""Routes: rights requests, for the store's backend and its privacy staff (`rights:manage`), and the two
public steps of an identity check by code (the person enters the code they were sent).

Every route translates: the steps are `fiduciary.rights.request_flows`, the same the CLI calls.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.decisions.ids import PERSON_ID_PATTERN
from fiduciary.errors import FiduciaryError
from fiduciary.identity.codes import Verdict, Verification
from fiduciary.rights import request_flows as flows
from fiduciary.rights.listing import MAX_PAGE, RequestFilter, list_requests
from fiduciary.rights.requests import REQUEST_ID_PATTERN, MadeBy, NewRequest, get_request
from fiduciary.rights.running import calendar_for
from fiduciary.rights.states import State
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.routes.request_schemas import (
    RequestIn,
    RequestOut,
    RequestPage,
    refuse_grievance,
    request_out,
    split_params,
)
from fiduciary.web.security import client_key, public_rate_limit, require_scopes
from fiduciary.workflow.deadlines import DeadlineStatus

router = APIRouter(prefix="/v1/requests", tags=["requests"], route_class=ContractRoute)

RequestIdPath = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, description="A request id.")]
_MANAGE = Depends(require_scopes(Scope.RIGHTS_MANAGE))
_STRICT = ConfigDict(extra="forbid")
_REASON = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$", description="A reason code.")
_NOTE = Field(min_length=1, max_length=500, description="The reason in words, sent to the person; never logged.")


def _out(runtime: Runtime, session: Session, request_id: str, *, detail: bool = True) -> RequestOut:
    row = get_request(session, request_id)
    return request_out(session, row, now=utcnow(), working=calendar_for(runtime), detail=detail)


@router.post("", status_code=201, summary="Receive a rights request made through the store", response_model=RequestOut)
def create(
    body: RequestIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    refuse_grievance(body.kind)
    details, personal = split_params(body, body.proof_reference)
    new = NewRequest(
        kind=body.kind,
        person_id=body.person_id,
        made_by=MadeBy(body.made_by),
        channel=body.channel,
        verified_by=body.verified_by,
        details=details,
        personal=personal,
        language=body.language,
    )
    # Authenticating may have written the key's last_used_at in this session. `submit` charges the code's rate
    # limits in a transaction of its own, which on SQLite would wait for this session's writer lock until the
    # database gave up (a 503 after the busy timeout): end that write first.
    session.commit()
    row = flows.submit(runtime, session, new, actor=key.id)
    return _out(runtime, session, row.id)


@router.get("", summary="Requests, soonest deadline first (open ones by default)", response_model=RequestPage)
def listing(
    state: Annotated[list[State] | None, Query(description="One or more states; default: every open state.")] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    person_id: Annotated[str | None, Query(pattern=PERSON_ID_PATTERN)] = None,
    status: Annotated[DeadlineStatus | None, Query(description="on_track, due_soon or overdue.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")] = None,
    _key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestPage:
    filters = RequestFilter(
        kind=kind,
        person_id=person_id,
        status=status,
        limit=limit,
        after=after,
        **({"states": tuple(s.value for s in state)} if state else {}),
    )
    now, working = utcnow(), calendar_for(runtime)
    page = list_requests(session, filters, now=now, working=working)
    items = [request_out(session, row, now=now, working=working) for row in page.rows]
    return RequestPage(items=items, next_cursor=page.next_cursor)


@router.get("/{request_id}", summary="One request, with its manual steps and history", response_model=RequestOut)
def read(
    request_id: RequestIdPath,
    _key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    return _out(runtime, session, request_id)


class VerifyIn(BaseModel):
    model_config = _STRICT
    method: Literal["document", "two_data_points", "three_data_points_and_declaration"] = Field(
        description="What staff checked: a document (an agent's or nominee's proof too) or data points."
    )


@router.post(
    "/{request_id}/verify", summary="Staff checked the requester's identity or proof", response_model=RequestOut
)
def verify(
    request_id: RequestIdPath,
    body: VerifyIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    flows.staff_verify(runtime, session, request_id, actor=key.id, method=body.method)
    return _out(runtime, session, request_id)


@router.post("/{request_id}/approve", summary="Approve a request that waits for staff", response_model=RequestOut)
def approve(
    request_id: RequestIdPath,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    flows.approve(runtime, session, request_id, actor=key.id)
    return _out(runtime, session, request_id)


class RejectIn(BaseModel):
    model_config = _STRICT
    reason: str = _REASON
    note: str = _NOTE


@router.post("/{request_id}/reject", summary="Refuse a request, telling the person why", response_model=RequestOut)
def reject(
    request_id: RequestIdPath,
    body: RejectIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    flows.reject(runtime, session, request_id, actor=key.id, reason=body.reason, note=body.note)
    return _out(runtime, session, request_id)


class CancelIn(BaseModel):
    model_config = _STRICT
    reason: str = Field(default="withdrawn_by_person", min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    note: str | None = Field(default=None, min_length=1, max_length=500)


@router.post("/{request_id}/cancel", summary="Cancel an open request", response_model=RequestOut)
def cancel(
    request_id: RequestIdPath,
    body: CancelIn | None = None,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    body = body or CancelIn()
    flows.cancel(runtime, session, request_id, actor=key.id, reason=body.reason, note=body.note)
    return _out(runtime, session, request_id)


class ExtendIn(BaseModel):
    model_config = _STRICT
    until: date = Field(description="The new last day, within the policy's extendable_by.")
    reason: str = _NOTE


@router.post(
    "/{request_id}/extend",
    summary="Extend the deadline once, with the reason sent to the person",
    response_model=RequestOut,
)
def extend(
    request_id: RequestIdPath,
    body: ExtendIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    flows.extend_request(runtime, session, request_id, actor=key.id, until=body.until, reason=body.reason)
    return _out(runtime, session, request_id)


class CompleteIn(BaseModel):
    model_config = _STRICT
    note: str | None = Field(default=None, min_length=1, max_length=500)


@router.post(
    "/{request_id}/complete",
    summary="Complete a request only staff can finish (a grievance)",
    response_model=RequestOut,
)
def complete(
    request_id: RequestIdPath,
    body: CompleteIn | None = None,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    flows.complete_by_staff(runtime, session, request_id, actor=key.id, note=(body or CompleteIn()).note)
    return _out(runtime, session, request_id)


class StepIn(BaseModel):
    model_config = _STRICT
    position: int = Field(ge=0, le=100, description="The step's position, as the request lists its steps.")


@router.post(
    "/{request_id}/steps/confirm",
    summary="Confirm a manual step was done outside Fiduciary (who and when are kept)",
    response_model=RequestOut,
)
def confirm_step(
    request_id: RequestIdPath,
    body: StepIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    flows.confirm_step(runtime, session, request_id, body.position, actor=key.id)
    return _out(runtime, session, request_id)


class CloseItemIn(BaseModel):
    model_config = _STRICT
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    reason: flows.CloseReason = Field(
        description="duplicate, never_verified or withdrawn_by_person cancel; unfounded or excessive reject."
    )
    note: str | None = Field(default=None, min_length=1, max_length=500)


class CloseIn(BaseModel):
    model_config = _STRICT
    items: list[CloseItemIn] = Field(min_length=1, max_length=500)


class ClosedOut(BaseModel):
    closed: list[str]


@router.post(
    "/close", summary="Close duplicate or never-verified requests in bulk, each with a reason", response_model=ClosedOut
)
def close_many(
    body: CloseIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> ClosedOut:
    items = [flows.CloseItem(i.request_id, i.reason, i.note) for i in body.items]
    closed = flows.close_many(runtime, session, items, actor=key.id)
    return ClosedOut(closed=[row.id for row in closed])


# -------------------------------------------------------------------------------- the person's code


class CodeIn(BaseModel):
    model_config = _STRICT
    code: str = Field(min_length=6, max_length=7, description="The 6-digit code sent to the person.")


class CodeOut(BaseModel):
    state: str
    attempts_left: int


def _refused(verification: Verification) -> FiduciaryError:
    if verification.verdict is Verdict.LOCKED:
        return FiduciaryError(
            "Too many wrong codes: this code is locked.", status=403, title="Forbidden", code="code_locked"
        )
    if verification.verdict in (Verdict.EXPIRED, Verdict.CONSUMED):
        return FiduciaryError(
            "This code can no longer be used; ask for a new one.",
            status=410,
            title="Gone",
            code=f"code_{verification.verdict.value}",
        )
    return FiduciaryError(
        f"Wrong code. Attempts left: {verification.attempts_left}.", status=401, title="Unauthorized", code="code_wrong"
    )


@router.post(
    "/{request_id}/code",
    summary="The person enters the code they were sent (public, rate limited)",
    response_model=CodeOut,
    dependencies=[Depends(public_rate_limit)],
)
def enter_code(
    request_id: RequestIdPath,
    body: CodeIn,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> CodeOut:
    row, verification = flows.verify_with_code(runtime, session, request_id, body.code)
    if row is None:
        raise _refused(verification)
    return CodeOut(state=row.state, attempts_left=verification.attempts_left)


@router.post(
    "/{request_id}/code/resend",
    status_code=202,
    summary="Send the person a new code for a request waiting for it (public, rate limited)",
    dependencies=[Depends(public_rate_limit)],
)
def resend_code(
    request_id: RequestIdPath,
    request: Request,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> JSONResponse:
    flows.resend_code(runtime, session, request_id, client_address=client_key(request))
    return JSONResponse({"accepted": True}, status_code=202)
