"""/.well-known/security.txt (RFC 9116), rendered from the policy in force and signed when a key is set.

Public like the notice, so rate limited per client address; cacheable for an hour (a published change of
contacts reaches caches within the hour, and the Expires moves a day at a time). RFC 9116 s.3 wants it
served as `text/plain; charset=utf-8` over https; the Canonical names the service's base URL, so
FIDUCIARY_PUBLIC_BASE_URL must be the https origin researchers reach (docs/vulnerability-reports.md).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from fiduciary.policy import security_txt
from fiduciary.policy.openpgp import ClearSigner
from fiduciary.policy.versions import NoPolicyInForce
from fiduciary.runtime import Runtime
from fiduciary.storage.types import utcnow
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import request_base_url, runtime_dependency
from fiduciary.web.security import public_rate_limit

log = logging.getLogger(__name__)

router = APIRouter(tags=["security"], dependencies=[Depends(public_rate_limit)], route_class=ContractRoute)

MEDIA_TYPE = "text/plain; charset=utf-8"
CACHE_CONTROL = "public, max-age=3600"
_SIGNER_EXTRA = "security_txt.signer"


def signer(runtime: Runtime) -> ClearSigner | None:
    """The runtime's clear-signer when FIDUCIARY_SECURITY_TXT_SIGNING_KEY is set, built once (and closed
    with the runtime)."""
    key = runtime.settings.security_txt_signing_key
    if key is None:
        return None
    return runtime.shared(_SIGNER_EXTRA, ClearSigner, lambda: ClearSigner(key))


def security_txt_text(runtime: Runtime, base_url: str) -> str:
    """The file as served: rendered from the policy in force at `base_url`, clear-signed when configured."""
    compiled = runtime.policy()
    text = security_txt.render(compiled.document, base_url, utcnow(), version=compiled.version)
    signing = signer(runtime)
    return text if signing is None else signing.sign(text)


def check_at_start(runtime: Runtime) -> None:
    """At start: build the signer (a key gpg refuses fails the start, not a researcher's request) and warn
    when the served Expires has passed or is close. The warning names a date and a setting, nothing personal."""
    signer(runtime)
    try:
        document = runtime.policy().document
    except NoPolicyInForce:  # nothing is served yet, so nothing can be stale
        return
    notice = security_txt.expiry_notice(document, utcnow())
    if notice is not None:
        log.warning("%s", notice.describe())


@router.get(
    security_txt.WELL_KNOWN_PATH,
    summary="Whom to tell about a security weakness (RFC 9116)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def security_txt_file(request: Request, runtime: Runtime = Depends(runtime_dependency)) -> Response:
    """Contact, Expires, Encryption, Acknowledgments, Preferred-Languages, Canonical and Policy from the
    policy's `contacts.security`; OpenPGP clear-signed when the service has a signing key."""
    text = await run_in_threadpool(security_txt_text, runtime, request_base_url(request))
    return Response(text, media_type=MEDIA_TYPE, headers={"Cache-Control": CACHE_CONTROL})
