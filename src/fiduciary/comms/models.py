"""The outbox table: every message to a person, written in the transaction of the change that causes it.

The recipient's address and the rendered body are sealed (AES-256-GCM) under the person's own vault data
key, so erasing the person (crypto-shredding their key) makes every copy unreadable, backups included;
a message to no known person is sealed under the outbox's service key (`fiduciary.comms.sealing`). The
subject is kept in clear: templates put no personal value in it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, cast

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base, utcnow

# pending → sending → sent; sending → pending (retry, after backoff) or failed (attempts used up, visible).
STATUSES = ("pending", "sending", "sent", "failed")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "msg_" + random hex, meaningless
    kind: Mapped[str] = mapped_column(String(64), nullable=False)  # rights.code, rights.received, …
    person_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("people.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)  # email | sms
    # 0: sealed under the outbox service key (no person); else the person's data key version.
    key_version: Mapped[int] = mapped_column(Integer, nullable=False)
    recipient: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # sealed; None once erased
    language: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # sealed; None once erased
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)  # when a deliverer took it (sending)
    last_error: Mapped[str | None] = mapped_column(String(100), nullable=True)  # an error class, never a message
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # One message per cause: a second `send` with the same key returns the first message.
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    message_id: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)  # RFC 5322 Message-ID

    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_messages_person_id", "person_id"),
    )


OUTBOX_TABLE: Final = cast(Table, OutboxMessage.__table__)  # for Core statements on the hot path
