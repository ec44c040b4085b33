"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY, database_gate

router = APIRouter(tags=["health"], route_class=ContractRoute)


_PING = text("SELECT 1")


def _ping(session: Session) -> None:
    session.execute(_PING)


@router.get("/healthz", summary="Service and database are up")
async def healthz(request: Request, session: Session = SESSION_DEPENDENCY) -> dict[str, str]:
    """Async: a sync route costs a second thread hop for its response. On SQLite (the request holds the
    database gate) the local query runs inline, elsewhere in a worker thread (a network round trip)."""
    if database_gate(request.app) is not None:
        _ping(session)
    else:
        await run_in_threadpool(_ping, session)
    return {"status": "ok"}
