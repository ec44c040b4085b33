"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

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


@router.get(
    "/healthz",
    summary="Service and database are up",
    response_class=Response,
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz(request: Request) -> Response:
    """`{"status": "ok"}` once the database has answered a `SELECT 1`.

    No session and no database gate: the query reads no table, so on SQLite it takes no lock and runs
    inline on the event loop (a local call of a few microseconds) even while a writer holds the gate; on
    PostgreSQL it runs in a worker thread (a network round trip). The answer is pre-encoded bytes
    (bench/RESULTS.md "serving, second pass": the session, its commit and the generic JSON encoding were
    most of this route's cost)."""
    engine = get_runtime(request).engine
    if engine.dialect.name == "sqlite":
        _ping(engine)
    else:
        await run_in_threadpool(_ping, engine)
    return Response(_OK, media_type="application/json")
