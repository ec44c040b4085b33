"""A recipient's acknowledgement: its own signed confirmation that it acted on a notice — erased, corrected,
stopped or restricted processing — or that it held nothing to act on (GDPR Art 17(2) and 19; DPDP s.8(7)(b)).

A 2xx answer to the notice only says that the recipient's server received it (`delivered`); the
acknowledgement is a second, later fact the recipient sends when it has done the work, and what staff and
the request's propagation count (decision 0037). The recipient calls `POST /v1/propagations/acknowledgements`
signed the Standard Webhooks way with the secret it already holds for our notices: `webhook-id` is the
notice's id (`whd_…`), `webhook-timestamp` the time of signing, `webhook-signature` the HMAC-SHA256 of
`id.timestamp.body`; the body names the notice again and the outcome:

    {"notice_id": "whd_…", "outcome": "done"}          # or "not_held"

- a timestamp more than `TOLERANCE` away from our clock is refused (a captured call cannot be replayed later);
- an unknown notice id, a notice of another recipient (its signature was made with another secret) and a bad
  signature get the same 401, so no one learns which notice ids exist without the secret;
- a repeat of an acknowledged notice answers as the first did and records nothing (idempotent);
- one audit event `recipient.acknowledge` per acknowledgement: the recipient, the notice, the person's
  pseudonymous id and the outcome code, never a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from fiduciary.audit.service import AuditEvent
from fiduciary.context import RuntimeContext
from fiduciary.disclosures.endpoints import endpoint_secret
from fiduciary.disclosures.models import DELIVERY_ID_PATTERN, RecipientEndpoint, WebhookDelivery
from fiduciary.disclosures.propagation import ACKNOWLEDGED
from fiduciary.errors import FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work

TOLERANCE: Final = timedelta(minutes=5)  # the Standard Webhooks reference libraries' own
OUTCOMES: Final = ("done", "not_held")
MAX_BODY: Final = 1024
ACTION: Final = "recipient.acknowledge"
_DELIVERY_ID: Final = re.compile(DELIVERY_ID_PATTERN)
_TIMESTAMP: Final = re.compile(r"^[0-9]{1,12}$")
_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class Acknowledged:
    notice_id: str
    recipient_id: str
    outcome: str
    acknowledged_at: datetime
    first: bool  # False for a repeat of an acknowledgement already recorded

    def to_dict(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id,
            "recipient": self.recipient_id,
            "state": ACKNOWLEDGED,
            "outcome": self.outcome,
            "acknowledged_at": self.acknowledged_at.isoformat(),
        }


class NotVerified(FiduciaryError):
    """401: the call is not a fresh acknowledgement signed by the notice's recipient."""

    def __init__(self, detail: str, code: str, field: str) -> None:
        super().__init__(
            detail=detail, status=401, title="Unauthorized", code=code, fields=[FieldProblem(field, detail)]
        )


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    found = {name: headers.get(name) for name in _HEADERS}
    # Absent is a 422; an empty signature is a signature that does not verify (401, below).
    problems = [FieldProblem(f"header.{n}", "required (Standard Webhooks)") for n, v in found.items() if v is None]
    if problems:
        raise ValidationFailed("Sign the acknowledgement as Standard Webhooks does.", problems)
    checked = {name: str(value) for name, value in found.items()}
    if not _DELIVERY_ID.fullmatch(checked["webhook-id"]):
        problems.append(FieldProblem("header.webhook-id", "the notice's id: whd_ followed by 26 a-z 2-7"))
    if not _TIMESTAMP.fullmatch(checked["webhook-timestamp"]):
        problems.append(FieldProblem("header.webhook-timestamp", "whole seconds since 1970-01-01 UTC"))
    if len(checked["webhook-signature"]) > 1000:
        problems.append(FieldProblem("header.webhook-signature", "at most 1000 characters"))
    if problems:
        raise ValidationFailed("The acknowledgement's headers are malformed.", problems)
    return checked


def _fresh(timestamp: str, now: datetime) -> None:
    signed = datetime.fromtimestamp(int(timestamp), UTC) if int(timestamp) < 2**37 else None
    if signed is None or abs(now - signed) > TOLERANCE:
        raise NotVerified(
            "The signature's timestamp is not within 5 minutes of now: sign again, with a correct clock.",
            "timestamp_out_of_tolerance",
            "header.webhook-timestamp",
        )


def _bad_signature() -> NotVerified:
    return NotVerified(
        "The signature does not verify for this notice: sign with the secret of the recipient it was sent to.",
        "signature_invalid",
        "header.webhook-signature",
    )


def _body(raw: bytes, notice_id: str) -> str:
    """The outcome, from a body that names the notice again (so the signed text says what it acknowledges)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise ValidationFailed("The body is not a JSON object.", [FieldProblem("body", "a JSON object")])
    problems = [FieldProblem(f"body.{k}", "not a field of an acknowledgement") for k in body if k not in _FIELDS]
    if body.get("notice_id") != notice_id:
        problems.append(FieldProblem("body.notice_id", "the notice's id, as in the webhook-id header"))
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        problems.append(FieldProblem("body.outcome", "done (acted as the notice asked) or not_held"))
    if problems:
        raise ValidationFailed("The acknowledgement cannot be read.", problems)
    return str(outcome)


_FIELDS: Final = ("notice_id", "outcome")


def acknowledge(
    runtime: RuntimeContext,
    session: Session,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> Acknowledged:
    """Verify a recipient's signed acknowledgement and record it in the caller's transaction (the caller
    commits before answering). Checks, in order: headers, timestamp, notice and signature, body."""
    now = now or utcnow()
    checked = _headers(headers)
    _fresh(checked["webhook-timestamp"], now)
    notice_id = checked["webhook-id"]
    row = session.get(WebhookDelivery, notice_id)
    endpoint = session.get(RecipientEndpoint, row.recipient_id) if row is not None else None
    if row is None or endpoint is None:
        raise _bad_signature()  # the same answer as a wrong signature: ids are not confirmed to strangers
    try:
        Webhook(endpoint_secret(runtime, endpoint)).verify(body, checked, json_parse=False)
    except WebhookVerificationError:
        raise _bad_signature() from None
    return _record(runtime, session, row, _body(body, notice_id), actor=f"recipient:{row.recipient_id}", now=now)


def record_for_recipient(
    runtime: RuntimeContext, session: Session, notice_id: str, outcome: str, *, actor: str, now: datetime | None = None
) -> Acknowledged:
    """Staff record an acknowledgement the recipient sent another way (a letter, an email from a courier
    without an API), audited under the staff member's id; the same rules as the recipient's own call: the
    first acknowledgement stands. The caller commits."""
    if not _DELIVERY_ID.fullmatch(notice_id):
        raise ValidationFailed("Bad notice id.", [FieldProblem("notice_id", "whd_ followed by 26 a-z 2-7")])
    if outcome not in OUTCOMES:
        raise ValidationFailed("Bad outcome.", [FieldProblem("outcome", "done (acted as asked) or not_held")])
    row = session.get(WebhookDelivery, notice_id)
    if row is None:
        raise NotFound("No notice has this id.", code="notice_not_found")
    return _record(runtime, session, row, outcome, actor=actor, now=now or utcnow())


def _record(
    runtime: RuntimeContext, session: Session, row: WebhookDelivery, outcome: str, *, actor: str, now: datetime
) -> Acknowledged:
    if row.acknowledged_at is not None:  # a repeat: as the first answer said, nothing recorded again
        return _standing(row)
    # Conditional: of two concurrent acknowledgements of one notice, one records it.
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == row.id, WebhookDelivery.acknowledged_at.is_(None))
        .values(state=ACKNOWLEDGED, acknowledged_at=now, acknowledgement=outcome)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    if int(getattr(result, "rowcount", 0) or 0) == 0:
        return _standing(row)
    unit_of_work(runtime, session).audit(
        AuditEvent(actor=actor, action=ACTION, person_id=row.person_id, target=row.id, reasons=[outcome])
    )
    return Acknowledged(row.id, row.recipient_id, outcome, now, first=True)


def _standing(row: WebhookDelivery) -> Acknowledged:
    """The acknowledgement already recorded for `row` (the first one stands), as a repeat is answered."""
    assert row.acknowledged_at is not None and row.acknowledgement is not None
    return Acknowledged(row.id, row.recipient_id, row.acknowledgement, row.acknowledged_at, first=False)
