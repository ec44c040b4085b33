"""Routes: people (data principals) by pseudonymous id, their age declaration, objections and restrictions,
and linking a banner visitor to the person who signed in.

Responses carry ids and statuses only, never a personal value: even the age is reported as a status
(adult, child, unknown), not as a date, and the residence as the jurisdiction code the store recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.consent.evidence import evidence_from
from fiduciary.consent.guardians import grant_for_account
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.restrictions import Restriction, active_restrictions, add_restriction, lift_restriction
from fiduciary.consent.service import ConsentService
from fiduciary.people import guardianship as lawful_guardians
from fiduciary.people.flows import (
    close_person_audited,
    create_person_audited,
    declare_age_audited,
    record_residence_audited,
)
from fiduciary.people.models import Person
from fiduciary.people.service import get_person
from fiduciary.policy.schema import ID_MAX_LENGTH, ID_PATTERN, Jurisdiction
from fiduciary.runtime import Runtime
from fiduciary.vault.age_tokens import AGE_TOKEN_PATTERN, MAX_TOKEN_LENGTH, verifier_for, verify_adult
from fiduciary.web.contract import (
    ContractRoute,
    IsoDate,
    LanguageTag,
    PersonIdField,
    PersonIdPath,
    PurposeId,
    VisitorIdField,
)
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.routes.audit import request_id
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/people", tags=["people"], route_class=ContractRoute)

PersonId = PersonIdPath


# `declare_age`'s rule in the OpenAPI: exactly one of the two (the other absent or null) ...
_EXACTLY_ONE: dict[str, Any] = {
    "anyOf": [
        {
            "required": ["date_of_birth"],
            "properties": {"date_of_birth": {"type": "string"}, "is_child": {"type": "null"}},
        },
        {"required": ["is_child"], "properties": {"is_child": {"type": "boolean"}, "date_of_birth": {"type": "null"}}},
    ]
}
# ... and on creation, where the declaration is optional, at most one.
_AT_MOST_ONE: dict[str, Any] = {
    "anyOf": [{"properties": {"date_of_birth": {"type": "null"}}}, {"properties": {"is_child": {"type": "null"}}}]
}


class AgeDeclaration(BaseModel):
    """Either a date of birth (not stored: only the day of coming of age is kept) or a yes/no declaration."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_EXACTLY_ONE)

    date_of_birth: IsoDate | None = Field(default=None, description="An ISO 8601 date, YYYY-MM-DD.")
    is_child: bool | None = Field(default=None, strict=True)


_RESIDENCE = (
    "Where the person lives: a jurisdiction the policy declares (IN, EU, UK, US-CA). Decisions then apply the "
    "ground the policy states for each purpose there and that jurisdiction's age band; absent, each purpose's "
    "own ground and the policy-wide ages."
)


class PersonCreate(AgeDeclaration):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_AT_MOST_ONE)

    jurisdiction: Jurisdiction | None = Field(default=None, description=_RESIDENCE)


class ResidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: Jurisdiction | None = Field(description=_RESIDENCE + " null clears it.")


class PersonOut(BaseModel):
    id: str
    status: Literal["active", "closed"]
    age_status: Literal["adult", "child", "unknown"]
    created_at: datetime
    closed_at: datetime | None
    guardianship: Literal["none", "pending", "verified"] = Field(
        default="none", description="A lawful guardian (DPDP Rule 11): none, pending staff verification, verified."
    )
    jurisdiction: str | None = Field(default=None, description="Where the person lives, when recorded.")


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["objection", "restriction"] = Field(
        description="objection: stop a purpose on legitimate use/interests or contract (DPDP s.7(a), GDPR Art 21); "
        "restriction: pause processing (GDPR Art 18)."
    )
    purpose: PurposeId | None = Field(
        default=None, description="A purpose id; omit for every purpose not required by law."
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

    visitor_id: VisitorIdField = Field(description="The banner visitor id `vis_…` of the browser that signed in.")


class LinkOut(BaseModel):
    visitor_id: str
    person_id: str
    linked: bool = Field(description="False when the visitor was already linked to this person (nothing written).")
    copied_purposes: list[str]
    ledger_position: int | None


class AgeTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        pattern=AGE_TOKEN_PATTERN,
        max_length=MAX_TOKEN_LENGTH,
        description="A virtual age token naming this person (DPDP Rule 10(1)(b)).",
    )


class GuardianshipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guardian_id: PersonIdField = Field(description="The lawful guardian's person id (an active adult).")
    order_reference: str = Field(
        max_length=200, description="Reference to the order of appointment (court, designated authority, committee)."
    )


class GuardianshipVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verified_by: str = Field(max_length=100, description="The staff id of who checked the order of appointment.")


class GuardianConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guardian_id: PersonIdField = Field(description="The guardian's person id: an active, verified adult.")
    action: Literal["grant", "withdraw"] = "grant"
    language: LanguageTag = Field(default="en", description="The language of the notice the guardian saw.")


class GuardianConsentOut(BaseModel):
    subject_id: str
    guardian_id: str
    purposes: list[str] = Field(description="The account purposes the guardian's choice covers, one event each.")
    ledger_positions: list[int]


def _out(person: Person) -> PersonOut:
    return PersonOut(
        id=person.id,
        status=person.status,
        age_status=person.age_status,
        created_at=person.created_at,
        closed_at=person.closed_at,
        guardianship="none"
        if person.lawful_guardian_id is None
        else "verified"
        if person.guardianship_verified_at
        else "pending",
        jurisdiction=person.jurisdiction,
    )


def _restriction(r: Restriction) -> RestrictionOut:
    return RestrictionOut(id=r.id, purpose=r.purpose, kind=r.kind, created_at=r.created_at)


@router.post(
    "", status_code=201, summary="Create a person (optionally with an age declaration)", response_model=PersonOut
)
def create(
    body: PersonCreate,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> PersonOut:
    person = create_person_audited(
        runtime,
        session,
        actor=key.id,
        date_of_birth=body.date_of_birth,
        is_child=body.is_child,
        request_id=req_id,
        jurisdiction=body.jurisdiction.value if body.jurisdiction is not None else None,
    )
    return _out(person)


@router.get("/{person_id}", summary="A person's id, status and age status", response_model=PersonOut)
def read(
    person_id: PersonId,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_READ)),
    session: Session = SESSION_DEPENDENCY,
) -> PersonOut:
    return _out(get_person(session, person_id, field="path.person_id"))


@router.post("/{person_id}/age", summary="Declare or correct a person's age", response_model=PersonOut)
def age(
    person_id: PersonId,
    body: AgeDeclaration,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> PersonOut:
    # A child found on a store that serves none: the account is closed (status `closed` in the answer).
    person = declare_age_audited(
        runtime,
        session,
        actor=key.id,
        person_id=person_id,
        date_of_birth=body.date_of_birth,
        is_child=body.is_child,
        request_id=req_id,
        field="path.person_id",
    )
    return _out(person)


@router.put("/{person_id}/jurisdiction", summary="Record (or clear) where a person lives", response_model=PersonOut)
def residence(
    person_id: PersonId,
    body: ResidenceIn,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> PersonOut:
    person = record_residence_audited(
        runtime,
        session,
        actor=key.id,
        person_id=person_id,
        jurisdiction=body.jurisdiction.value if body.jurisdiction is not None else None,
        request_id=req_id,
        field="path.person_id",
    )
    return _out(person)


@router.post(
    "/{person_id}/age-token",
    summary="Verify that a person is an adult with a virtual token (a guardian's due diligence, DPDP Rule 10(1)(b))",
    response_model=PersonOut,
)
def age_token(
    person_id: PersonId,
    body: AgeTokenIn,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> PersonOut:
    person = get_person(session, person_id, field="path.person_id")
    verify_adult(session, person, body.token, verifier_for(runtime), now=datetime.now(UTC))
    return _out(person)


@router.post("/{person_id}/close", summary="Close a person's account", response_model=PersonOut)
def close(
    person_id: PersonId,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> PersonOut:
    return _out(close_person_audited(runtime, session, actor=key.id, person_id=person_id, request_id=req_id))


@router.get(
    "/{person_id}/restrictions", summary="Active objections and restrictions", response_model=list[RestrictionOut]
)
def list_restrictions(
    person_id: PersonId,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_READ)),
    session: Session = SESSION_DEPENDENCY,
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
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> JSONResponse:
    restriction, created = add_restriction(
        session, runtime.policy(), person_id, purpose=body.purpose, kind=body.kind, runtime=runtime
    )
    return JSONResponse(_restriction(restriction).model_dump(mode="json"), status_code=201 if created else 200)


@router.delete(
    "/{person_id}/restrictions",
    summary="Lift the objection or restriction for a purpose (omit purpose: the every-purpose one)",
    response_model=LiftedOut,
)
def unrestrict(
    person_id: PersonId,
    purpose: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)] = None,
    kind: Annotated[Literal["objection", "restriction"] | None, Query()] = None,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
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
    _key: ApiKey = Depends(require_scopes(Scope.CONSENT_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> LinkOut:
    result = link_visitor(ConsentService.for_runtime(runtime), session, person_id, body.visitor_id)
    return LinkOut(
        visitor_id=result.visitor_id,
        person_id=result.person_id,
        linked=result.created,
        copied_purposes=list(result.copied),
        ledger_position=result.ledger_position,
    )


@router.post(
    "/{person_id}/guardian-consent",
    status_code=201,
    summary="A guardian's consent for a child's account: every non-consent purpose of the account (DPDP s.9(1))",
    response_model=GuardianConsentOut,
)
def guardian_consent(
    person_id: PersonId,
    body: GuardianConsentIn,
    request: Request,
    _key: ApiKey = Depends(require_scopes(Scope.CONSENT_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> GuardianConsentOut:
    get_person(session, person_id, field="path.person_id")
    evidence = evidence_from(request.headers.get("user-agent"), request.client.host if request.client else None)
    results = grant_for_account(
        ConsentService.for_runtime(runtime),
        session,
        person_id,
        body.guardian_id,
        action=body.action,
        language=body.language,
        evidence=evidence,
    )
    return GuardianConsentOut(
        subject_id=person_id,
        guardian_id=body.guardian_id,
        purposes=[r.purpose for r in results],
        ledger_positions=[r.ledger_position for r in results],
    )


@router.post(
    "/{person_id}/guardianship",
    summary="Record a lawful guardian of a person with a disability, pending verification (DPDP Rule 11)",
    response_model=PersonOut,
)
def guardianship(
    person_id: PersonId,
    body: GuardianshipIn,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> PersonOut:
    return _out(lawful_guardians.appoint(session, runtime.policy(), person_id, body.guardian_id, body.order_reference))


@router.post(
    "/{person_id}/guardianship/verify",
    summary="Staff checked the order of appointment: the lawful guardian's consent now counts (DPDP Rule 11)",
    response_model=PersonOut,
)
def verify_guardianship(
    person_id: PersonId,
    body: GuardianshipVerifyIn,
    _key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
) -> PersonOut:
    return _out(lawful_guardians.verify(session, person_id, body.verified_by))
