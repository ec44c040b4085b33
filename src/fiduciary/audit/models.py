"""The audit index: one row per event of the "audit" ledger stream, for filtering and pagination.

The ledger row is the evidence (hash-chained, signed); this table only makes `GET /v1/audit` fast with
filters on actor, person, action, purpose, outcome and time. Each row names its ledger position, and
`fiduciary audit verify` checks that the index and the ledger agree, so hiding an event by deleting its
index row is detected. Like the ledger, the table refuses UPDATE and DELETE (triggers in migration 0005).
It holds only pseudonymous ids and policy identifiers (DPDP Rule 6(1)(c) logs; no personal value).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class AuditEventIndex(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # (filter, position): every filter walks its index in cursor order, so a page is an index range scan.
        Index("ix_audit_events_actor_position", "actor", "ledger_position"),
        Index("ix_audit_events_person_id_position", "person_id", "ledger_position"),
        Index("ix_audit_events_action_position", "action", "ledger_position"),
        Index("ix_audit_events_purpose_position", "purpose", "ledger_position"),
        Index("ix_audit_events_outcome_position", "outcome", "ledger_position"),
        Index("ix_audit_events_recorded_at", "recorded_at"),
    )

    ledger_position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    person_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # "per_…" or "vis_…"
    purpose: Mapped[str | None] = mapped_column(String(80), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
