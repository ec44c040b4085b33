"""RFC 9457 problem details for every error the API returns.

Validation errors name the field (`errors[].field` is a dotted path such as `body.purposes.2`) and never
echo the submitted value, which could be personal data. `instance` is the request's opaque id
(`urn:fiduciary:request:<id>`, the same id as the `X-Request-ID` header), never the request path: paths
carry person ids, e-mail addresses typed into the wrong place and unsubscribe tokens (decision 0017).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.storage.group_commit import GroupCommitFailed
from fiduciary.web.access_log import problem_instance

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Seconds a client is asked to wait after 503 database_unavailable: a restarted database or a writer holding
# SQLite's lock past busy_timeout is usually gone by then.
DATABASE_RETRY_AFTER_SECONDS = 2
PROBLEM_BASE = "https://fiduciary.dev/problems/"


def problem_response(
    status: int,
    title: str,
    detail: str,
    code: str,
    instance: str | None = None,
    fields: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    extensions: Mapping[str, str | int | None] | None = None,
) -> JSONResponse:
    """A problem document; `extensions` are extra members (RFC 9457 s.3.2), codes and counts only."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **(extensions or {}),
    }
    if instance:
        body["instance"] = instance
    if fields:
        body["errors"] = [
            {"field": f.field, "message": f.message, **({"hint": f.hint} if f.hint else {})} for f in fields
        ]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def request_instance(request: Request) -> str | None:
    """The `instance` of a problem answering `request`: its opaque request id (set by the middleware)."""
    request_id = request.scope.get("state", {}).get("request_id")
    return problem_instance(request_id if isinstance(request_id, str) else None)


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _fiduciary_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FiduciaryError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    retry_after = getattr(exc, "retry_after", None)  # a domain's 429 (e.g. identity.codes.TooManyCodes)
    if exc.status == 429 and isinstance(retry_after, int | float):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return problem_response(
        exc.status, exc.title, exc.detail, exc.code, request_instance(request), exc.fields, headers=headers or None
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [FieldProblem(field=_loc_to_field(err["loc"]), message=err["msg"]) for err in exc.errors()]
    return problem_response(
        422,
        "Validation failed",
        "The request has invalid fields.",
        "validation_failed",
        request_instance(request),
        fields,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 408: "request_timeout", 429: "rate_limited"}.get(
        exc.status_code, "http_error"
    )
    title = {404: "Not found", 405: "Method not allowed", 408: "Request timeout", 429: "Too many requests"}.get(
        exc.status_code, "Error"
    )
    return problem_response(
        exc.status_code, title, str(exc.detail), code, request_instance(request), headers=dict(exc.headers or {})
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The exception text may contain values; it goes to the server log only via uvicorn, never the client.
    return problem_response(
        500,
        "Internal error",
        "The server could not complete the request.",
        "internal_error",
        request_instance(request),
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database refused or dropped us (restarted, unreachable, pool exhausted, SQLite's write lock held
    past busy_timeout, the COMMIT of a request's group failed): 503 with Retry-After, nothing committed (the
    request's transaction rolled back). The pool has invalidated the broken connection and pre-ping tests
    the next one, so the service recovers by itself when the database is back (issue 17). The driver's
    message may quote parameters: only the class is logged."""
    log.warning("database unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
    return problem_response(
        503,
        "Database unavailable",
        "The database is unavailable or busy; nothing was changed. Retry after the time in Retry-After.",
        "database_unavailable",
        request_instance(request),
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FiduciaryError, _fiduciary_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (OperationalError, InterfaceError, PoolTimeoutError, GroupCommitFailed):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. `errors` names each invalid field; values are never echoed.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {
            "type": "string",
            "description": "The request's opaque id (`urn:fiduciary:request:<id>`, also sent as `X-Request-ID`).",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "hint": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(app: FastAPI) -> None:
    """Make the published OpenAPI say what the API really answers on errors: problem+json, never FastAPI's
    default `HTTPValidationError`. Every error response of every operation points at one Problem schema,
    and 4XX/5XX ranges are declared where an operation lists none of its own."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = original()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = PROBLEM_SCHEMA
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path_item in spec.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                # Pages for people (HTML on success) may answer an error with a page too.
                success_types = {t for st, r in responses.items() if st[0] == "2" for t in r.get("content", {})}
                errors = problem
                if success_types and success_types <= {"text/html"}:
                    errors = {**problem, "text/html": {"schema": {"type": "string"}}}
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = errors
                        if status == "422":
                            response["description"] = "A field is invalid; `errors` names it."
                responses.setdefault("4XX", {"description": "Client error", "content": errors})
                responses.setdefault("5XX", {"description": "Server error", "content": errors})
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
