"""Routes: people (data principals) by pseudonymous id, their age declaration, objections and restrictions,
and linking a banner visitor to the person who signed in.

Responses carry ids and statuses only, never a personal value: even the age is reported as a status
(adult, child, unknown), not as a date.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fiduciary.audit.service import Action, AuditTrail
from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.restrictions import Restriction, active_restrictions, add_restriction, lift_restriction
from fiduciary.consent.service import ConsentService
from fiduciary.runtime import Runtime
from fiduciary.vault.models import Person
from fiduciary.vault.people import close_person, create_person, declare_age, get_person, require_active
from fiduciary.web.deps import SessionDep, get_runtime
from fiduciary.web.routes.audit import audit_trail, request_id
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/people", tags=["people"])

PersonId = Annotated[str, Path(max_length=40, description="A person id, `per_` + 26 characters a-z or 2-7.")]


class AgeDeclaration(BaseModel):
    """Either a date of birth (not stored: only the day of coming of age is kept) or a yes/no declaration."""

    model_config = ConfigDict(extra="forbid")

    date_of_birth: date | None = None
    is_child: bool | None = None


class PersonCreate(AgeDeclaration):
    pass


class PersonOut(BaseModel):
    id: str
    status: Literal["active", "closed"]
    age_status: Literal["adult", "child", "unknown"]
    created_at: datetime
    closed_at: datetime | None


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["objection", "restriction"] = Field(
        description="objection: stop a purpose on legitimate use/interests or contract (DPDP s.7(a), GDPR Art 21); "
        "restriction: pause processing (GDPR Art 18)."
    )
    purpose: str | None = Field(
        default=None, max_length=80, description="A purpose id; omit for every purpose not required by law."
    )


class RestrictionOut(BaseModel):
    id: int
    purpose: str | None
    kind: str
    created_at: datetime


class LiftedOut(BaseModel):
    lifted: int


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visitor_id: str = Field(max_length=40, description="The banner visitor id `vis_…` of the browser that signed in.")


class LinkOut(BaseModel):
    visitor_id: str
    person_id: str
    linked: bool = Field(description="False when the visitor was already linked to this person (nothing written).")
    copied_purposes: list[str]
    ledger_position: int | None


def _out(person: Person) -> PersonOut:
    return PersonOut(
        id=person.id,
        status=person.status,
        age_status=person.age_status,
        created_at=person.created_at,
        closed_at=person.closed_at,
    )


def _restriction(r: Restriction) -> RestrictionOut:
    return RestrictionOut(id=r.id, purpose=r.purpose, kind=r.kind, created_at=r.created_at)


@router.post(
    "", status_code=201, summary="Create a person (optionally with an age declaration)", response_model=PersonOut
)
def create(
    body: PersonCreate,
    session: SessionDep,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    runtime: Runtime = Depends(get_runtime),
    trail: AuditTrail = Depends(audit_trail),
    req_id: str = Depends(request_id),
) -> PersonOut:
    person = create_person(session, policy=runtime.policy(), date_of_birth=body.date_of_birth, is_child=body.is_child)
    trail.record(session, actor=key.id, action=Action.PERSON_CREATE, person_id=person.id, request_id=req_id)
    return _out(person)


@router.get("/{person_id}", summary="A person's id, status and age status", response_model=PersonOut)
def read(
    person_id: PersonId,
    session: SessionDep,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_READ)),
) -> PersonOut:
    return _out(get_person(session, person_id, field="path.person_id"))


@router.post("/{person_id}/age", summary="Declare or correct a person's age", response_model=PersonOut)
def age(
    person_id: PersonId,
    body: AgeDeclaration,
    session: SessionDep,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    runtime: Runtime = Depends(get_runtime),
) -> PersonOut:
    person = get_person(session, person_id, field="path.person_id")
    require_active(person)
    declare_age(person, policy=runtime.policy(), date_of_birth=body.date_of_birth, is_child=body.is_child)
    session.flush()
    return _out(person)


@router.post("/{person_id}/close", summary="Close a person's account", response_model=PersonOut)
def close(
    person_id: PersonId,
    session: SessionDep,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    trail: AuditTrail = Depends(audit_trail),
    req_id: str = Depends(request_id),
) -> PersonOut:
    person = close_person(session, person_id)
    trail.record(session, actor=key.id, action=Action.PERSON_CLOSE, person_id=person.id, request_id=req_id)
    return _out(person)


@router.get(
    "/{person_id}/restrictions", summary="Active objections and restrictions", response_model=list[RestrictionOut]
)
def list_restrictions(
    person_id: PersonId,
    session: SessionDep,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_READ)),
) -> list[RestrictionOut]:
    person = get_person(session, person_id, field="path.person_id")
    return [_restriction(r) for r in active_restrictions(session, [person.id]).get(person.id, [])]


@router.post(
    "/{person_id}/restrictions",
    status_code=201,
    summary="Record an objection or a restriction (for one purpose or every purpose)",
    response_model=RestrictionOut,
)
def restrict(
    person_id: PersonId,
    body: RestrictionIn,
    session: SessionDep,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    restriction, created = add_restriction(session, runtime.policy(), person_id, purpose=body.purpose, kind=body.kind)
    return JSONResponse(_restriction(restriction).model_dump(mode="json"), status_code=201 if created else 200)


@router.delete(
    "/{person_id}/restrictions",
    summary="Lift the objection or restriction for a purpose (omit purpose: the every-purpose one)",
    response_model=LiftedOut,
)
def unrestrict(
    person_id: PersonId,
    session: SessionDep,
    purpose: Annotated[str | None, Query(max_length=80)] = None,
    kind: Annotated[Literal["objection", "restriction"] | None, Query()] = None,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
) -> LiftedOut:
    return LiftedOut(lifted=lift_restriction(session, person_id, purpose=purpose, kind=kind))


@router.post(
    "/{person_id}/link-visitor",
    summary="Link a banner visitor to this person; the visitor's choices carry over where newer",
    response_model=LinkOut,
)
def link(
    person_id: PersonId,
    body: LinkIn,
    session: SessionDep,
    _key: ApiKey = Depends(require_scopes(Scope.CONSENT_WRITE)),
    runtime: Runtime = Depends(get_runtime),
) -> LinkOut:
    result = link_visitor(ConsentService.for_runtime(runtime), session, person_id, body.visitor_id)
    return LinkOut(
        visitor_id=result.visitor_id,
        person_id=result.person_id,
        linked=result.created,
        copied_purposes=list(result.copied),
        ledger_position=result.ledger_position,
    )
