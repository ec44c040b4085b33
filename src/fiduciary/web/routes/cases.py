"""Routes: what is due across every case and rights request (`cases:read`), and grievances — intake from the
store's backend or its grievance mailbox, and staff's work on them (`cases:manage`).

Every route translates: the steps are `fiduciary.cases.grievances`, the same the CLI calls.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.cases import grievances
from fiduciary.cases.due import MAX_PAGE, WITHIN_PATTERN, DueFilter, list_due, parse_within
from fiduciary.cases.grievance_kind import KIND
from fiduciary.cases.grievances import GrievanceIntake
from fiduciary.cases.views import case_view, list_cases
from fiduciary.cases.workflow import CASE_ID_PATTERN, get_case
from fiduciary.codes import ACTOR_PATTERN
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.routes.case_schemas import (
    AssignIn,
    CloseIn,
    DuePageOut,
    GrievanceIn,
    GrievanceOut,
    GrievancePage,
    TextIn,
    due_out,
    grievance_out,
)
from fiduciary.web.security import require_scopes

router = APIRouter(tags=["cases"], route_class=ContractRoute)

CaseIdPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="A case id `cs_…`.")]
_READ = Depends(require_scopes(Scope.CASES_READ))
_MANAGE = Depends(require_scopes(Scope.CASES_MANAGE))


@router.get("/v1/cases/due", summary="What is due, across every case and rights request", response_model=DuePageOut)
def due(
    within: Annotated[str | None, Query(pattern=WITHIN_PATTERN, description="Only what ends within, e.g. 48h.")] = None,
    kind: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z][a-z0-9_]*$")] = None,
    assigned_to: Annotated[str | None, Query(max_length=100, pattern=ACTOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=300, description="next_cursor of the previous page.")] = None,
    _key: ApiKey = _READ,
    session: Session = SESSION_DEPENDENCY,
) -> DuePageOut:
    filters = DueFilter(
        within=parse_within(within) if within is not None else None,
        kind=kind,
        assigned_to=assigned_to,
        limit=limit,
        after=after,
    )
    page = list_due(session, filters, now=utcnow())
    return DuePageOut(items=[due_out(item) for item in page.items], next_cursor=page.next_cursor)


def _out(runtime: Runtime, session: Session, case_id: str) -> GrievanceOut:
    uow = unit_of_work(runtime, session)
    case = get_case(session, case_id, kind=KIND)
    return grievance_out(case_view(uow, case, now=utcnow()), detail=True, answerable=grievances.answerable(uow, case))


@router.post("/v1/grievances", status_code=201, summary="Receive a grievance", response_model=GrievanceOut)
def create(
    body: GrievanceIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievanceOut:
    intake = GrievanceIntake(
        text=body.text,
        channel=body.channel,
        person_id=body.person_id,
        contact_email=str(body.contact_email) if body.contact_email is not None else None,
        language=body.language,
    )
    case = grievances.file_grievance(runtime, session, intake, actor=key.id)
    return _out(runtime, session, case.id)


@router.get("/v1/grievances", summary="Grievances, newest first", response_model=GrievancePage)
def listing(
    state: Annotated[str | None, Query(max_length=24, pattern=r"^[a-z][a-z0-9_]*$")] = None,
    assigned_to: Annotated[str | None, Query(max_length=100, pattern=ACTOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=300, description="next_cursor of the previous page.")] = None,
    _key: ApiKey = _READ,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievancePage:
    page = list_cases(session, KIND, state=state, assigned_to=assigned_to, limit=limit, after=after)
    uow, now = unit_of_work(runtime, session), utcnow()
    items = [grievance_out(case_view(uow, case, now=now, notes=False), detail=False) for case in page.rows]
    return GrievancePage(items=items, next_cursor=page.next_cursor)


@router.get(
    "/v1/grievances/{case_id}", summary="One grievance: text, clocks, notes, history", response_model=GrievanceOut
)
def read(
    case_id: CaseIdPath,
    _key: ApiKey = _READ,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievanceOut:
    return _out(runtime, session, case_id)


@router.post("/v1/grievances/{case_id}/acknowledge", summary="Acknowledge a grievance", response_model=GrievanceOut)
def acknowledge(
    case_id: CaseIdPath,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievanceOut:
    grievances.acknowledge(runtime, session, case_id, actor=key.id)
    return _out(runtime, session, case_id)


@router.post("/v1/grievances/{case_id}/assign", summary="Assign a grievance to a staff id", response_model=GrievanceOut)
def assign(
    case_id: CaseIdPath,
    body: AssignIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievanceOut:
    grievances.assign_grievance(runtime, session, case_id, body.assigned_to, actor=key.id)
    return _out(runtime, session, case_id)


@router.post(
    "/v1/grievances/{case_id}/notes", status_code=201, summary="Add an internal note", response_model=GrievanceOut
)
def note(
    case_id: CaseIdPath,
    body: TextIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievanceOut:
    grievances.add_internal_note(runtime, session, case_id, body.text, actor=key.id)
    return _out(runtime, session, case_id)


@router.post(
    "/v1/grievances/{case_id}/replies",
    status_code=201,
    summary="Reply to the person through the outbox",
    response_model=GrievanceOut,
)
def reply(
    case_id: CaseIdPath,
    body: TextIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievanceOut:
    grievances.reply(runtime, session, case_id, body.text, actor=key.id)
    return _out(runtime, session, case_id)


@router.post(
    "/v1/grievances/{case_id}/close",
    summary="Close with a reason; the person is told, with the authority to complain to",
    response_model=GrievanceOut,
)
def close(
    case_id: CaseIdPath,
    body: CloseIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GrievanceOut:
    grievances.close(runtime, session, case_id, reason=body.reason, text=body.text, actor=key.id)
    return _out(runtime, session, case_id)
