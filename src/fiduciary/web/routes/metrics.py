"""Route: Prometheus metrics (issue 17, item 5), for an API key with `metrics:read`.

Behind a scope rather than public because request rates and latencies per route say how the store's
backend is used; a scraper is given a key that can do nothing else. The figures never carry a personal
value: labels are route templates, methods, statuses, outcomes and stream names (fiduciary/metrics.py).

The job queue's gauges are read here, at scrape time, from the queue itself (procrastinate's jobs on
PostgreSQL, `job_queue` on SQLite): one indexed query per scrape, in its own short transaction, bounded by a
statement timeout on PostgreSQL. A read that fails does not fail the scrape: it is logged (the error's class,
never its text), counted, and the gauges keep their last figures.
"""

from __future__ import annotations

import logging
from typing import Final

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.jobs import queue_depth
from fiduciary.metrics import CONTENT_TYPE, count_read_failure, render, set_job_queue
from fiduciary.runtime import Runtime
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import runtime_dependency
from fiduciary.web.security import require_scopes

router = APIRouter(tags=["operations"], route_class=ContractRoute)
log = logging.getLogger("fiduciary.metrics")

# A scrape is one of many every few seconds; a queue read slower than this is a problem to see, not to wait on.
QUEUE_READ_TIMEOUT_MS: Final = 2000


def read_job_queue(runtime: Runtime) -> bool:
    """Set the queue gauges from the queue; False (logged, counted, gauges unchanged) when the read fails."""
    try:
        with runtime.sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text(f"SET LOCAL statement_timeout = {QUEUE_READ_TIMEOUT_MS}"))
            depth = queue_depth(session)
            session.rollback()
    except Exception as exc:  # any failure: the scrape must still answer with every other figure
        count_read_failure("job_queue")
        log.warning("/metrics could not read the job queue (%s); gauges keep their last figures", type(exc).__name__)
        return False
    set_job_queue(depth.waiting, depth.oldest_age_seconds)
    return True


@router.get(
    "/metrics",
    summary="Prometheus metrics (of every worker process of this server)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}, "description": "Text exposition"}},
)
async def metrics(
    _key: ApiKey = Depends(require_scopes(Scope.METRICS_READ)), runtime: Runtime = Depends(runtime_dependency)
) -> Response:
    await run_in_threadpool(read_job_queue, runtime)
    return Response(render(), media_type=CONTENT_TYPE)
