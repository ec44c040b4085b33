"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY

router = APIRouter(tags=["health"], route_class=ContractRoute)


_PING = text("SELECT 1")


def _ping(session: Session) -> None:
    session.execute(_PING)


@router.get("/healthz", summary="Service and database are up")
async def healthz(session: Session = SESSION_DEPENDENCY) -> dict[str, str]:
    """Async with the query in a worker thread: a sync route costs a second thread hop for its response."""
    await run_in_threadpool(_ping, session)
    return {"status": "ok"}
