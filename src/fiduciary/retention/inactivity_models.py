"""The tables of inactivity erasure (DPDP s.8(8), Rule 8 and the Third Schedule; docs/inactivity.md).

- `inactivity_clocks`: one row per person, the last time the person approached the store (sign-in, an order
  or any event the store reports, a rights request, a consent change, a reported contact) and when the
  reminder and the notice of the coming erasure went for that clock. A later contact clears both: the
  erasure is cancelled and a later inactivity starts over.
- `inactivity_account_stubs`: what the Third Schedule exempts so the person can access their account again
  after an inactivity erasure: that the account existed, when it was erased, and the blind indexes of the
  identifiers it signs in with (keyed hashes, never the identifier).
- `stored_value_balances`: a wallet, credit or gift-card balance the store reports (the Schedule's "virtual
  token" usable for money, goods or services): the instrument's slug, an ISO 4217 currency and an integer
  amount in minor units. An inactivity erasure keeps it; any other erasure deletes it.

No row holds a personal value; every row references a person and is exported and erased through
`retention.inactivity_rights`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class InactivityClock(Base):
    __tablename__ = "inactivity_clocks"
    __table_args__ = (Index("ix_inactivity_clocks_last_contact_at", "last_contact_at"),)

    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), primary_key=True)
    last_contact_at: Mapped[datetime] = mapped_column(nullable=False)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    notice_sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the last one a contact named


class AccountStub(Base):
    __tablename__ = "inactivity_account_stubs"

    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(nullable=False)
    last_contact_at: Mapped[datetime] = mapped_column(nullable=False)
    # [{"kind": "email", "blind_index": "<hex>"}]: what sign-in matches, never the identifier itself
    sign_in: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)


class StoredValueBalance(Base):
    __tablename__ = "stored_value_balances"

    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), primary_key=True)
    instrument: Mapped[str] = mapped_column(String(64), primary_key=True)  # "wallet", "gift_card.GC-123" …
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reported_at: Mapped[datetime] = mapped_column(nullable=False)


CLOCKS = cast(Table, InactivityClock.__table__)
STUBS = cast(Table, AccountStub.__table__)
BALANCES = cast(Table, StoredValueBalance.__table__)
