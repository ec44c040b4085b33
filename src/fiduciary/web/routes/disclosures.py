"""Routes: disclosures to recipients (`disclosures:write`), the log, the notices to recipients and the records
of processing (`disclosures:read`), recipients' endpoints (`admin`), a request's propagation
(`rights:manage`), recipients' acknowledgements (public, signed with the recipient's secret, rate limited
per address like every public endpoint), and staff recording one a recipient sent another way
(`disclosures:write`). Thin: the steps are `fiduciary.disclosures`, the same the CLI calls.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.decisions.ids import PERSON_ID_PATTERN
from fiduciary.disclosures import acknowledgements, ropa
from fiduciary.disclosures.endpoints import configure_endpoint, list_endpoints
from fiduciary.disclosures.flows import MAX_CATEGORIES, MAX_PEOPLE, DisclosureRequest, disclose, result_dict
from fiduciary.disclosures.log import MAX_PAGE, list_disclosures
from fiduciary.disclosures.models import DELIVERY_ID_PATTERN
from fiduciary.disclosures.propagation import list_deliveries, propagation_of
from fiduciary.errors import FieldProblem
from fiduciary.policy.schema import ID_MAX_LENGTH, ID_PATTERN
from fiduciary.rights.requests import REQUEST_ID_PATTERN, get_request
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.web.contract import ContractRoute, check_declared_length
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.security import public_rate_limit, require_scopes

router = APIRouter(tags=["disclosures"], route_class=ContractRoute)

_STRICT = ConfigDict(extra="forbid")
_WRITE = Depends(require_scopes(Scope.DISCLOSURES_WRITE))
_READ = Depends(require_scopes(Scope.DISCLOSURES_READ))
_ADMIN = Depends(require_scopes(Scope.ADMIN))
_MANAGE = Depends(require_scopes(Scope.RIGHTS_MANAGE))
RecipientPath = Annotated[
    str, Path(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH, description="A recipient's policy id.")
]
_Slug = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX_LENGTH)]
_Person = Annotated[str, Field(pattern=PERSON_ID_PATTERN)]


class EndpointIn(BaseModel):
    model_config = _STRICT
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="https (http only for localhost, for testing); omit to use the policy's webhook_url.",
    )
    secret: str | None = Field(
        default=None,
        min_length=30,
        max_length=100,
        description="whsec_ + base64; omit to have one generated and shown once in the answer.",
    )


class EndpointOut(BaseModel):
    recipient_id: str
    url: str
    configured_at: str
    secret: str | None = Field(default=None, description="The generated secret: shown this once, never again.")


@router.put(
    "/v1/recipients/{recipient_id}/endpoint",
    summary="Set a recipient's webhook endpoint and signing secret (the secret is stored encrypted)",
    response_model=EndpointOut,
)
def put_endpoint(
    recipient_id: RecipientPath,
    body: EndpointIn,
    key: ApiKey = _ADMIN,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> EndpointOut:
    endpoint, generated = configure_endpoint(runtime, session, recipient_id, body.url, actor=key.id, secret=body.secret)
    return EndpointOut(
        recipient_id=endpoint.recipient_id,
        url=endpoint.url,
        configured_at=endpoint.configured_at.isoformat(),
        secret=generated,
    )


class RecipientOut(BaseModel):
    id: str
    name: str
    kind: str
    countries: list[str]
    purposes: list[str]
    categories: list[str]
    endpoint: str | None
    configured_at: str | None


class RecipientList(BaseModel):
    items: list[RecipientOut]


@router.get(
    "/v1/recipients",
    summary="The policy's recipients and their endpoints (never a secret)",
    response_model=RecipientList,
)
def recipients(
    _key: ApiKey = _READ, session: Session = SESSION_DEPENDENCY, runtime: Runtime = Depends(runtime_dependency)
) -> RecipientList:
    endpoints = {e.recipient_id: e for e in list_endpoints(session)}
    items = []
    for r in runtime.policy().document.recipients:
        found = endpoints.get(r.id)
        items.append(
            RecipientOut(
                id=r.id,
                name=r.name,
                kind=r.kind.value,
                countries=list(r.countries),
                purposes=list(r.purposes),
                categories=list(r.categories),
                endpoint=found.url if found else None,
                configured_at=found.configured_at.isoformat() if found else None,
            )
        )
    return RecipientList(items=items)


class DisclosureIn(BaseModel):
    model_config = _STRICT
    recipient: _Slug = Field(description="A recipient the policy names.")
    purpose: _Slug
    categories: list[_Slug] = Field(min_length=1, max_length=MAX_CATEGORIES)
    people: list[_Person] | None = Field(default=None, min_length=1, max_length=MAX_PEOPLE)
    audience: bool = Field(default=False, description="Everyone the purpose may reach now, instead of `people`.")
    order_reference: str | None = Field(
        default=None, min_length=1, max_length=200, description="The legal order or request; required for authorities."
    )
    include_values: bool = Field(default=True, description="Return the allowed fields (at most 1,000 people).")


@router.post("/v1/disclosures", status_code=201, summary="Disclose data to a recipient: decide, package and log")
def create_disclosure(
    body: DisclosureIn,
    key: ApiKey = _WRITE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> JSONResponse:
    request = DisclosureRequest(
        recipient=body.recipient,
        purpose=body.purpose,
        categories=body.categories,
        people=body.people,
        audience=body.audience,
        order_reference=body.order_reference,
        include_values=body.include_values,
    )
    result = disclose(runtime, session, request, actor=key.id)
    return JSONResponse(result_dict(result), status_code=201, headers={"Cache-Control": "no-store"})


class LogPage(BaseModel):
    items: list[dict[str, Any]]


@router.get("/v1/disclosures", summary="The disclosure log, newest first (never values)", response_model=LogPage)
def disclosures(
    person_id: Annotated[str | None, Query(pattern=PERSON_ID_PATTERN)] = None,
    recipient: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    _key: ApiKey = _READ,
    session: Session = SESSION_DEPENDENCY,
) -> LogPage:
    entries = list_disclosures(session, person_id=person_id, recipient_id=recipient, limit=limit)
    return LogPage(items=[e.to_dict() for e in entries])


@router.get(
    "/v1/propagations",
    summary="Notices to recipients: `unacknowledged` lists those no recipient has acknowledged yet",
    response_model=LogPage,
)
def propagations(
    state: Annotated[
        Literal["unacknowledged", "pending", "sending", "delivered", "acknowledged", "failed"] | None,
        Query(description="`unacknowledged`: every notice not yet acknowledged, `delivered` ones included."),
    ] = None,
    person_id: Annotated[str | None, Query(pattern=PERSON_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    _key: ApiKey = _READ,
    session: Session = SESSION_DEPENDENCY,
) -> LogPage:
    return LogPage(items=[d.to_dict() for d in list_deliveries(session, state=state, person_id=person_id, limit=limit)])


class AcknowledgementOut(BaseModel):
    notice_id: str = Field(pattern=DELIVERY_ID_PATTERN)
    recipient: str
    state: Literal["acknowledged"]
    outcome: Literal["done", "not_held"]
    acknowledged_at: str = Field(description="When the first acknowledgement was recorded (a repeat changes it not).")


_SIGNED_HEADER = {"type": "string", "minLength": 1, "maxLength": 1000}
_ACKNOWLEDGEMENT_DOC: dict[str, Any] = {
    "parameters": [
        {"name": "webhook-id", "in": "header", "required": True, "description": "The notice's id (`whd_…`).",
         "schema": {"type": "string", "pattern": DELIVERY_ID_PATTERN}},
        {"name": "webhook-timestamp", "in": "header", "required": True,
         "description": "Seconds since 1970 UTC when signed; within 5 minutes of the server's clock.",
         "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}},
        {"name": "webhook-signature", "in": "header", "required": True,
         "description": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the recipient's whsec_ secret.",
         "schema": _SIGNED_HEADER},
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["notice_id", "outcome"],
                    "properties": {
                        "notice_id": {"type": "string", "pattern": DELIVERY_ID_PATTERN},
                        "outcome": {"type": "string", "enum": list(acknowledgements.OUTCOMES)},
                    },
                }
            }
        },
    },
}  # fmt: skip


async def _signed_body(request: Request) -> bytes:
    """The raw body (the signature covers its bytes), at most `MAX_BODY`: judged from Content-Length first."""
    check_declared_length(
        request, acknowledgements.MAX_BODY, missing="State the body's length (Content-Length).",
        too_large="The acknowledgement is too large.", code="body_too_large",
        field=FieldProblem("body", f"at most {acknowledgements.MAX_BODY} bytes"),
    )  # fmt: skip
    return await request.body()


@router.post(
    "/v1/propagations/acknowledgements",
    summary="A recipient confirms it acted on a notice (signed with its webhook secret)",
    response_model=AcknowledgementOut,
    dependencies=[Depends(public_rate_limit)],
    openapi_extra=_ACKNOWLEDGEMENT_DOC,
)
async def acknowledge_notice(
    request: Request, session: Session = SESSION_DEPENDENCY, runtime: Runtime = Depends(runtime_dependency)
) -> AcknowledgementOut:
    """For the recipient, not the store: once it has erased, corrected or stopped using what a notice names
    (or found it held nothing), it sends `{"notice_id": "whd_…", "outcome": "done"}` (or `not_held`) signed
    like our notices, with the same secret (Standard Webhooks; `webhook-id` is the notice id). 401 for a
    stale timestamp, a bad signature or a notice that is not the signer's (one answer for all three); a
    repeat answers as the first did. A 2xx to the notice alone leaves it `delivered`, not acknowledged."""
    body = await _signed_body(request)

    def record() -> acknowledgements.Acknowledged:
        done = acknowledgements.acknowledge(runtime, session, request.headers, body)
        session.commit()  # acknowledged means recorded: the answer goes out after the commit
        return done

    done = await run_in_threadpool(record)
    return AcknowledgementOut(**done.to_dict())


class StaffAcknowledgementIn(BaseModel):
    model_config = _STRICT
    outcome: Literal["done", "not_held"] = Field(
        description="What the recipient said: `done` (acted as the notice asked) or `not_held` (held nothing)."
    )


class StaffAcknowledgementOut(AcknowledgementOut):
    first: bool = Field(description="False when an acknowledgement already stood: it stands, nothing was recorded.")


@router.post(
    "/v1/propagations/{notice_id}/acknowledgement",
    summary="Record an acknowledgement a recipient sent another way (a letter, an email); the first one stands",
    response_model=StaffAcknowledgementOut,
)
def record_acknowledgement(
    notice_id: Annotated[str, Path(pattern=DELIVERY_ID_PATTERN, description="The notice's id (`whd_…`).")],
    body: StaffAcknowledgementIn,
    key: ApiKey = _WRITE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> StaffAcknowledgementOut:
    """What `fiduciary disclosures acknowledge` does, audited under the API key (`recipient.acknowledge`): for a
    recipient without an API, whose confirmation came by post or email. 404 for an unknown notice."""
    done = acknowledgements.record_for_recipient(runtime, session, notice_id, body.outcome, actor=key.id)
    session.commit()  # recorded before the answer says so
    return StaffAcknowledgementOut(**done.to_dict(), first=done.first)


@router.get(
    "/v1/requests/{request_id}/propagation",
    summary="How far a request's change reached: propagated to N of M recipients",
)
def request_propagation(
    request_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN, description="A request id.")],
    _key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
) -> JSONResponse:
    row = get_request(session, request_id)
    status = propagation_of(session, row.person_id, since=row.received_at)
    return JSONResponse({"request_id": row.id, **status.to_dict()})


_MEDIA = {"application/json": "json", "text/csv": "csv", "text/html": "html"}


def _format(request: Request, asked: str | None) -> str:
    if asked is not None:
        return asked
    accept = request.headers.get("accept", "")
    for media, name in _MEDIA.items():
        if media in accept:
            return name
    return "json"


@router.get(
    "/v1/records-of-processing",
    summary="Records of processing (GDPR Art 30) from the policy and the disclosure log: JSON, CSV or HTML",
    responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}},
)
def records_of_processing(
    request: Request,
    format: Annotated[Literal["json", "csv", "html"] | None, Query(description="Else the Accept header.")] = None,
    _key: ApiKey = _READ,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> Response:
    record = ropa.records(runtime.policy(), session, now=utcnow())
    chosen = _format(request, format)
    if chosen == "csv":
        return PlainTextResponse(ropa.as_csv(record), media_type="text/csv; charset=utf-8")
    if chosen == "html":
        return HTMLResponse(ropa.as_html(record))
    return JSONResponse(record)
