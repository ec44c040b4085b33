"""The people selected as affected by a breach, and whether each was told (DPDP s.8(6), Rule 7(1)).

One row per (incident, person), written set-wise by one INSERT … SELECT (`notices.select_affected`), so a
second selection adds only the people not already in the set. `outcome` is set once, when the person's
batch runs: `queued` (a message is in the outbox), `no_contact` (no e-mail or phone on file) or `erased`.
The rows hold only pseudonymous ids: they are the evidence for the Board's report on the intimations given
(DPDP Rule 7(2)(b)(vi)).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class BreachNotice(Base):
    __tablename__ = "breach_notices"
    __table_args__ = (Index("ix_breach_notices_person_id", "person_id"),)

    case_id: Mapped[str] = mapped_column(String(40), ForeignKey("cases.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)  # from their latest consent
    selected_at: Mapped[datetime] = mapped_column(nullable=False)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # queued | no_contact | erased
    channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the outbox message
    told_at: Mapped[datetime | None] = mapped_column(nullable=True)
