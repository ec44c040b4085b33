"""Routes: staff holds on a person or one category of their data (issue 15 item 2).

A hold keeps what it covers past every retention rule and past erasure, for a dispute or an authority's
order, until a date (`fiduciary.retention.holds`). Placing and releasing are audited. Answers carry ids,
codes and dates; the note is stored redacted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.decisions.ids import PERSON_ID_PATTERN
from fiduciary.policy.schema import ID_MAX_LENGTH, ID_PATTERN
from fiduciary.retention.holds import HOLD_ID_PATTERN, MAX_NOTE, Hold, HoldReason, holds_of, place_hold, release_hold
from fiduciary.runtime import Runtime
from fiduciary.web.contract import ContractRoute, IsoDate
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/holds", tags=["retention"], route_class=ContractRoute)
HoldIdPath = Annotated[str, Path(pattern=HOLD_ID_PATTERN, description="A hold id hold_….")]


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(pattern=PERSON_ID_PATTERN, description="The person held, or whose record is held.")
    category: str | None = Field(
        default=None, pattern=ID_PATTERN, max_length=ID_MAX_LENGTH, description="Hold only this category."
    )
    reason: HoldReason = Field(description="Why: a dispute, an authority's order, …")
    until: IsoDate = Field(description="The last day the hold keeps the data (YYYY-MM-DD), today or later.")
    note: str | None = Field(default=None, max_length=MAX_NOTE, description="For staff; identifiers are redacted.")


class HoldOut(BaseModel):
    id: str
    person_id: str
    category: str | None
    reason: str
    note: str | None
    placed_by: str
    placed_at: datetime
    until: date
    released_at: datetime | None
    released_by: str | None


class HoldList(BaseModel):
    holds: list[HoldOut]


def _out(hold: Hold) -> HoldOut:
    return HoldOut.model_validate(hold, from_attributes=True)


@router.post(
    "", status_code=201, summary="Place a hold on a person or one category of their data", response_model=HoldOut
)
def place(
    body: HoldIn,
    key: ApiKey = Depends(require_scopes(Scope.HOLDS_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> HoldOut:
    hold = place_hold(
        runtime,
        session,
        actor=key.id,
        person_id=body.person_id,
        reason=body.reason.value,
        until=body.until,
        category=body.category,
        note=body.note,
    )
    return _out(hold)


@router.get("", summary="Holds, newest first (at most 1,000), of one person when given", response_model=HoldList)
def list_holds(
    person_id: Annotated[str | None, Query(pattern=PERSON_ID_PATTERN, description="Only this person's.")] = None,
    _key: ApiKey = Depends(require_scopes(Scope.HOLDS_READ)),
    session: Session = SESSION_DEPENDENCY,
) -> HoldList:
    return HoldList(holds=[_out(h) for h in holds_of(session, person_id)])


@router.delete("/{hold_id}", summary="Release a hold now", response_model=HoldOut)
def release(
    hold_id: HoldIdPath,
    key: ApiKey = Depends(require_scopes(Scope.HOLDS_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> HoldOut:
    return _out(release_hold(runtime, session, actor=key.id, hold_id=hold_id))
