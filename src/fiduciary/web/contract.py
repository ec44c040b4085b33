"""The API's contract made exact: what the OpenAPI says is what the server accepts, and nothing else.

- `parse_json_body` is the one place request bodies are parsed; a key given twice in one JSON object is a
  422 naming it (RFC 8259 s.4 leaves duplicates to the parser; "the last one wins" would let a proxy or a
  logger see one value and us act on another).
- `ContractRoute` is the route class of every router; it parses bodies with `parse_json_body`.
- `IsoDate`, `IsoDateTime` and `WholeNumber` refuse the coercions Pydantic's lax mode allows (a number as a
  date, a float as an integer): a date is an ISO 8601 string only.
- `install_options` answers `OPTIONS` on every route with 204 and `Allow` (RFC 9110 s.9.3.7).
- `document_scopes` writes each operation's required scope into its OpenAPI description; the `security`
  requirement itself comes from `require_scopes` (an API key) or `web.customer` (a customer session).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BeforeValidator, Field, StringConstraints
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from fiduciary.decisions.ids import PERSON_ID_PATTERN, SUBJECT_ID_PATTERN, VISITOR_ID_PATTERN
from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.policy.schema import ID_MAX_LENGTH, ID_PATTERN, LANGUAGE_PATTERN
from fiduciary.web.fast_path import is_json_media_type, planned_handler
from fiduciary.web.security import cors_resolver, cross_origin

# ------------------------------------------------------------------------------------------------ bodies


class DuplicateKey(ValueError):
    """A JSON object names the same key twice; `path` is where the object is in the document."""

    def __init__(self, key: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(key)
        self.key = key
        self.path = path


def _first_duplicate(pairs: list[tuple[str, Any]]) -> str | None:
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            return key
        seen.add(key)
    return None


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise DuplicateKey(_first_duplicate(pairs) or "")
    return obj


class _Pairs(dict[str, Any]):
    """An object as parsed for locating a duplicate: its first duplicate key, if any."""

    duplicate: str | None = None


def _keep_pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    obj = _Pairs(pairs)
    if len(obj) != len(pairs):
        obj.duplicate = _first_duplicate(pairs)  # linear: a hostile body may hold many keys
    return obj


def _locate(value: Any, path: tuple[str | int, ...]) -> DuplicateKey | None:
    """The first duplicate in document order (depth first), with its path."""
    if isinstance(value, _Pairs):
        for key, child in value.items():
            found = _locate(child, (*path, key))
            if found is not None and value.duplicate is None:
                return found
        if value.duplicate is not None:
            return DuplicateKey(value.duplicate, path)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found = _locate(child, (*path, index))
            if found is not None:
                return found
    return None


def parse_json_body(body: bytes) -> Any:
    """Parse a request body as JSON, refusing duplicate keys with a 422 that names the key and its object.

    The common case costs one dict per object (the C parser calls the hook); locating a duplicate parses
    again, which only a refused request pays. A body that is not JSON raises `json.JSONDecodeError`, which
    the caller leaves to FastAPI's own "JSON decode error" answer.
    """
    try:
        return json.loads(body, object_pairs_hook=_refuse_duplicates)
    except DuplicateKey as exc:
        located = _locate(json.loads(body, object_pairs_hook=_keep_pairs), ()) or exc
        raise RequestValidationError(
            [
                {
                    "type": "duplicate_key",
                    "loc": ("body", *located.path, located.key),
                    "msg": "duplicate key: each key may appear once in an object",
                    "input": None,
                }
            ]
        ) from None


def _is_json(content_type: str | None) -> bool:
    """JSON is `application/json`, `application/*+json` (FastAPI's rule), or a body with no type."""
    return not content_type or is_json_media_type(content_type)


class ContractRoute(APIRoute):
    """Every API route: JSON bodies go through `parse_json_body` before they are validated, and its
    dependencies are solved by a plan made once where one can be (`fast_path.planned_handler`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = planned_handler(self, super().get_route_handler())
        if self.body_field is None:
            return handler

        async def parse_then_handle(request: Request) -> Response:
            if _is_json(request.headers.get("content-type")):
                body = await request.body()
                if body:
                    try:
                        parsed = parse_json_body(body)
                    except json.JSONDecodeError:
                        pass  # FastAPI parses again and answers its own 422 naming the position
                    except UnicodeDecodeError:
                        pass
                    else:
                        # Starlette's Request.json() returns this cached value: FastAPI parses no second time.
                        request._json = parsed
            return await handler(request)

        return parse_then_handle


def check_declared_length(
    request: Request, limit: int, *, missing: str, too_large: str, code: str, field: FieldProblem
) -> None:
    """411 (`missing`) without a Content-Length, 413 (`too_large`, `code`, `field`) when it declares more than
    `limit` bytes: judged from the header alone, before a byte of the body is read."""
    raw = request.headers.get("content-length")
    if raw is None or not raw.isdigit():
        raise FiduciaryError(
            missing,
            status=411,
            title="Length required",
            code="length_required",
            fields=[FieldProblem("body", "send Content-Length")],
        )
    if int(raw) > limit:
        raise FiduciaryError(too_large, status=413, title="Content too large", code=code, fields=[field])


# ------------------------------------------------------------------------------------------------ strict types

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 date-time (OpenAPI `format: date-time`): seconds and a time zone are required.
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# An integer as JSON Schema defines one: a number without a fractional part, so `60` and `60.0` but not
# `60.5`, `6e1`, `true` or `"60"` in a body (in a query or path every value is text: digits, maybe `.0`).
_WHOLE = re.compile(r"-?[0-9]+(\.0+)?")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date as an ISO 8601 string, YYYY-MM-DD")
    return value


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with a time zone, e.g. 2026-01-31T09:30:00Z")
    return value


def _whole(value: Any) -> Any:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str) or not _WHOLE.fullmatch(value):
        raise ValueError("must be a whole number")
    return int(value.split(".", 1)[0])


def _json_integer(value: Any) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise ValueError("must be a JSON integer")
    return int(value)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
# Put it after `Query(...)`/`Path(...)` in `Annotated[int, Query(ge=..., le=...), WHOLE]`: placed there the
# bounds still reach the OpenAPI as minimum/maximum.
WHOLE = BeforeValidator(_whole)
# A body integer: a JSON number without a fractional part; never a string or a boolean.
JSON_INTEGER = BeforeValidator(_json_integer)


# ------------------------------------------------------------------------------------------------ OPTIONS


def _api_routes(app: Any) -> list[Any]:
    """Every route with its full path, routers included (FastAPI keeps included routers nested)."""
    return list(iter_route_contexts(app.routes))


def allowed_methods(app: Any, path: str) -> str:
    """The `Allow` value of a route template: every method some route serves at `path`, and OPTIONS."""
    methods = {"OPTIONS"}
    for route in _api_routes(app):
        # documented routes only: the OPTIONS and 405 routes added here serve no method of their own
        if route.path == path and getattr(route.original_route, "include_in_schema", False):
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods))


def _options_endpoint(path: str) -> Callable[[Request], Response]:
    def options(request: Request) -> Response:
        return Response(status_code=204, headers={"Allow": allowed_methods(request.app, path)})

    return options


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"})


def _not_allowed_endpoint(path: str, cors: Any) -> Callable[[Request], Response]:
    def not_allowed(request: Request) -> Response:
        raise StarletteHTTPException(
            405,
            "This path does not serve this method; Allow lists the ones it does.",
            {"Allow": allowed_methods(request.app, path)},
        )

    # A page that may read the path's answers (the banner's) may read this one too (see security.cross_origin).
    return cross_origin(cors)(not_allowed) if cors is not None else not_allowed


def install_methods(app: FastAPI) -> None:
    """Answer `OPTIONS` on every API path with 204 and `Allow` (RFC 9110 s.9.3.7), and any other method a
    path does not serve with 405 and `Allow` (s.15.5.6).

    A path that answers OPTIONS itself (the banner's CORS preflight) keeps its handler, which sets `Allow`
    with `allowed_methods`. The 405 routes of fixed paths go first: otherwise `GET /v1/consents/batch` would
    be routed to `GET /v1/consents/{subject_id}` and refused as a malformed id. Those of templated paths go
    last, so Starlette's partial match (whose `Allow` names one route's methods) is never the answer. Call
    this after every router is included.
    """
    routes = [r for r in _api_routes(app) if isinstance(r.original_route, APIRoute)]
    answered = {r.path for r in routes if "OPTIONS" in (r.methods or ())}
    paths = sorted({r.path for r in routes})
    for path in paths:
        if path not in answered:
            app.add_api_route(path, _options_endpoint(path), methods=["OPTIONS"], include_in_schema=False)
    first: list[Any] = []
    for path in paths:
        served = {m for r in routes if r.path == path for m in (r.methods or ())}
        unserved = sorted(_METHODS - served - {"OPTIONS"})
        cors = next((cors_resolver(r.endpoint) for r in routes if r.path == path and cors_resolver(r.endpoint)), None)
        if unserved:
            endpoint = _not_allowed_endpoint(path, cors)
            app.add_api_route(path, endpoint, methods=unserved, include_in_schema=False)
            if "{" not in path:
                first.append(app.router.routes.pop())
    # Fixed paths first; templated ones stay last, so they catch only what no documented route serves.
    app.router.routes.insert(0, _FixedPathsNotAllowed(first))


class _FixedPathsNotAllowed(BaseRoute):
    """The 405 routes of fixed paths as one route in front of the others, found by a dict lookup.

    As separate routes in front, every request was matched against each of them (27 path patterns) before
    reaching its own route: a tenth of `/healthz`'s time (bench/RESULTS.md "serving, second pass"). This
    answers exactly the requests those routes answered (their path, one of their methods) by handing the
    request to the same route object, so its `Allow`, CORS and problem answers are unchanged.
    """

    def __init__(self, routes: list[Any]) -> None:
        self.routes = {route.path: route for route in routes}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            route = self.routes.get(get_route_path(scope))
            if route is not None and scope["method"] in route.methods:
                matched: tuple[Match, Scope] = route.matches(scope)
                return matched
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.routes[get_route_path(scope)].handle(scope, receive, send)


# ------------------------------------------------------------------------------------------------ OpenAPI


# The OpenAPI security scheme of a customer session (`web.customer`): a bearer token a verified customer
# holds, not an API key. An operation that asks for it is not public, but needs no scope either.
CUSTOMER_SESSION_SCHEME = "CustomerSession"
CUSTOMER_SESSION_LINE = (
    "**Customer session**: `Authorization: Bearer cst_…` from `POST /v1/identity/sessions`; no API key."
)


def customer_session_operation(operation: dict[str, Any]) -> bool:
    """Whether an OpenAPI operation is authenticated by a customer session (docs/identity.md)."""
    return any(CUSTOMER_SESSION_SCHEME in requirement for requirement in operation.get("security") or [])


def operation_scopes(operation: dict[str, Any]) -> list[str] | None:
    """The API-key scopes an OpenAPI operation requires (empty: any valid key), or None when it takes no API
    key: a public operation, or one a customer session authenticates (`customer_session_operation`)."""
    security = [r for r in operation.get("security") or [] if CUSTOMER_SESSION_SCHEME not in r]
    if not security:
        return None
    scopes: list[str] = []
    for requirement in security:
        for names in requirement.values():
            scopes.extend(s for s in names if s not in scopes)
    return scopes


def document_scopes(app: FastAPI) -> None:
    """Say in each operation's description which scope it needs, so /docs shows it beside the lock icon."""
    inner = app.openapi

    def openapi() -> dict[str, Any]:
        cached = app.openapi_schema is not None
        spec = inner()
        if cached:
            return spec
        for path_item in spec.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict):
                    continue
                scopes = operation_scopes(operation)
                if scopes is None and customer_session_operation(operation):
                    line = CUSTOMER_SESSION_LINE
                elif scopes is None:
                    line = "**Public**: no API key."
                elif scopes:
                    line = "**Scope**: " + ", ".join(f"`{s}`" for s in scopes) + " (or `admin`)."
                else:
                    line = "**Scope**: any valid API key."
                described = operation.get("description")
                operation["description"] = f"{described}\n\n{line}" if described else line
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


# ------------------------------------------------------------------------------------------------ shapes
# The ids the API is sent, each with the domain's own pattern (one definition for the OpenAPI and the server).

PurposeId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX_LENGTH),
    Field(description="A purpose id of the policy in force, e.g. `marketing.email`."),
]
CategoryId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX_LENGTH),
    Field(description="A data category id of the policy, e.g. `contact.email`."),
]
LanguageTag = Annotated[
    str, StringConstraints(pattern=LANGUAGE_PATTERN, max_length=16), Field(description="A BCP 47 tag, e.g. `hi-IN`.")
]
PersonIdField = Annotated[str, StringConstraints(pattern=PERSON_ID_PATTERN), Field(description="A person id `per_…`.")]
VisitorIdField = Annotated[
    str, StringConstraints(pattern=VISITOR_ID_PATTERN), Field(description="A banner visitor id `vis_…`.")
]
SubjectIdField = Annotated[
    str,
    StringConstraints(pattern=SUBJECT_ID_PATTERN),
    Field(description="A person id `per_…` or a banner visitor id `vis_…`."),
]
PersonIdPath = Annotated[
    str, Path(pattern=PERSON_ID_PATTERN, description="A person id, `per_` + 26 characters a-z or 2-7.")
]
SubjectIdPath = Annotated[
    str, Path(pattern=SUBJECT_ID_PATTERN, description="A person id `per_…` or a visitor id `vis_…`.")
]
