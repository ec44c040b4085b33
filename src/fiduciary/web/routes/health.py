"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from fiduciary.web.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Service and database are up")
def healthz(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
