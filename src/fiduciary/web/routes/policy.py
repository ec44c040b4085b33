"""Public policy endpoints: the version in force, the version history, what changed, and the exports.

No API key, only the public rate limit: the notice and its history are public by law (DPDP Rule 3,
GDPR Art 13, ISO/IEC 29184 5.2.9 "ongoing reference"). Each response carries the content hash, so anyone
can check that the document they were shown is the one a consent record cites: the SHA-256 of the
canonical JSON of `document` (sorted keys, no whitespace, UTF-8) equals `content_hash`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fiduciary.policy import versions
from fiduciary.policy.diff import PolicyChange
from fiduciary.policy.export import ExportFormat, export_policy
from fiduciary.policy.schema import PolicyDocument
from fiduciary.web.contract import WHOLE, ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY
from fiduciary.web.security import public_rate_limit

# Version numbers are 32-bit integers on both engines; a larger one can only be a bad request.
MAX_VERSION = 2**31 - 1

router = APIRouter(
    prefix="/v1/policy", tags=["policy"], dependencies=[Depends(public_rate_limit)], route_class=ContractRoute
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class PolicyChangeOut(BaseModel):
    path: str = Field(description="Where the change is, items addressed by id, e.g. purposes[marketing.email].")
    kind: Literal["added", "removed", "changed"]
    summary: str = Field(description="One plain sentence.")
    material: bool = Field(description="Material changes are announced and may require consent again.")
    reason: str | None = Field(description="Why the change is material.")
    affected_purposes: list[str] = Field(description="Purposes whose earlier consent this change goes beyond.")

    @classmethod
    def of(cls, change: PolicyChange) -> PolicyChangeOut:
        # PolicyChange.to_dict is the one field mapping: it is also what a version stores (see versions.py).
        return cls.model_validate(change.to_dict())


class PolicyVersionSummary(BaseModel):
    version: int
    content_hash: str = Field(description='"sha256:" and the hex SHA-256 of the canonical JSON document.')
    name: str
    effective_from: datetime
    published_at: datetime
    material: bool = Field(description="Whether this version changed anything material from the one before.")
    change_count: int
    in_force: bool


class PolicyVersionList(BaseModel):
    current_version: int | None = Field(description="The version in force now, if any.")
    versions: list[PolicyVersionSummary] = Field(description="Oldest first.")


class PolicyOut(BaseModel):
    version: int
    content_hash: str
    name: str
    effective_from: datetime
    published_at: datetime
    material: bool
    document: PolicyDocument


class PolicyVersionOut(PolicyOut):
    in_force: bool
    changes: list[PolicyChangeOut] = Field(description="What changed from the version before.")


class PolicyDiffOut(BaseModel):
    from_version: int
    to_version: int
    material: bool
    reconsent_purposes: list[str] = Field(description="Purposes whose consent must be asked again.")
    changes: list[PolicyChangeOut]


def _etag(policy: versions.PublishedPolicy) -> str:
    return f'"{policy.content_hash}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison, a list of tags, or `*`."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _fields(policy: versions.PublishedPolicy) -> dict[str, Any]:
    """The fields every policy response shares, so the two response models cannot drift apart."""
    return {
        "version": policy.version,
        "content_hash": policy.content_hash,
        "name": policy.name,
        "effective_from": policy.effective_from,
        "published_at": policy.published_at,
        "material": policy.material,
        "document": policy.document,
    }


def _out(policy: versions.PublishedPolicy) -> PolicyOut:
    return PolicyOut(**_fields(policy))


@router.get(
    "",
    response_model=PolicyOut,
    summary="The policy in force now",
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)."}, 503: _PROBLEM},
)
def get_policy(
    response: Response,
    if_none_match: str | None = Header(default=None),
    session: Session = SESSION_DEPENDENCY,
) -> PolicyOut | Response:
    """The current version with its full document. The ETag is the content hash."""
    policy = versions.current(session)
    if policy is None:
        raise versions.NoPolicyInForce()
    etag = _etag(policy)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return _out(policy)


@router.get("/versions", response_model=PolicyVersionList, summary="Every published version")
def list_versions(session: Session = SESSION_DEPENDENCY) -> PolicyVersionList:
    in_force = versions.current(session)
    current_version = in_force.version if in_force else None
    return PolicyVersionList(
        current_version=current_version,
        versions=[
            PolicyVersionSummary(
                version=v.version,
                content_hash=v.content_hash,
                name=v.name,
                effective_from=v.effective_from,
                published_at=v.published_at,
                material=v.material,
                change_count=len(v.changes),
                in_force=v.version == current_version,
            )
            for v in versions.history(session)
        ],
    )


@router.get(
    "/versions/{version}",
    response_model=PolicyVersionOut,
    summary="One published version with its changes",
    responses={304: {"description": "Not modified."}, 404: _PROBLEM, 422: _PROBLEM},
)
def get_version(
    response: Response,
    version: Annotated[int, Path(ge=1, le=MAX_VERSION, description="The version number."), WHOLE],
    if_none_match: str | None = Header(default=None),
    session: Session = SESSION_DEPENDENCY,
) -> PolicyVersionOut | Response:
    policy = versions.get(session, version)
    etag = _etag(policy)
    # A published version never changes, so caches may keep it.
    headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    in_force = versions.current(session)
    response.headers.update(headers)
    return PolicyVersionOut(
        **_fields(policy),
        in_force=in_force is not None and in_force.version == policy.version,
        changes=[PolicyChangeOut.of(c) for c in policy.changes],
    )


@router.get(
    "/diff",
    response_model=PolicyDiffOut,
    summary="What changed between two versions",
    responses={404: _PROBLEM, 422: _PROBLEM, 503: _PROBLEM},
)
def diff(
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION, description="The earlier version."), WHOLE],
    to_version: Annotated[
        int | None,
        Query(alias="to", ge=1, le=MAX_VERSION, description="The later version (default: the one in force)."),
        WHOLE,
    ] = None,
    session: Session = SESSION_DEPENDENCY,
) -> PolicyDiffOut:
    if to_version is None:
        in_force = versions.current(session)
        if in_force is None:
            raise versions.NoPolicyInForce()
        to_version = in_force.version
    changes = versions.diff_versions(session, from_version, to_version)
    return PolicyDiffOut(
        from_version=from_version,
        to_version=to_version,
        material=any(c.material for c in changes),
        reconsent_purposes=sorted({p for c in changes if c.material for p in c.affected_purposes}),
        changes=[PolicyChangeOut.of(c) for c in changes],
    )


@router.get(
    "/export",
    summary="The policy in force as a fideslang manifest or W3C DPV JSON-LD",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "fideslang: a manifest `{system: [...]}` (JSON; Fides reads it as it reads YAML). "
            "dpv: a JSON-LD document with its `@context` inline.",
            "content": {"application/json": {}, "application/ld+json": {}},
        },
        304: {"description": "Not modified."},
        422: _PROBLEM,
        503: _PROBLEM,
    },
)
def export(
    format: Annotated[ExportFormat, Query(description="fideslang (for Fides) or dpv (W3C Data Privacy Vocabulary).")],
    if_none_match: str | None = Header(default=None),
    session: Session = SESSION_DEPENDENCY,
) -> Response:
    """The data map of the policy in force, for other privacy tools (issue 12). Public like the policy itself:
    it says nothing the published notice does not. Notes on approximations are in the fideslang system's
    `meta.fiduciary.notes`."""
    policy = versions.current(session)
    if policy is None:
        raise versions.NoPolicyInForce()
    etag = f'"{policy.content_hash}:{format.value}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    exported = export_policy(policy.document, format)
    media_type = "application/ld+json" if format is ExportFormat.DPV else "application/json"
    return JSONResponse(exported.data, media_type=media_type, headers=headers)
