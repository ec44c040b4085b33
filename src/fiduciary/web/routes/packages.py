"""Route: GET /v1/packages/{token} — download an access package through its signed link (issue 13 item 4).

Public: the link is the only authority (the person has no API key), so it is rate limited per client address
like the other public endpoints. The token names no person and holds no value (`rights.packages.links`).
The download is counted and audited in the request's transaction, committed before the first byte is sent;
the ZIP is then streamed, decrypted one chunk at a time (memory flat in its size). `Cache-Control: no-store`
keeps the copy out of shared caches and `Referrer-Policy: no-referrer` keeps the token out of other sites'
logs. Answers: 200 `application/zip`; 404 `package_link_not_found` (forged, altered by any character,
replaced); 410 `package_link_expired`, `package_link_used_up` or `person_erased`; 429 — all problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import StreamingResponse

from fiduciary.rights.packages.links import TOKEN_PATTERN, open_download
from fiduciary.runtime import Runtime
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import SessionDep, runtime_dependency
from fiduciary.web.security import public_rate_limit

router = APIRouter(tags=["rights"], route_class=ContractRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
# The pattern is published, not enforced by request validation: a token that does not match it cannot carry
# our signature, so `open_download` refuses it like any altered link (404 problem+json, not a 422).
PackageToken = Annotated[
    str,
    Path(description="The signed token of a package link (base64url).", json_schema_extra={"pattern": TOKEN_PATTERN}),
]


@router.get(
    "/v1/packages/{token}",
    summary="Download an access package (ZIP) through its signed, expiring, limited link",
    dependencies=[Depends(public_rate_limit)],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The package: a ZIP of package.json, CSVs, summary.html and consent receipts.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        404: _PROBLEM,
        410: _PROBLEM,
        429: _PROBLEM,
    },
)
def download_package(
    token: PackageToken, session: SessionDep, runtime: Runtime = Depends(runtime_dependency)
) -> StreamingResponse:
    download = open_download(runtime, session, token)
    return StreamingResponse(
        download.chunks,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{download.filename}"',
            "Content-Length": str(download.size_bytes),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
