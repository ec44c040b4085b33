"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.orm import Session

from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY

router = APIRouter(tags=["health"], route_class=ContractRoute)


@router.get("/healthz", summary="Service and database are up")
def healthz(session: Session = SESSION_DEPENDENCY) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
