"""Routes: the background jobs' dead-letter list (GET /v1/jobs/failed), for staff watching the workers.

A job is listed by id, task name and attempts only: its arguments and lock may name a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.jobs import NAME_PATTERN, failed_jobs
from fiduciary.web.contract import WHOLE, ContractRoute
from fiduciary.web.deps import SESSION_DEPENDENCY
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=ContractRoute)
MAX_PAGE = 1000


class FailedJobOut(BaseModel):
    id: int
    task_name: str
    attempts: int = Field(description="Runs made, the last of which failed.")
    queued_at: datetime | None
    failed_at: datetime | None
    error: str | None = Field(description="The error's class (embedded queue only); never its message.")


class FailedJobsOut(BaseModel):
    failed: list[FailedJobOut]


@router.get("/failed", summary="Jobs that failed their last retry (the dead-letter list), newest first")
def list_failed(
    task: Annotated[str | None, Query(pattern=NAME_PATTERN, max_length=100, description="Only this task.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE), WHOLE] = 100,
    _key: ApiKey = Depends(require_scopes(Scope.JOBS_READ)),
    session: Session = SESSION_DEPENDENCY,
) -> FailedJobsOut:
    found = failed_jobs(session, limit=limit, task_name=task)
    return FailedJobsOut(failed=[FailedJobOut(**job.to_dict()) for job in found])
