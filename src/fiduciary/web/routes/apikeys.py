"""Routes: API keys. `/v1/apikeys/self` lets a store developer check a key; the rest manage keys.

A managing key can grant, and revoke, only keys whose scopes it holds itself, so `apikeys:manage` never
becomes a way to mint an `admin` key (DPDP Rule 6(1)(b): access limited to what each party needs). Creating
and revoking, with their audit events, is `auth.flows`, shared with `fiduciary apikey`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth import service
from fiduciary.auth.flows import create_key_audited, revoke_key_audited
from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.auth.service import KEY_ID_PATTERN
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.runtime import Runtime
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.routes.audit import request_id
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/apikeys", tags=["api keys"], route_class=ContractRoute)


class ApiKeySelf(BaseModel):
    """The calling key as the server sees it."""

    id: str = Field(description="Public key id; the part after `fid_` in the key.")
    name: str
    scopes: list[str]


class ApiKeyOut(ApiKeySelf):
    model_config = ConfigDict(from_attributes=True)

    created_at: datetime
    last_used_at: datetime | None = Field(description="Accurate to about a minute.")
    revoked_at: datetime | None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="A label, e.g. the backend that holds the key.")
    scopes: list[str] = Field(
        min_length=1, max_length=len(Scope), description="Scopes: " + ", ".join(s.value for s in Scope)
    )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown only in this response; store it in a secret store.")


def _out(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(row)


def _in_body(exc: ValidationFailed) -> ValidationFailed:
    """Point the service's field names at the request body, as request validation does."""
    fields = [FieldProblem("body." + f.field, f.message, f.hint) for f in exc.fields]
    return ValidationFailed(exc.detail, fields, code=exc.code)


@router.get("/self", summary="The API key making this request", response_model=ApiKeySelf)
def whoami(key: ApiKey = Depends(require_scopes())) -> ApiKeySelf:
    return ApiKeySelf(id=key.id, name=key.name, scopes=list(key.scopes))


@router.get("", summary="List API keys (never their secrets)", response_model=list[ApiKeyOut])
def list_keys(
    _key: ApiKey = Depends(require_scopes(Scope.APIKEYS_MANAGE)), session: Session = SESSION_DEPENDENCY
) -> list[ApiKeyOut]:
    return [_out(row) for row in service.list_api_keys(session)]


@router.post(
    "",
    status_code=201,
    summary="Create an API key; the key is in this response only",
    response_model=ApiKeyCreated,
)
def create_key(
    body: ApiKeyCreate,
    response: Response,
    caller: ApiKey = Depends(require_scopes(Scope.APIKEYS_MANAGE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> ApiKeyCreated:
    try:
        row, plaintext = create_key_audited(
            runtime, session, caller=caller.id, name=body.name, scopes=body.scopes, grantor=caller, request_id=req_id
        )
    except ValidationFailed as exc:
        raise _in_body(exc) from None
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**_out(row).model_dump(), key=plaintext)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key (idempotent)")
def revoke_key(
    key_id: Annotated[str, Path(pattern=KEY_ID_PATTERN, description="The key's public id.")],
    caller: ApiKey = Depends(require_scopes(Scope.APIKEYS_MANAGE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> Response:
    revoke_key_audited(runtime, session, caller=caller.id, key_id=key_id, grantor=caller, request_id=req_id)
    return Response(status_code=204, headers={"X-Request-ID": req_id})
