"""Routes: a customer's own rights requests, through their customer session (`Authorization: Bearer cst_…`).

The person is the session's: a request names no person id (a body that tries is refused, 422), and a
request id of someone else's answers exactly like an unknown one (404), so a session can neither act on
nor learn about another person's requests (DPDP Rule 14(1); GDPR Art 12(6)).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fiduciary.errors import NotFound
from fiduciary.identity.sessions import CustomerSession
from fiduciary.rights import request_flows as flows
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.requests import MadeBy, NewRequest, get_request, requests_of
from fiduciary.rights.running import calendar_for
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.web.contract import ContractRoute
from fiduciary.web.customer import customer_session_dependency
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.routes.request_schemas import RequestOut, RequestParams, refuse_grievance, request_out, split_params
from fiduciary.web.routes.requests import RequestIdPath

router = APIRouter(prefix="/v1/me/requests", tags=["my requests"], route_class=ContractRoute)
_CUSTOMER = Depends(customer_session_dependency)


class MyRequestIn(RequestParams):
    kind: str = Field(min_length=1, max_length=32, description="A kind of request the policy offers you.")
    channel: str = Field(default="privacy_center", pattern="^(privacy_center|in_app)$")


class MyRequests(BaseModel):
    items: list[RequestOut]


def _own(session: Session, customer: CustomerSession, request_id: str) -> RightsRequest:
    row = get_request(session, request_id)
    if row.person_id != customer.person_id:
        raise NotFound("No request has this id.", code="request_not_found")  # the same answer as an unknown id
    return row


@router.post("", status_code=201, summary="Make a request about your own data", response_model=RequestOut)
def create(
    body: MyRequestIn,
    customer: CustomerSession = _CUSTOMER,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    refuse_grievance(body.kind)
    details, personal = split_params(body)
    new = NewRequest(
        kind=body.kind,
        person_id=customer.person_id,
        made_by=MadeBy.PERSON,
        channel=body.channel,
        verified_by=customer.verified_by,  # the check the session was opened with
        details=details,
        personal=personal,
        language=body.language,
    )
    session.commit()  # the session's last_used_at may be written: see `requests.create` for why it ends first
    row = flows.submit(runtime, session, new, actor=customer.session_id)
    return request_out(session, row, now=utcnow(), working=calendar_for(runtime), detail=True)


@router.get("", summary="Your requests, newest last", response_model=MyRequests)
def listing(
    customer: CustomerSession = _CUSTOMER,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> MyRequests:
    now, working = utcnow(), calendar_for(runtime)
    return MyRequests(
        items=[request_out(session, r, now=now, working=working) for r in requests_of(session, customer.person_id)]
    )


@router.get("/{request_id}", summary="One of your requests, with its history", response_model=RequestOut)
def read(
    request_id: RequestIdPath,
    customer: CustomerSession = _CUSTOMER,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    row = _own(session, customer, request_id)
    return request_out(session, row, now=utcnow(), working=calendar_for(runtime), detail=True)


@router.post("/{request_id}/cancel", summary="Cancel one of your requests while it can be", response_model=RequestOut)
def cancel(
    request_id: RequestIdPath,
    customer: CustomerSession = _CUSTOMER,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> RequestOut:
    _own(session, customer, request_id)
    row = flows.cancel(runtime, session, request_id, actor=customer.session_id)
    return request_out(session, row, now=utcnow(), working=calendar_for(runtime), detail=True)
