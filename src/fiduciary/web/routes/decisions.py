"""Routes: runtime decisions (single and batch) and audiences (streamed).

Thin: parse, call `fiduciary.decisions.flows` (which decides and audits), render. A decision always
answers — an undeclared purpose is a deny with `purpose_not_declared`, not an error — except for a
malformed id (422) and a person id nobody has, asked about a purpose that needs no consent (404: the caller
is confused about who exists; for a consent purpose the answer is simply `no_consent`). In a batch, that
unknown person answers a deny with `unknown_subject` instead, so one stale id does not fail the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.decisions.audiences import MAX_SUBJECT_IDS, eligible_people
from fiduciary.decisions.engine import Decision, Reason
from fiduciary.decisions.flows import audience_audited, decide_audited, decide_many_audited
from fiduciary.decisions.ids import ACTOR_PATTERN
from fiduciary.decisions.service import (
    MAX_BATCH,
    MAX_CATEGORIES,
    DecisionRequest,
    DecisionService,
)
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.schema import Channel, Jurisdiction
from fiduciary.runtime import Runtime
from fiduciary.web.contract import CategoryId, ContractRoute, PersonIdField, PurposeId, SubjectIdField
from fiduciary.web.deps import (
    SESSION_DEPENDENCY,
    get_runtime,
    joins_group_commit,
    run_request_work,
    runtime_dependency,
)
from fiduciary.web.routes.audit import request_id
from fiduciary.web.security import require_scopes
from fiduciary.web.tracing import span

router = APIRouter(prefix="/v1", tags=["decisions"], route_class=ContractRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
Category = CategoryId


class DecisionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: SubjectIdField
    purpose: PurposeId
    categories: list[Category] = Field(
        default_factory=list,
        max_length=MAX_CATEGORIES,
        description="Data categories the caller wants to use; empty means the purpose as declared.",
    )
    jurisdiction: Jurisdiction | None = Field(
        default=None, description="Where this person lives, if not the batch's `jurisdiction`."
    )


# The rule `decisions` enforces, stated in the OpenAPI too: either one decision (subject_id and purpose) or
# a batch in `requests` with subject_id, purpose and categories left out (null or absent).
_ONE_OR_BATCH: dict[str, Any] = {
    "anyOf": [
        {
            "required": ["subject_id", "purpose"],
            "properties": {
                "subject_id": {"type": "string"},
                "purpose": {"type": "string"},
                "requests": {"type": "null"},
            },
        },
        {
            "required": ["requests"],
            "properties": {
                "requests": {"type": "array"},
                "subject_id": {"type": "null"},
                "purpose": {"type": "null"},
                "categories": {"maxItems": 0},
            },
        },
    ]
}


class DecisionIn(BaseModel):
    """One decision, or a batch in `requests` (then leave subject_id, purpose and categories out)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_OR_BATCH)

    actor: str | None = Field(
        default=None,
        pattern=ACTOR_PATTERN,
        description="Who will use the data (a staff id, a job name); default: the API key's id.",
    )
    subject_id: SubjectIdField | None = None
    purpose: PurposeId | None = None
    categories: list[Category] = Field(default_factory=list, max_length=MAX_CATEGORIES)
    requests: list[DecisionItem] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)
    strict: bool = Field(
        default=False, strict=True, description="Deny outright when any requested category is outside the purpose."
    )
    jurisdiction: Jurisdiction | None = Field(
        default=None,
        description="Where the person lives (a jurisdiction the policy declares): each purpose is decided on the "
        "ground the policy states for it there (`grounds_by_jurisdiction`). Absent: each purpose's own ground. "
        "In a batch, the default for requests that name none.",
    )


class DecisionOut(BaseModel):
    subject_id: str
    purpose: str
    jurisdiction: Jurisdiction | None = Field(default=None, description="Present when the request named one.")
    allow: bool
    reasons: list[Reason] = Field(description="Every rule that applied; an allow ends with its ground.")
    allowed_categories: list[str] = Field(description="The field mask: categories that may be used.")
    denied_categories: list[str]


class DecisionResponse(DecisionOut):
    actor: str
    policy_version: int | None


class DecisionBatchResponse(BaseModel):
    actor: str
    policy_version: int | None
    decisions: list[DecisionOut]


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: PurposeId = Field(description="The purpose to reach, e.g. marketing.email.")
    channel: Channel | None = Field(default=None, description="A marketing channel the purpose declares.")
    subject_ids: list[PersonIdField] | None = Field(
        default=None, max_length=MAX_SUBJECT_IDS, description="Only these people (person ids); omit for everyone."
    )


async def decision_service(request: Request) -> DecisionService:
    """The service of the app's runtime; from the request itself, not through `runtime_dependency`: one
    dependency fewer for FastAPI to solve on every request that uses it."""
    return DecisionService.for_runtime(get_runtime(request))


def _out(subject_id: str, decision: Decision, jurisdiction: Jurisdiction | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"subject_id": subject_id, "purpose": decision.purpose}
    if jurisdiction is not None:
        out["jurisdiction"] = jurisdiction.value
    out.update(
        allow=decision.allow,
        reasons=[str(r) for r in decision.reasons],
        allowed_categories=sorted(decision.allowed_categories),
        denied_categories=sorted(decision.denied_categories),
    )
    return out


def _single_fields(body: DecisionIn) -> tuple[str, str]:
    missing = [
        FieldProblem(f"body.{name}", "required (or give a batch in requests)")
        for name in ("subject_id", "purpose")
        if getattr(body, name) is None
    ]
    if missing:
        raise ValidationFailed("A decision needs subject_id and purpose.", missing)
    assert body.subject_id is not None and body.purpose is not None
    return body.subject_id, body.purpose


@router.post(
    "/decisions",
    summary="May this actor use these categories of this subject's data for this purpose? (single or batch)",
    response_model=DecisionResponse | DecisionBatchResponse,
    responses={404: {"description": "Unknown person on a non-consent purpose", **_PROBLEM}, 422: _PROBLEM},
)
@joins_group_commit
async def decisions(
    body: DecisionIn,
    request: Request,
    key: ApiKey = Depends(require_scopes(Scope.DECISIONS)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    service: DecisionService = Depends(decision_service),
    req_id: str = Depends(request_id),
) -> JSONResponse:
    """Answers are built as plain dicts and sent as is: validating 1,000 decisions against the response
    model again would cost more than deciding them. Deciding and auditing is `decisions.flows` (actor: the
    key; the named actor as `on_behalf_of`)."""
    # Async so that one decision on SQLite runs inline under the database gate (`run_request_work`); a batch
    # (up to MAX_BATCH decisions) runs in a worker thread, so it never holds the event loop.
    if body.requests is not None:
        return await run_in_threadpool(_decisions, body, key, session, runtime, service, req_id)
    return await run_request_work(request, _decisions, body, key, session, runtime, service, req_id)


def _decisions(
    body: DecisionIn, key: ApiKey, session: Session, runtime: Runtime, service: DecisionService, req_id: str
) -> JSONResponse:
    """The body of `decisions`, run inline or in a worker thread."""
    actor = body.actor or key.id
    policy_version = service.policy().version
    if body.requests is not None:
        stray = [
            FieldProblem(f"body.{name}", "not allowed with requests; put it in each request")
            for name in ("subject_id", "purpose")
            if getattr(body, name) is not None
        ]
        if body.categories:
            stray.append(FieldProblem("body.categories", "not allowed with requests; put it in each request"))
        if stray:
            raise ValidationFailed("Give either one decision or a batch in requests, not both.", stray)
        policy = service.policy()
        where = [
            policy.declared_jurisdiction(r.jurisdiction or body.jurisdiction, f"body.requests.{i}.jurisdiction")
            for i, r in enumerate(body.requests)
        ]
        reqs = [
            DecisionRequest(r.subject_id, r.purpose, r.categories, j) for r, j in zip(body.requests, where, strict=True)
        ]
        with span("decisions.decide"):  # a child span when the request is traced (web/tracing.py); else nothing
            made = decide_many_audited(
                runtime, session, caller=key.id, requests=reqs, actor=body.actor, strict=body.strict, request_id=req_id
            )
        return JSONResponse(
            {
                "actor": actor,
                "policy_version": policy_version,
                "decisions": [_out(r.subject_id, d, j) for r, d, j in zip(reqs, made, where, strict=True)],
            }
        )
    subject_id, purpose = _single_fields(body)
    jurisdiction = service.policy().declared_jurisdiction(body.jurisdiction, "body.jurisdiction")
    with span("decisions.decide"):
        decision = decide_audited(
            runtime,
            session,
            caller=key.id,
            subject_id=subject_id,
            purpose=purpose,
            categories=body.categories,
            actor=body.actor,
            strict=body.strict,
            request_id=req_id,
            jurisdiction=jurisdiction,
        )
    return JSONResponse({"actor": actor, "policy_version": policy_version, **_out(subject_id, decision, jurisdiction)})


_PLAIN_IDS = re.compile(r"[A-Za-z0-9_\n]*")


def _items(ids: list[str]) -> list[str]:
    """`{"subject_id": …}` per id; ids are checked once per batch so the common case skips json.dumps."""
    if _PLAIN_IDS.fullmatch("\n".join(ids)):
        return [f'{{"subject_id":"{i}"}}' for i in ids]
    return [json.dumps({"subject_id": i}, separators=(",", ":")) for i in ids]


def _ndjson(chunks: Iterator[list[str]]) -> Iterator[bytes]:
    for ids in chunks:
        if ids:
            yield ("\n".join(_items(ids)) + "\n").encode("utf-8")


def _json_array(chunks: Iterator[list[str]]) -> Iterator[bytes]:
    first = True
    yield b"["
    for ids in chunks:
        if not ids:
            continue
        text = ",".join(_items(ids))
        yield (text if first else "," + text).encode("utf-8")
        first = False
    yield b"]"


def _stream(
    runtime: Runtime, service: DecisionService, purpose: str, subject_ids: Sequence[str] | None
) -> Iterator[list[str]]:
    """Run the query in its own session: the request's session is closed before streaming starts."""
    policy = service.policy()
    cp = policy.compiled_purposes[purpose]
    with runtime.sessions() as session:
        yield from eligible_people(session, cp, today=service.today(policy), policy=policy, subject_ids=subject_ids)


@router.post(
    "/audiences",
    summary="Everyone a purpose may reach now, streamed as NDJSON (or a JSON array)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": 'One `{"subject_id": "per_…"}` per line, in id order.',
            "content": {"application/x-ndjson": {}, "application/json": {}},
        },
        422: _PROBLEM,
    },
)
def audiences(
    body: AudienceIn,
    key: ApiKey = Depends(require_scopes(Scope.DECISIONS)),
    runtime: Runtime = Depends(runtime_dependency),
    service: DecisionService = Depends(decision_service),
    session: Session = SESSION_DEPENDENCY,
    req_id: str = Depends(request_id),
    accept: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    audience_audited(
        runtime,
        session,
        caller=key.id,
        purpose=body.purpose,
        channel=body.channel.value if body.channel is not None else None,
        subject_ids=body.subject_ids,
        request_id=req_id,
    )
    # No explicit commit: the function-scoped session commits the audit event when this returns, before the
    # stream starts, so the append never holds SQLite's write lock while the body streams (decision 0012).
    chunks = _stream(runtime, service, body.purpose, body.subject_ids)
    wants_array = accept is not None and "application/json" in accept and "ndjson" not in accept
    if wants_array:
        return StreamingResponse(_json_array(chunks), media_type="application/json")
    return StreamingResponse(_ndjson(chunks), media_type="application/x-ndjson")
