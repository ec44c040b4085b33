"""How the rights domain answers an access or erasure request about its own records: the requests a
person made (an access package lists them, GDPR Art 15 and DPDP s.11), and on erasure the sealed
parameters forgotten while the requests themselves stay, pseudonymous, as the store's proof that it
answered each one and when (GDPR Art 5(2); DPDP s.8(10) and Rule 14)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry
from fiduciary.rights.models import REQUESTS_TABLE, RightsRequest, RightsRequestEvent, RightsRequestStep
from fiduciary.rights.requests import history_of, requests_of, steps_of

KEPT_BASIS: Final = "each request is kept, without the values it carried, as proof it was answered in time"
TABLES: Final = ("rights_requests", "rights_request_events", "rights_request_steps")


def export_requests(session: Session, person_id: str) -> Mapping[str, Any]:
    return {
        "requests": [
            {
                "id": row.id,
                "kind": row.kind,
                "state": row.state,
                "made_by": row.made_by,
                "channel": row.channel,
                "received_at": row.received_at.isoformat(),
                "due_on": row.due_on.isoformat(),
                "closed_at": row.closed_at.isoformat() if row.closed_at else None,
                "outcome_reason": row.outcome_reason,
                "history": [
                    {"at": e.at.isoformat(), "action": e.action, "state": e.to_state}
                    for e in history_of(session, row.id)
                ],
                "steps": [
                    {"system": s.system, "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None}
                    for s in steps_of(session, row.id)
                ],
            }
            for row in requests_of(session, person_id)
        ]
    }


def erase_requests(session: Session, person_id: str) -> EraseReport:
    """Forget the sealed values (already unreadable once the vault key is gone) and the free-text notes;
    keep each request's codes, dates and history."""
    ids = list(session.scalars(select(RightsRequest.id).where(RightsRequest.person_id == person_id)))
    if not ids:
        return EraseReport("rights")
    changed = session.execute(
        update(REQUESTS_TABLE)
        .where(
            REQUESTS_TABLE.c.person_id == person_id,
            # the outbox-key copy of the address an erasure in progress still needs for its last message
            (REQUESTS_TABLE.c.sealed_key_version.is_(None)) | (REQUESTS_TABLE.c.sealed_key_version != 0),
            # idempotent: a second erasure finds nothing left to forget
            REQUESTS_TABLE.c.sealed.is_not(None)
            | REQUESTS_TABLE.c.extension_reason.is_not(None)
            | REQUESTS_TABLE.c.outcome_note.is_not(None),
        )
        .values(sealed=None, sealed_key_version=None, extension_reason=None, outcome_note=None)
    ).rowcount  # type: ignore[attr-defined]
    return EraseReport("rights", changed=int(changed or 0), kept=len(ids), kept_basis=KEPT_BASIS)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    registry.register("rights", export_requests, erase_requests, list(TABLES), order=80)


__all__ = ["RightsRequestEvent", "RightsRequestStep", "register"]
