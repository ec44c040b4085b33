"""Routes: consent events, current state, receipts, the banner's origin check and GPC.

Thin: parse, call `fiduciary.consent`, render. Every single-subject consent endpoint honours a `Sec-GPC: 1`
request header before it does anything else (CCPA 11 CCR §7025), see `fiduciary.consent.gpc`. A store
backend forwards a browser's signal per subject as `evidence.gpc`; a batch refuses the header itself,
because it cannot say which of the batch's subjects sent it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.consent.evidence import Evidence, evidence_from
from fiduciary.consent.flows import record_with_gpc
from fiduciary.consent.gpc import GPC_JSON_LAST_UPDATE, apply_gpc, gpc_enabled
from fiduciary.consent.reconsent import reconsent_floors
from fiduciary.consent.service import (
    IDEMPOTENCY_KEY_PATTERN,
    ConsentChannel,
    ConsentInput,
    ConsentResult,
    ConsentService,
    check_idempotency_key,
    state_for,
)
from fiduciary.errors import FieldProblem, Forbidden, ValidationFailed
from fiduciary.people.service import get_person
from fiduciary.policy.versions import NoPolicyInForce
from fiduciary.web.contract import (
    WHOLE,
    ContractRoute,
    LanguageTag,
    PersonIdField,
    PurposeId,
    SubjectIdField,
    SubjectIdPath,
)
from fiduciary.web.deps import (
    SESSION_DEPENDENCY,
    get_runtime,
    joins_group_commit,
    request_base_url,
    run_request_work,
)
from fiduciary.web.fast_path import inline_when_policy_cached
from fiduciary.web.security import require_scopes
from fiduciary.web.tracing import span

router = APIRouter(tags=["consent"], route_class=ContractRoute)

MAX_ACTIONS = 100
MAX_BATCH_ITEMS = 1000
MAX_BATCH_ACTIONS = 10_000

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Your key for safe retries (1-64 printable ASCII characters): the same key answers the first"
        " answer again.",
    ),
]
GpcHeader = Annotated[
    str | None,
    Header(
        alias="Sec-GPC",
        description="Global Privacy Control: exactly `1` opts the subject out of sale/sharing and targeted"
        " advertising before the request's own actions; any other value is ignored.",
    ),
]


# ------------------------------------------------------------------------------------------------ models


class ActionIn(BaseModel):
    """One explicit choice for one purpose. There is no default: nothing is pre-ticked (DPDP s.6(1))."""

    model_config = ConfigDict(extra="forbid")

    purpose: PurposeId
    action: Literal["grant", "withdraw", "deny"] = Field(
        description="grant: the person said yes; withdraw: took back a yes; deny: said no when asked."
    )


class EvidenceIn(BaseModel):
    """The person's browser as the store's backend saw it; both are reduced before anything is stored."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str | None = Field(default=None, max_length=1024, description="Stored as its SHA-256.")
    ip_address: str | None = Field(
        default=None, max_length=64, description="Stored truncated to its /24 (IPv4) or /48 (IPv6)."
    )
    gpc: bool = Field(
        default=False,
        strict=True,
        description=(
            "True if the person's browser sent `Sec-GPC: 1` (Global Privacy Control): records the opt-out of"
            " sale/sharing and targeted advertising for this subject before the actions, exactly as the"
            " header on a single-subject request does. A JSON boolean only."
        ),
    )


class ConsentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: SubjectIdField
    channel: ConsentChannel = Field(description="Where the person made the choice.")
    language: LanguageTag | None = Field(
        default=None, description="Language of the notice shown; default the policy's."
    )
    guardian_id: PersonIdField | None = Field(
        default=None, description="For a child: the verified adult guardian's person id."
    )
    actions: list[ActionIn] = Field(min_length=1, max_length=MAX_ACTIONS)
    evidence: EvidenceIn | None = Field(
        default=None, description="The person's user agent and address; default: this request's."
    )


class ConsentBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ConsentRequest] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class ConsentOutcome(BaseModel):
    purpose: str
    status: str
    ledger_position: int
    receipt: dict[str, Any] = Field(description="Signed consent receipt (ISO/IEC TS 27560 shape).")


class ConsentResponse(BaseModel):
    subject_id: str
    results: list[ConsentOutcome]


class ConsentBatchResponse(BaseModel):
    items: list[ConsentResponse]


class PurposeState(BaseModel):
    purpose: str
    declared: bool = Field(description="Whether the policy in force still declares this consent purpose.")
    status: Literal["granted", "withdrawn", "denied", "not_asked"]
    counts: bool = Field(
        description="A grant that counts today: granted, and not given before a material change of the purpose."
    )
    needs_reconsent: bool
    policy_version: int | None = None
    channel: str | None = None
    language: str | None = None
    updated_at: datetime | None = None
    ledger_position: int | None = None


class ConsentStateResponse(BaseModel):
    subject_id: str
    policy_version: int | None
    purposes: list[PurposeState]


# ------------------------------------------------------------------------------------------------ helpers


async def consent_service(request: Request) -> ConsentService:
    """The service of the app's runtime; from the request itself, not through `runtime_dependency`: one
    dependency fewer for FastAPI to solve on every request that uses it."""
    return ConsentService.for_runtime(get_runtime(request))


def _request_evidence(request: Request, given: EvidenceIn | None = None) -> Evidence:
    if given is not None and (given.user_agent or given.ip_address):
        return evidence_from(given.user_agent, given.ip_address)
    return evidence_from(request.headers.get("user-agent"), request.client.host if request.client else None)


def _gpc(request: Request) -> bool:
    """Whether this request carries GPC (every `Sec-GPC` field, not only the one FastAPI would bind)."""
    return gpc_enabled(request.headers.getlist("sec-gpc"))


def _evidence_gpc(given: EvidenceIn | None) -> bool:
    return given is not None and given.gpc


def _scoped_key(key: ApiKey, client_key: str | None) -> str | None:
    if client_key is None:
        return None
    check_idempotency_key(client_key)
    return f"{key.id}:{client_key}"


def _inputs(
    request: ConsentRequest, evidence: Evidence, default_language: str, prefix: str
) -> tuple[list[ConsentInput], list[tuple[str, int]]]:
    items = [
        ConsentInput(
            subject_id=request.subject_id,
            purpose=a.purpose,
            action=a.action,
            channel=request.channel,
            language=request.language or default_language,
            evidence=evidence,
            guardian_id=request.guardian_id,
        )
        for a in request.actions
    ]
    return items, [(prefix, i) for i in range(len(request.actions))]


_REQUEST_FIELDS = frozenset({"subject_id", "channel", "language", "guardian_id"})


def _locator(origins: Sequence[tuple[str, int]]) -> Any:
    """Map a service field problem on input `index` back to where it is in the request body."""

    def locate(index: int, name: str) -> str:
        prefix, action = origins[index]
        if name in _REQUEST_FIELDS:
            return f"{prefix}.{name}"
        return f"{prefix}.actions.{action}.{name}"

    return locate


def _results_json(results: Sequence[ConsentResult]) -> str:
    """The results array as JSON text, splicing in each signed receipt as it was signed (no re-encoding)."""
    return (
        "["
        + ",".join(
            '{"ledger_position":'
            + str(r.ledger_position)
            + ',"purpose":'
            + json.dumps(r.purpose)
            + ',"receipt":'
            + r.receipt_json
            + ',"status":'
            + json.dumps(r.status)
            + "}"
            for r in results
        )
        + "]"
    )


def _subject_json(subject_id: str, results: Sequence[ConsentResult], **extra: str) -> str:
    members = "".join(f"{json.dumps(k)}:{json.dumps(v)}," for k, v in sorted(extra.items()))
    return "{" + members + '"results":' + _results_json(results) + ',"subject_id":' + json.dumps(subject_id) + "}"


def _reply(body: str, replayed: bool = False, status: int = 201) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


def _refuse_batch_gpc_header(request: Request) -> None:
    """A batch's own `Sec-GPC: 1` is refused, never applied to all its subjects (docs/consent.md, GPC).

    The backend sends one batch for many people; a browser header it forwarded belongs to one of them at
    most. Applying it to every subject would write opt-outs, and withdraw grants, that the other people
    never made, into a ledger that is evidence; ignoring it would drop a signal CCPA 11 CCR §7025 requires
    us to honour. Refusing writes nothing and says how to send the signal so that it names its subject.
    """
    if _gpc(request):
        raise ValidationFailed(
            "A Sec-GPC header on a batch cannot say which subject's browser sent it; forward the signal per item"
            " as evidence.gpc: true.",
            [
                FieldProblem(
                    "header.Sec-GPC",
                    "not accepted on a batch",
                    hint="set body.items.N.evidence.gpc to true on each item whose browser sent Sec-GPC: 1",
                )
            ],
            code="gpc_header_on_batch",
        )


# ------------------------------------------------------------------------------------------------ routes


@router.post(
    "/v1/consents",
    status_code=201,
    summary="Record one subject's consent choices (one explicit action per purpose)",
    response_model=ConsentResponse,
    responses={409: {"description": "Not a consent purpose, child protection, closed account, key reuse"}},
)
@joins_group_commit
async def record_consents(
    body: ConsentRequest,
    request: Request,
    key: ApiKey = Depends(require_scopes(Scope.CONSENT_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    service: ConsentService = Depends(consent_service),
    idempotency_key: IdempotencyKeyHeader = None,
    _sec_gpc: GpcHeader = None,
) -> Response:
    # Async so that on SQLite one subject's choices are recorded inline under the database gate
    # (`run_request_work`: no thread hand-offs); elsewhere in a worker thread.
    return await run_request_work(request, _record_consents, body, request, key, session, service, idempotency_key)


def _record_consents(
    body: ConsentRequest,
    request: Request,
    key: ApiKey,
    session: Session,
    service: ConsentService,
    idempotency_key: str | None,
) -> Response:
    scoped = _scoped_key(key, idempotency_key)
    evidence = _request_evidence(request, body.evidence)
    signalled = _gpc(request) or _evidence_gpc(body.evidence)
    policy = service.policy()
    items, origins = _inputs(body, evidence, policy.document.language, "body")
    with span("consent.record"):  # a child span when the request is traced (web/tracing.py); else nothing
        results = record_with_gpc(
            service,
            session,
            items,
            gpc_signals=[(body.subject_id, evidence)] if signalled else (),
            idempotency_key=scoped,
            locate=_locator(origins),
            base_url=request_base_url(request),
        )
    return _reply(_subject_json(body.subject_id, results), any(r.replayed for r in results))


@router.post(
    "/v1/consents/batch",
    status_code=201,
    summary="Record consent choices for many subjects at once (all or nothing)",
    description=(
        "Global Privacy Control is forwarded per item: `evidence.gpc: true` on each item whose browser sent"
        " `Sec-GPC: 1`. A `Sec-GPC: 1` header on the batch itself is refused (422, `gpc_header_on_batch`): a"
        " batch may name several people and the header cannot say whose browser sent it."
    ),
    response_model=ConsentBatchResponse,
)
def record_consent_batch(
    body: ConsentBatch,
    request: Request,
    key: ApiKey = Depends(require_scopes(Scope.CONSENT_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    service: ConsentService = Depends(consent_service),
    idempotency_key: IdempotencyKeyHeader = None,
    _sec_gpc: Annotated[
        str | None,
        Header(
            alias="Sec-GPC",
            description="Refused when exactly `1` (send `evidence.gpc` per item instead); other values are ignored.",
        ),
    ] = None,
) -> Response:
    scoped = _scoped_key(key, idempotency_key)
    _refuse_batch_gpc_header(request)
    total = sum(len(item.actions) for item in body.items)
    if total > MAX_BATCH_ACTIONS:
        raise ValidationFailed(
            f"A batch holds at most {MAX_BATCH_ACTIONS} actions; split it.",
            [FieldProblem("body.items", f"{total} actions in total")],
        )
    default_evidence = _request_evidence(request)
    language = service.policy().document.language
    items: list[ConsentInput] = []
    origins: list[tuple[str, int]] = []
    signals: list[tuple[str, Evidence]] = []
    for index, item in enumerate(body.items):
        evidence = _request_evidence(request, item.evidence) if item.evidence else default_evidence
        if _evidence_gpc(item.evidence):
            signals.append((item.subject_id, evidence))
        more, where = _inputs(item, evidence, language, f"body.items.{index}")
        items.extend(more)
        origins.extend(where)
    # Before the batch's own actions (consent.flows): an explicit grant in the same batch then stands.
    with span("consent.record"):
        results = record_with_gpc(
            service,
            session,
            items,
            gpc_signals=signals,
            idempotency_key=scoped,
            locate=_locator(origins),
            base_url=request_base_url(request),
        )
    grouped: list[str] = []
    cursor = 0
    for item in body.items:
        chunk = results[cursor : cursor + len(item.actions)]
        cursor += len(item.actions)
        grouped.append(_subject_json(item.subject_id, chunk))
    return _reply('{"items":[' + ",".join(grouped) + "]}", any(r.replayed for r in results))


@router.get(
    "/v1/consents/receipts/{position}",
    summary="A consent receipt by ledger position, with the signed checkpoint once sealed",
    response_model=dict[str, Any],
)
def get_receipt(
    position: Annotated[int, Path(ge=1, le=2**53 - 1), WHOLE],
    request: Request,
    _key: ApiKey = Depends(require_scopes(Scope.CONSENT_READ)),
    session: Session = SESSION_DEPENDENCY,
    service: ConsentService = Depends(consent_service),
) -> dict[str, Any]:
    return service.receipt(session, position, base_url=request_base_url(request))


@router.get(
    "/v1/consents/{subject_id}",
    summary="A subject's current consent state for every consent purpose",
    response_model=ConsentStateResponse,
)
async def get_consent_state(
    subject_id: SubjectIdPath,
    request: Request,
    _key: ApiKey = Depends(require_scopes(Scope.CONSENT_READ)),
    session: Session = SESSION_DEPENDENCY,
    service: ConsentService = Depends(consent_service),
    _sec_gpc: GpcHeader = None,
) -> ConsentStateResponse:
    # Async so that on SQLite the read runs inline under the database gate the request already holds
    # (`run_request_work`: no thread hand-offs, as for the writes); elsewhere in a worker thread.
    return await run_request_work(request, _consent_state, subject_id, request, session, service)


def _consent_state(
    subject_id: str, request: Request, session: Session, service: ConsentService
) -> ConsentStateResponse:
    if subject_id.startswith("per_"):
        get_person(session, subject_id, field="path.subject_id")
    if _gpc(request):
        apply_gpc(service, session, subject_id, _request_evidence(request))
    policy = service.policy()
    rows = state_for(session, [subject_id]).get(subject_id, {})
    floors = reconsent_floors(session)
    purposes: list[PurposeState] = []
    for purpose in sorted(policy.consent_purposes | set(rows)):
        row = rows.get(purpose)
        if row is None:
            purposes.append(
                PurposeState(purpose=purpose, declared=True, status="not_asked", counts=False, needs_reconsent=False)
            )
            continue
        stale = row.status == "granted" and row.policy_version < floors.get(purpose, 0)
        purposes.append(
            PurposeState(
                purpose=purpose,
                declared=purpose in policy.consent_purposes,
                status=row.status,
                counts=row.status == "granted" and not stale and purpose in policy.consent_purposes,
                needs_reconsent=stale,
                policy_version=row.policy_version,
                channel=row.channel,
                language=row.language,
                updated_at=row.updated_at,
                ledger_position=row.ledger_position,
            )
        )
    return ConsentStateResponse(subject_id=subject_id, policy_version=policy.version, purposes=purposes)


# ------------------------------------------------------------------------------------------------ public


@functools.lru_cache(maxsize=1024)
def _origin(url: str) -> str | None:
    """The origin (scheme, host, port if not the default) of `url`, None if it has none. Memoised: every
    banner post asks it for the same few URLs (the store's, ours, the page's `Origin`) three or four times,
    and a URL's origin never changes; a flood of distinct headers only evicts older entries."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(request: Request) -> frozenset[str]:
    """The store's website (from the policy) and this service's public origin."""
    base = request_base_url(request)
    try:
        policy = get_runtime(request).policy()
    except NoPolicyInForce:  # no policy in force: only our own origin is allowed
        return frozenset(o for o in (_origin(base),) if o)
    key = (base, policy.content_hash)
    found = _allowed_origins.get(key)
    if found is None:
        # Memoised per base URL and policy content: a banner post asks twice (the origin check, then CORS),
        # and the answer changes only with one of them. Bounded: a new policy or base URL starts afresh.
        if len(_allowed_origins) >= 64:
            _allowed_origins.clear()
        website = _origin(str(policy.document.controller.website))
        found = _allowed_origins[key] = frozenset(o for o in (_origin(base), website) if o)
    return found


_allowed_origins: dict[tuple[str, str], frozenset[str]] = {}


def banner_origin(request: Request) -> str | None:
    """The request's `Origin` when a page there may read the banner endpoint's answers, else None.

    Only `Origin` counts for CORS (the browser compares it with Access-Control-Allow-Origin); `Referer` is
    never echoed. Used by `cross_origin`, which puts the CORS headers on every answer, errors included.
    """
    origin = _origin(request.headers.get("origin") or "")
    return origin if origin and origin in allowed_origins(request) else None


async def check_origin(request: Request) -> str:
    """Public consent logging accepts requests only from the store's own pages (DESIGN.md security model).

    Browsers always send `Origin` on a cross-origin POST; `Referer` is the fallback for same-origin forms.
    Async, and inline unless the policy must be re-read (`inline_when_policy_cached`): a worker thread for
    a check of a few microseconds cost more than the check.
    """
    return await inline_when_policy_cached(get_runtime(request), _checked_origin, request)


def _checked_origin(request: Request) -> str:
    raw = request.headers.get("origin") or request.headers.get("referer")
    origin = _origin(raw) if raw else None
    if origin is None or origin not in allowed_origins(request):
        raise Forbidden("Consent may be logged here only from the store's own website.", code="origin_not_allowed")
    return origin


@router.get("/.well-known/gpc.json", summary="Global Privacy Control support resource", tags=["gpc"])
def gpc_support() -> JSONResponse:
    """We honour GPC (GPC specification §4.1; CCPA 11 CCR §7025)."""
    return JSONResponse({"gpc": True, "lastUpdate": GPC_JSON_LAST_UPDATE}, media_type="application/json")
