"""How the identity domain answers an access or erasure request: the person's one-time code challenges and
customer sessions.

Export: each challenge's purpose, times, attempts and state (never the code's hash or the blind index: they
are keys' work, not the person's data); each session's id, how it was verified and its times (never the
token's digest or the client hash). Erasure: both are deleted; they only ever proved who was asking for
minutes, and the requests they unlocked keep their own audited record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.identity.models import CustomerSessionRecord, VerificationCode
from fiduciary.personal_data.registry import Eraser, EraseReport, Exporter, PersonalDataRegistry


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_codes(session: Session, person_id: str) -> Mapping[str, Any]:
    rows = session.scalars(
        select(VerificationCode).where(VerificationCode.person_id == person_id).order_by(VerificationCode.created_at)
    ).all()
    return {
        "verification_codes": [
            {
                "id": row.id,
                "purpose": row.purpose,
                "identifier_kind": row.identifier_kind,
                "created_at": row.created_at.isoformat(),
                "expires_at": row.expires_at.isoformat(),
                "attempts": row.attempts,
                "locked_at": row.locked_at.isoformat() if row.locked_at else None,
                "consumed_at": row.consumed_at.isoformat() if row.consumed_at else None,
            }
            for row in rows
        ],
        "customer_sessions": [
            {
                "id": row.id,
                "verified_by": row.verified_by,
                "created_at": row.created_at.isoformat(),
                "expires_at": row.expires_at.isoformat(),
                "last_used_at": _iso(row.last_used_at),
                "revoked_at": _iso(row.revoked_at),
            }
            for row in session.scalars(
                select(CustomerSessionRecord)
                .where(CustomerSessionRecord.person_id == person_id)
                .order_by(CustomerSessionRecord.created_at)
            )
        ],
    }


def erase_codes(session: Session, person_id: str) -> EraseReport:
    changed = 0
    for model in (VerificationCode, CustomerSessionRecord):
        result = session.execute(delete(model).where(model.person_id == person_id))
        changed += int(getattr(result, "rowcount", 0) or 0)
    return EraseReport("identity", changed=changed, kept=0, kept_basis=None)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """Before `people` (whose row the challenges and sessions reference)."""
    exporter: Exporter = export_codes
    eraser: Eraser = erase_codes
    registry.register("identity", exporter, eraser, ["verification_codes", "customer_sessions"], order=55)
