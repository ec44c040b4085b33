"""Routes: a person's personal fields through the purpose-bound access layer, lookup, export and erasure.

Thin: parse, call `fiduciary.vault.access.VaultAccess` (reads, writes, lookups) or `fiduciary.rights.flows`
(export, erasure), render. Every call is audited, refused ones too, by the flow's unit of work: a refusal
rolls the request back and is recorded in its own transaction.

Identifiers never travel in URLs (they would land in access logs and browser histories): lookup is a POST
with the identifier in the body, and a miss answers 404 through the same code path as a hit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.codes import SLUG_PATTERN
from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.policy.schema import AccessRole, Source
from fiduciary.rights import flows as rights_flows
from fiduciary.runtime import Runtime
from fiduciary.vault.access import MAX_CATEGORIES, VaultAccess
from fiduciary.vault.fields import MAX_VALUE_BYTES
from fiduciary.vault.identifiers import MAX_IDENTIFIER_CHARS
from fiduciary.vault.keys.blind_index import IDENTIFIER_KINDS
from fiduciary.web.access_log import problem_instance
from fiduciary.web.contract import CategoryId, ContractRoute, PersonIdPath, PurposeId
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.problems import problem_response
from fiduciary.web.routes.audit import REQUEST_ID_HEADER, request_id
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/people", tags=["personal data"], route_class=ContractRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
PersonId = PersonIdPath
Category = CategoryId
Value = Annotated[str, Field(max_length=MAX_VALUE_BYTES, description="The value, as text (JSON types as JSON text).")]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_IDENTIFIER_CHARS)]


class FieldsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose_of_collection: PurposeId = Field(
        description="Why the store collects these values; the purpose must list every category (DPDP s.5, s.6(1))."
    )
    source: Source = Field(
        description="How the store obtained them: provided, automatic, third_party, created_by_us or in_store."
    )
    fields: dict[Category, Value] = Field(
        default_factory=dict,
        max_length=MAX_CATEGORIES,
        description='Category → value, e.g. {"contact.email": "…"}; at least one field or identifier.',
    )
    identifiers: dict[Literal["email", "phone", "customer_id"], Identifier] = Field(
        default_factory=dict,
        description="Identifiers that make the person findable by POST /v1/people/lookup (exact match, "
        "blind-indexed); an identifier already registered to another person is a 409.",
    )


class FieldsWritten(BaseModel):
    person_id: str
    purpose_of_collection: str
    source: str
    categories: list[str]
    reasons: list[str] = Field(description="The decision's reason codes (the ground the collection rests on).")


class FieldsRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: PurposeId = Field(description="Why the data is used now; required for every read.")
    categories: list[Category] = Field(
        default_factory=list,
        max_length=MAX_CATEGORIES,
        description="The categories wanted; empty means every category the purpose declares.",
    )
    role: AccessRole | None = Field(
        default=None,
        description="Who will see the values; decides masking. Default `service`: the backend's own processing.",
    )


class FieldsReadOut(BaseModel):
    person_id: str
    purpose: str
    role: str
    fields: dict[str, str] = Field(description="Allowed categories that have a value; masked ones as their mask.")
    masked: list[str] = Field(description="Categories whose value is masked for this role and purpose.")
    denied: dict[str, list[str]] = Field(description="Withheld categories with the reason codes.")
    absent: list[str] = Field(description="Allowed categories with no value stored.")
    reasons: list[str] = Field(description="The decision's reason codes.")


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["email", "phone", "customer_id"] = Field(
        description="Identifier kind: " + ", ".join(IDENTIFIER_KINDS)
    )
    value: str = Field(min_length=1, max_length=MAX_IDENTIFIER_CHARS, description="Matched exactly after normalising.")
    purpose: PurposeId | None = Field(default=None, description="Recorded if given.")


class LookupOut(BaseModel):
    person_id: str


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        default="erasure_request",
        max_length=64,
        pattern=SLUG_PATTERN,
        description="A reason code, e.g. erasure_request, account_deleted.",
    )


class EraseReportOut(BaseModel):
    domain: str
    deleted: int
    changed: int
    kept: int | None = None
    kept_basis: str | None = None
    detail: dict[str, int] | None = None


class ErasureOut(BaseModel):
    person_id: str
    reason: str
    erased_at: datetime
    domains: list[EraseReportOut]


class ExportOut(BaseModel):
    person_id: str
    generated_at: datetime
    domains: dict[str, dict[str, Any]] = Field(description="What each registered domain holds about the person.")
    audit_position: int = Field(description="The audit event that records this export.")


def vault_access(runtime: Runtime = Depends(runtime_dependency)) -> VaultAccess:
    """Resolved before authentication: proving the vault keys on first use writes in a transaction of its
    own, which must not wait behind the request's (SQLite has one writer)."""
    return VaultAccess.for_runtime(runtime)


def _located(problems: list[FieldProblem]) -> list[FieldProblem]:
    """Point the access layer's field names at the request (body.…, path.person_id)."""
    out = []
    for p in problems:
        if p.field == "person_id":
            out.append(FieldProblem("path.person_id", p.message, p.hint))
        elif p.field.startswith(("body.", "path.", "query.")):
            out.append(p)
        else:
            out.append(FieldProblem("body." + p.field if p.field else "body", p.message, p.hint))
    return out


@contextmanager
def _located_problems() -> Iterator[None]:
    try:
        yield
    except FiduciaryError as exc:
        exc.fields = _located(exc.fields)
        raise


@router.put(
    "/{person_id}/fields",
    summary="Collect or correct a person's fields under a purpose of collection",
    response_model=FieldsWritten,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
def put_fields(
    person_id: PersonId,
    body: FieldsWrite,
    access: VaultAccess = Depends(vault_access),
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    req_id: str = Depends(request_id),
) -> FieldsWritten:
    with _located_problems():
        result = access.write_fields(
            session,
            key.id,
            person_id,
            body.purpose_of_collection,
            body.source.value,
            body.fields,
            identifiers={str(kind): value for kind, value in body.identifiers.items()},
            request_id=req_id,
        )
    return FieldsWritten(
        person_id=result.person_id,
        purpose_of_collection=result.purpose_of_collection,
        source=result.source,
        categories=result.categories,
        reasons=result.reasons,
    )


@router.post(
    "/{person_id}/fields/read",
    summary="Read a person's fields for a purpose: allowed ones (masked by role), denied ones with reasons",
    response_model=FieldsReadOut,
    responses={404: _PROBLEM, 410: _PROBLEM, 422: _PROBLEM},
)
def read_fields(
    person_id: PersonId,
    body: FieldsRead,
    access: VaultAccess = Depends(vault_access),
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_READ)),
    session: Session = SESSION_DEPENDENCY,
    req_id: str = Depends(request_id),
) -> FieldsReadOut:
    with _located_problems():
        result = access.read_fields(
            session,
            key.id,
            body.role.value if body.role is not None else None,
            person_id,
            body.purpose,
            body.categories,
            request_id=req_id,
        )
    return FieldsReadOut(**result.to_dict())


@router.post(
    "/lookup",
    summary="Find a person by an exact identifier (in the body, never the URL)",
    response_model=LookupOut,
    responses={404: {"description": "No person has this identifier", **_PROBLEM}, 422: _PROBLEM},
)
def lookup(
    body: LookupIn,
    access: VaultAccess = Depends(vault_access),
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_READ)),
    session: Session = SESSION_DEPENDENCY,
    req_id: str = Depends(request_id),
) -> Any:
    with _located_problems():
        found = access.lookup(session, key.id, body.kind, body.value, purpose=body.purpose, request_id=req_id)
    if found is None:
        # Returned, not raised: the audit event of the miss commits with the request, as a hit's does.
        return problem_response(
            404,
            "Not found",
            "No person has this identifier.",
            "person_not_found",
            problem_instance(req_id),
            headers={REQUEST_ID_HEADER: req_id},
        )
    return LookupOut(person_id=found)


@router.get(
    "/{person_id}/export",
    summary="Everything held about a person, from every registered domain (access and portability requests)",
    response_model=ExportOut,
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def export(
    person_id: PersonId,
    runtime: Runtime = Depends(runtime_dependency),
    # An access/portability request (DPDP s.11, GDPR Art 15/20) is a rights request: rights:manage.
    key: ApiKey = Depends(require_scopes(Scope.RIGHTS_MANAGE)),
    session: Session = SESSION_DEPENDENCY,
    req_id: str = Depends(request_id),
) -> JSONResponse:
    with _located_problems():
        exported = rights_flows.export_person(runtime, session, actor=key.id, person_id=person_id, request_id=req_id)
    return JSONResponse(
        ExportOut.model_validate(exported).model_dump(mode="json"),
        headers={REQUEST_ID_HEADER: req_id, "Cache-Control": "no-store"},
    )


@router.post(
    "/{person_id}/erase",
    summary="Erase a person: every registered eraser runs, the vault crypto-shreds their data key",
    response_model=ErasureOut,
    responses={404: _PROBLEM, 422: _PROBLEM},
)
def erase(
    person_id: PersonId,
    body: EraseIn | None = None,
    runtime: Runtime = Depends(runtime_dependency),
    # Irreversible erasure (DPDP s.12(3), GDPR Art 17) is a rights request: rights:manage, never the
    # people:write a checkout backend holds to create people.
    key: ApiKey = Depends(require_scopes(Scope.RIGHTS_MANAGE)),
    session: Session = SESSION_DEPENDENCY,
    req_id: str = Depends(request_id),
) -> ErasureOut:
    reason = body.reason if body is not None else "erasure_request"
    with _located_problems():
        summary = rights_flows.erase_person(
            runtime, session, actor=key.id, person_id=person_id, reason=reason, request_id=req_id
        )
    return ErasureOut.model_validate(summary.to_dict())
