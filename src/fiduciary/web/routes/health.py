"""Liveness and readiness."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from fiduciary.policy.security_txt import ExpiryState, expiry_notice, format_stamp
from fiduciary.policy.versions import NoPolicyInForce
from fiduciary.runtime import Runtime
from fiduciary.storage.types import utcnow
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import get_runtime

router = APIRouter(tags=["health"], route_class=ContractRoute)

_OK = b'{"status":"ok"}'


def _ping(engine: Engine) -> None:
    """`SELECT 1` on a pooled connection, straight through the driver: the answer proves the database
    answers, and nothing around it (a session, a transaction, a commit) costs more than the query itself.
    A driver error is raised as SQLAlchemy's `OperationalError`, which the problem handlers answer with 503
    and Retry-After, as for any request that finds the database unavailable."""
    try:
        connection: Any = engine.raw_connection()  # a pool checkout; pool_pre_ping applies on PostgreSQL
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            connection.close()  # back to the pool (its reset-on-return ends the read)
    except engine.dialect.loaded_dbapi.Error as exc:  # raw_connection does not wrap a failed connect either
        raise OperationalError("SELECT 1", None, exc) from exc


@dataclass
class _Answer:
    """The answer's bytes for one compiled policy, for one minute: `{"status": "ok"}`, with `details` naming
    what needs a person (a security.txt Expires passed or close, RFC 9116 s.2.5.5) when something does.
    One attribute holding (key, body), replaced whole: a concurrent reader never pairs a key with another body."""

    current: tuple[tuple[int, int], bytes] = ((0, -1), _OK)


def _answer(runtime: Runtime) -> bytes:
    try:
        compiled = runtime.policy()
    except NoPolicyInForce:
        return _OK
    now = utcnow()
    key = (id(compiled), int(now.timestamp()) // 60)
    answer = runtime.shared("health.answer", _Answer, _Answer)
    found_key, body = answer.current
    if found_key != key:
        notice = expiry_notice(compiled.document, now)
        body = _OK
        if notice is not None:
            detail = {"state": str(notice.state), "expires": format_stamp(notice.expires), "detail": notice.describe()}
            body = json.dumps({"status": "ok", "details": {"security_txt": detail}}, separators=(",", ":")).encode()
        answer.current = (key, body)
    return body


def _check(runtime: Runtime) -> bytes:
    _ping(runtime.engine)
    return _answer(runtime)


@router.get(
    "/healthz",
    summary="Service and database are up",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string", "enum": ["ok"]},
                            "details": {
                                "type": "object",
                                "description": "Present when something needs a person while the service runs.",
                                "properties": {
                                    "security_txt": {
                                        "type": "object",
                                        "properties": {
                                            "state": {"type": "string", "enum": [str(s) for s in ExpiryState]},
                                            "expires": {"type": "string", "format": "date-time"},
                                            "detail": {"type": "string"},
                                        },
                                        "required": ["state", "expires", "detail"],
                                    }
                                },
                            },
                        },
                        "required": ["status"],
                    },
                    "example": {"status": "ok"},
                }
            }
        }
    },
)
async def healthz(request: Request) -> Response:
    """`{"status": "ok"}` once the database has answered a query, with `details` when something needs a
    person (the served security.txt's Expires has passed or is within 30 days); 503 (a problem with
    Retry-After) when the database does not answer."""
    # No session and no database gate: the query reads no table, so on SQLite it takes no lock and runs
    # inline on the event loop (a local call of a few microseconds) even while a writer holds the gate; on
    # PostgreSQL it runs in a worker thread (a network round trip). The answer is pre-encoded bytes
    # (bench/RESULTS.md "serving, second pass": the session, its commit and the generic JSON encoding were
    # most of this route's cost). A GET is normally answered by `HealthzShortcut` below, the same way.
    runtime = get_runtime(request)
    if runtime.engine.dialect.name == "sqlite":
        body = _check(runtime)
    else:
        body = await run_in_threadpool(_check, runtime)
    return Response(body, media_type="application/json")


_PATH = "/healthz"
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_OK)).encode())]


class HealthzShortcut:
    """`GET /healthz` answered before FastAPI's routing, exception handling and dependency machinery.

    Those layers cost more than everything else this route does (bench/RESULTS.md "serving, second
    pass"). It sits inside the request-id, access-log, security-header and CORS middleware
    (`install_healthz_shortcut`), so the answer carries the same headers, log line and metrics as the
    route's; it does the same `_ping` and sends the same bytes. Anything else (HEAD, another method, a
    root path) and any failure of the ping go to the route above, unchanged: a database that does not
    answer gets the route's 503 problem from the problem handlers.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.route = next(r for r in router.routes if getattr(r, "path", None) == _PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != _PATH or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        runtime = self.fastapi_app.state.runtime
        try:
            if runtime.engine.dialect.name == "sqlite":
                body = _check(runtime)
            else:
                body = await run_in_threadpool(_check, runtime)
        except Exception:  # the route pings again and answers through the problem handlers
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # the access log and metrics name the route's template
        headers = _HEADERS if body is _OK else [_HEADERS[0], (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})


def install_healthz_shortcut(app: FastAPI) -> None:
    """Put `HealthzShortcut` around FastAPI's own stack. Call before `install_security`, which wraps what
    this builds in the request-id, access-log and header middleware."""
    build = app.build_middleware_stack

    def build_with_shortcut() -> ASGIApp:
        return HealthzShortcut(build(), app)

    setattr(app, "build_middleware_stack", build_with_shortcut)  # noqa: B010
