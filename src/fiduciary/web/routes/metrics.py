"""Route: Prometheus metrics (issue 17, item 5), for an API key with `metrics:read`.

Behind a scope rather than public because request rates and latencies per route say how the store's
backend is used; a scraper is given a key that can do nothing else. The figures never carry a personal
value: labels are route templates, methods, statuses, outcomes and stream names (fiduciary/metrics.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.metrics import CONTENT_TYPE, render
from fiduciary.web.contract import ContractRoute
from fiduciary.web.security import require_scopes

router = APIRouter(tags=["operations"], route_class=ContractRoute)


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}, "description": "Text exposition"}},
)
async def metrics(_key: ApiKey = Depends(require_scopes(Scope.METRICS_READ))) -> Response:
    return Response(render(), media_type=CONTENT_TYPE)
