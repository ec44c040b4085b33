"""POST /v1/receipts/verify: does this consent receipt's signature hold, and does our ledger agree?

Public (the privacy center will let a person check the receipt they kept) and rate limited like the other
public endpoints. The comparison is `fiduciary.consent.receipt_check`, the same one `fiduciary ledger verify
--receipts` runs; this route only reads the body and renders the verdict. The answer names a position and a
reason code, never a value from the receipt or the ledger, and nothing is logged (DPDP s.6(10): the
receipt is the person's evidence; s.8(5): no personal data leaves through the check).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fiduciary.consent.receipt_check import ReceiptComparison, ReceiptReason, compare_receipt, trusted_keys
from fiduciary.errors import FiduciaryError, FieldProblem, ValidationFailed
from fiduciary.runtime import Runtime
from fiduciary.web.contract import ContractRoute, parse_json_body
from fiduciary.web.deps import runtime_dependency
from fiduciary.web.routes.signing_keys import get_signer
from fiduciary.web.security import public_rate_limit

router = APIRouter(tags=["consent"], route_class=ContractRoute)

MAX_RECEIPT_BYTES = 256 * 1024  # a receipt is a few KiB; a batch path adds ~32 hex hashes
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class ReceiptVerification(BaseModel):
    """The verdict on one receipt. `valid` only when the signature holds and the ledger agrees."""

    valid: bool = Field(description="The signature is valid and the ledger holds the event the receipt names.")
    signature_valid: bool = Field(description="Signed (directly or through its Merkle path) by a published key.")
    ledger_agrees: bool | None = Field(
        description="Whether the ledger holds exactly this event; null when not checked (the signature failed)."
    )
    stream: str | None = Field(description="The ledger stream the receipt names, e.g. `consent`.")
    position: int | None = Field(description="The ledger position the receipt names.")
    reason: ReceiptReason = Field(
        description="`agrees`, or why not: `signature_invalid`, `malformed`, `position_beyond_head` (the ledger "
        "lost an acknowledged event), `event_missing`, `event_hash_differs` (another event holds the position: "
        "a fork), `ledger_row_altered`, `event_content_differs`, `checkpoint_differs`."
    )
    detail: str = Field(description="The reason in plain words (never a value from the receipt).")

    @classmethod
    def of(cls, result: ReceiptComparison) -> ReceiptVerification:
        return cls(
            valid=result.ok,
            signature_valid=result.signature_valid,
            ledger_agrees=result.ledger_agrees,
            stream=result.stream,
            position=result.position,
            reason=result.reason,
            detail=result.detail,
        )


class PayloadTooLarge(FiduciaryError):
    def __init__(self) -> None:
        super().__init__(
            detail=f"A receipt is at most {MAX_RECEIPT_BYTES // 1024} KiB.",
            status=413,
            title="Payload too large",
            code="payload_too_large",
        )


async def _read_receipt(request: Request) -> dict[str, Any]:
    """The body as a JSON object, read with a size cap (this endpoint is public)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_RECEIPT_BYTES:
            raise PayloadTooLarge()
    try:
        data = parse_json_body(bytes(body))
    except (ValueError, RecursionError):
        raise ValidationFailed(
            "The body is not JSON.", [FieldProblem("body", "must be a consent receipt (JSON)")]
        ) from None
    if isinstance(data, dict) and "receipt" in data and "signature" not in data:
        data = data["receipt"]  # an API answer that wraps the receipt
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The body is not a JSON object.", [FieldProblem("body", "must be a consent receipt (a JSON object)")]
        )
    return data


def _compare(runtime: Runtime, receipt: dict[str, Any]) -> ReceiptComparison:
    keys = trusted_keys(get_signer(runtime).known_public_keys())
    with runtime.sessions() as session:
        return compare_receipt(session, receipt, keys)


@router.post(
    "/v1/receipts/verify",
    summary="Check a consent receipt: its signature, and that the ledger holds the event it names",
    response_model=ReceiptVerification,
    dependencies=[Depends(public_rate_limit)],
    responses={413: _PROBLEM, 422: _PROBLEM, 429: _PROBLEM},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A consent receipt as returned by the API (or an answer wrapping it as `receipt`).",
            "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
        }
    },
)
async def verify_receipt_route(request: Request, runtime: Runtime = Depends(runtime_dependency)) -> ReceiptVerification:
    receipt = await _read_receipt(request)
    result = await run_in_threadpool(_compare, runtime, receipt)
    return ReceiptVerification.of(result)
