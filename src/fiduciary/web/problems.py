"""RFC 9457 problem details for every error the API returns.

Validation errors name the field (`errors[].field` is a dotted path such as `body.purposes.2`) and never
echo the submitted value, which could be personal data.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fiduciary.errors import FiduciaryError, FieldProblem

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://fiduciary.dev/problems/"


def problem_response(
    status: int,
    title: str,
    detail: str,
    code: str,
    instance: str | None = None,
    fields: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if fields:
        body["errors"] = [
            {"field": f.field, "message": f.message, **({"hint": f.hint} if f.hint else {})} for f in fields
        ]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _fiduciary_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FiduciaryError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(exc.status, exc.title, exc.detail, exc.code, request.url.path, exc.fields, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [FieldProblem(field=_loc_to_field(err["loc"]), message=err["msg"]) for err in exc.errors()]
    return problem_response(
        422,
        "Validation failed",
        "The request has invalid fields.",
        "validation_failed",
        request.url.path,
        fields,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}.get(exc.status_code, "http_error")
    title = {404: "Not found", 405: "Method not allowed", 429: "Too many requests"}.get(exc.status_code, "Error")
    return problem_response(
        exc.status_code, title, str(exc.detail), code, request.url.path, headers=dict(exc.headers or {})
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The exception text may contain values; it goes to the server log only via uvicorn, never the client.
    return problem_response(
        500,
        "Internal error",
        "The server could not complete the request.",
        "internal_error",
        request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FiduciaryError, _fiduciary_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
