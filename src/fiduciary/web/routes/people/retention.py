"""Routes: retention events the store's backend reports for a person (issue 12).

The policy declares the events (`retention_events`); the backend reports one when it happens ("the return window
closed" for this person), and the rules counting from it start their clocks. Requests and answers carry the
person's pseudonymous id, the event's policy id and instants: no personal value.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.policy.schema import ID_MAX_LENGTH, ID_PATTERN
from fiduciary.runtime import Runtime
from fiduciary.vault.flows import report_retention_event_audited
from fiduciary.vault.retention_events import Fields, ReportedEvent
from fiduciary.web.contract import ContractRoute, IsoDateTime, PersonIdPath
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.routes.audit import request_id
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/people", tags=["people"], route_class=ContractRoute)

FIELDS = Fields(person_id="path.person_id", event="body.event", occurred_at="body.occurred_at")


class RetentionEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(
        pattern=ID_PATTERN,
        max_length=ID_MAX_LENGTH,
        description="The id of an event the policy declares under `retention_events`, e.g. `warranty_ended`.",
    )
    occurred_at: IsoDateTime = Field(description="When it happened (RFC 3339 with a time zone); not in the future.")


class RetentionEventOut(BaseModel):
    id: int
    person_id: str
    event: str
    occurred_at: datetime
    recorded_at: datetime
    created: bool = Field(description="False when the same report was already recorded (nothing written).")


def _out(reported: ReportedEvent) -> RetentionEventOut:
    return RetentionEventOut(
        id=reported.id,
        person_id=reported.person_id,
        event=reported.event,
        occurred_at=reported.occurred_at,
        recorded_at=reported.recorded_at,
        created=reported.created,
    )


@router.post(
    "/{person_id}/retention-events",
    status_code=201,
    summary="Report a retention event the policy declares (e.g. the warranty ended); a repeat is a no-op (200)",
    response_model=RetentionEventOut,
)
def report_retention_event(
    person_id: PersonIdPath,
    body: RetentionEventIn,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> JSONResponse:
    reported = report_retention_event_audited(
        runtime,
        session,
        caller=key.id,
        person_id=person_id,
        event=body.event,
        occurred_at=body.occurred_at,
        request_id=req_id,
        fields=FIELDS,
    )
    return JSONResponse(_out(reported).model_dump(mode="json"), status_code=201 if reported.created else 200)
