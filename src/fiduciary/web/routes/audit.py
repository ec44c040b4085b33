"""Routes: the audit trail (GET /v1/audit), and the request id every audited route records.

Events carry ids, policy slugs and reason codes only. Each comes with its ledger position, hash and
previous hash, so an auditor can check a page against `fiduciary audit verify` or an exported ledger
without trusting this API. Reading the audit trail is itself recorded (`audit.read`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fiduciary.audit.reads import AuditFilter, list_events
from fiduciary.audit.service import DEFAULT_PAGE, MAX_PAGE, Action, AuditTrail, Outcome
from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.codes import ACTION_PATTERN, ACTOR_PATTERN, SLUG_PATTERN, SUBJECT_PATTERN
from fiduciary.runtime import Runtime
from fiduciary.web.access_log import accept_request_id, new_request_id
from fiduciary.web.contract import WHOLE, ContractRoute, IsoDateTime
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=ContractRoute)

REQUEST_ID_HEADER = "X-Request-ID"
# A cursor is a ledger position, a BIGINT: a larger number fails in the database (SQLite's driver refuses
# integers beyond 64 bits, PostgreSQL says "bigint out of range"), so it is a 422 naming `query.cursor`.
MAX_CURSOR = 2**63 - 1


async def request_id(
    request: Request,
    response: Response,
    x_request_id: Annotated[
        str | None,
        Header(
            alias=REQUEST_ID_HEADER,
            description="Your correlation id (letters, digits, `._:-`, at most 64); recorded in the audit event. "
            "Generated when absent or malformed, and echoed in the response header.",
        ),
    ] = None,
) -> str:
    """The request's id for audit events: the one the request-id middleware chose (the caller's
    X-Request-ID when well-formed, else a fresh one), so audit events, problem `instance`s and the access log
    agree. Without the middleware (an app built without `install_security`), chosen here the same way."""
    chosen = getattr(request.state, "request_id", None)
    value = chosen if isinstance(chosen, str) else accept_request_id(x_request_id) or new_request_id()
    request.state.request_id = value
    response.headers[REQUEST_ID_HEADER] = value
    return value


async def audit_trail(runtime: Runtime = Depends(runtime_dependency)) -> AuditTrail:
    return AuditTrail.for_runtime(runtime)


class AuditEventOut(BaseModel):
    position: int = Field(description="Position in the `audit` ledger stream; the pagination cursor.")
    recorded_at: datetime
    action: str = Field(description="What was done: " + ", ".join(a.value for a in Action) + ".")
    actor: str = Field(description="The API key id or staff id that acted (never a name).")
    outcome: Outcome
    person_id: str | None = Field(description="The pseudonymous subject (`per_…` or `vis_…`), if any.")
    purpose: str | None
    categories: list[str]
    reasons: list[str] = Field(description="Reason codes: the decision's, or why the attempt was refused.")
    request_id: str | None
    role: str | None = Field(description="The role a read was made in (it decides masking).")
    on_behalf_of: str | None = Field(description="The actor the caller named, when it differs from the key.")
    target: str | None = Field(description="A non-personal object acted on, such as an API key id.")
    count: int | None
    hash: str = Field(description="The event's ledger hash; check it with `fiduciary audit verify`.")
    prev_hash: str


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    next_cursor: int | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@router.get("", summary="Audit events, filtered, oldest first (keyset pagination)", response_model=AuditPageOut)
def list_audit(
    actor: Annotated[str | None, Query(pattern=ACTOR_PATTERN, description="API key id or staff id.")] = None,
    person_id: Annotated[str | None, Query(pattern=SUBJECT_PATTERN, description="`per_…` or `vis_…`.")] = None,
    action: Annotated[str | None, Query(pattern=ACTION_PATTERN, description="e.g. field.read")] = None,
    purpose: Annotated[str | None, Query(pattern=SLUG_PATTERN, max_length=80)] = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    since: Annotated[IsoDateTime | None, Query(description="Recorded at or after (RFC 3339, with time zone).")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Recorded before (RFC 3339, with time zone).")] = None,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_CURSOR, description="`next_cursor` of the previous page."), WHOLE
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE), WHOLE] = DEFAULT_PAGE,
    order: Annotated[Literal["asc", "desc"], Query(description="asc: oldest first; desc: newest first.")] = "asc",
    key: ApiKey = Depends(require_scopes(Scope.AUDIT_READ)),
    session: Session = SESSION_DEPENDENCY,
    trail: AuditTrail = Depends(audit_trail),
    req_id: str = Depends(request_id),
) -> AuditPageOut:
    filters = AuditFilter(
        actor=actor,
        person_id=person_id,
        action=action,
        purpose=purpose,
        outcome=outcome.value if outcome is not None else None,
        since=since,
        until=until,
    )
    page = list_events(session, filters, cursor=cursor, limit=limit, order=order)
    trail.record(
        session,
        actor=key.id,
        action=Action.AUDIT_READ,
        person_id=person_id,
        purpose=purpose,
        request_id=req_id,
        count=len(page.events),
    )
    return AuditPageOut(
        events=[AuditEventOut(**event.to_dict()) for event in page.events],
        next_cursor=page.next_cursor,
    )
