"""How the identity domain answers an access or erasure request: the person's one-time code challenges.

Export: each challenge's purpose, times, attempts and state (never the code's hash or the blind index: they
are keys' work, not the person's data). Erasure: the challenges are deleted; they only ever proved who was
asking for 10 minutes, and the requests they unlocked keep their own audited record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.identity.models import VerificationCode
from fiduciary.personal_data.registry import Eraser, EraseReport, Exporter, PersonalDataRegistry


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
        ]
    }


def erase_codes(session: Session, person_id: str) -> EraseReport:
    result = session.execute(delete(VerificationCode).where(VerificationCode.person_id == person_id))
    return EraseReport("identity", changed=int(getattr(result, "rowcount", 0) or 0), kept=0, kept_basis=None)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """Before `people` (whose row the challenges reference)."""
    exporter: Exporter = export_codes
    eraser: Eraser = erase_codes
    registry.register("identity", exporter, eraser, ["verification_codes"], order=55)
