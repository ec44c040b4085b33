"""/.well-known/fiduciary-keys.json: the public keys that verify ledger checkpoints and receipts.

Publishing the keys lets a customer or an auditor check a receipt or a ledger export without trusting
our database (DESIGN.md principle 3; DPDP Act s.6(10), GDPR Art 7(1)). Retired keys stay listed so
older checkpoints keep verifying.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from fiduciary.ledger.signing import Signer, load_signer, public_keys_document
from fiduciary.runtime import Runtime
from fiduciary.web.contract import ContractRoute
from fiduciary.web.deps import request_base_url, runtime_dependency

router = APIRouter(tags=["keys"], route_class=ContractRoute)

_SIGNER_EXTRA = "ledger.signer"


def get_signer(runtime: Runtime = Depends(runtime_dependency)) -> Signer:
    """The runtime's checkpoint signer, loaded (or generated) once per runtime."""
    return runtime.shared(_SIGNER_EXTRA, Signer, lambda: load_signer(runtime.settings))


@router.get(
    "/.well-known/fiduciary-keys.json",
    summary="Public keys that verify ledger checkpoints and receipts",
    response_description="Current and retired Ed25519 keys, as raw base64, PEM and JWK.",
)
def fiduciary_keys(
    request: Request, response: Response, runtime: Runtime = Depends(runtime_dependency)
) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return public_keys_document(get_signer(runtime), issuer=request_base_url(request))
