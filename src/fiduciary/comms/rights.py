"""How the comms domain answers an access or erasure request: the person's outbox messages.

Export: each message's kind, channel, language, subject, body, status and times (the address and body
opened under the person's key; after their erasure, metadata only). Erasure: the sealed address and body
are removed (they are also unreadable once the vault destroyed the person's key, which runs first); the
metadata (kind, status, when sent, Message-ID) is kept as the proof that the person was told, e.g. that a
rights request was answered in time (DPDP s.8(10), GDPR Art 5(2)), and holds no personal value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fiduciary.comms.models import OutboxMessage
from fiduciary.comms.sealing import open_sealed
from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import Eraser, EraseReport, Exporter, PersonalDataRegistry
from fiduciary.vault.keys.data_keys import PersonErased

KEPT_BASIS: Final = "message metadata (kind, status, times, Message-ID) kept as proof the person was told; no value"


def _exporter(runtime: RuntimeContext) -> Exporter:
    def export_outbox(session: Session, person_id: str) -> Mapping[str, Any]:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.person_id == person_id).order_by(OutboxMessage.created_at)
        ).all()
        messages: list[dict[str, Any]] = []
        for row in rows:
            item: dict[str, Any] = {
                "id": row.id,
                "kind": row.kind,
                "channel": row.channel,
                "language": row.language,
                "subject": row.subject,
                "status": row.status,
                "created_at": row.created_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "message_id": row.message_id,
            }
            if row.recipient is not None and row.body is not None:
                try:
                    item["to"] = open_sealed(
                        runtime, session, person_id, row.key_version, row.id, "recipient", row.recipient
                    )
                    item["body"] = open_sealed(runtime, session, person_id, row.key_version, row.id, "body", row.body)
                except PersonErased:
                    pass
            messages.append(item)
        return {"messages": messages}

    return export_outbox


def erase_outbox(session: Session, person_id: str) -> EraseReport:
    """Remove the sealed address and body of every message to the person; a pending one will not be sent."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.person_id == person_id, OutboxMessage.recipient.is_not(None))
        .values(recipient=None, body=None)
    )
    changed = int(getattr(result, "rowcount", 0) or 0)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.person_id == person_id, OutboxMessage.status.in_(("pending", "sending")))
        .values(status="failed", last_error="PersonErased")
    )
    kept = int(session.scalar(select(func.count()).where(OutboxMessage.person_id == person_id)) or 0)
    return EraseReport("comms", changed=changed, kept=kept, kept_basis=KEPT_BASIS if kept else None)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """After the vault (whose key destruction already made the sealed values unreadable), before `people`."""
    eraser: Eraser = erase_outbox
    registry.register("comms", _exporter(runtime), eraser, ["outbox_messages"], order=50)
