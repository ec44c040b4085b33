"""The disclosure tables: recipients' endpoints, the disclosure log, and the webhook deliveries that carry
withdrawals, corrections, restrictions and erasures to every recipient that received the data.

The log holds who disclosed (the API key), what categories, to whom, when, under which policy version and,
for an authority, the order reference; never a value (DPDP s.11(1)(b): the person may learn who received
their data; GDPR Art 30(1)(d)). Its rows name people by their pseudonymous id only and outlive an erasure as
the store's proof of what it told the recipients (GDPR Art 5(2), 17(2) and 19).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, cast

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base

DISCLOSURE_ID_PATTERN: Final = r"^dsc_[a-z2-7]{26}$"
DELIVERY_ID_PATTERN: Final = r"^whd_[a-z2-7]{26}$"


class RecipientEndpoint(Base):
    """Where a recipient receives notices, and the secret they are signed with, sealed under a record key
    wrapped by the key-encryption key (as a legal-hold record is)."""

    __tablename__ = "recipient_endpoints"

    recipient_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the policy's recipient id
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    secret_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    kek_id: Mapped[str] = mapped_column(String(64), nullable=False)
    configured_by: Mapped[str] = mapped_column(String(64), nullable=False)
    configured_at: Mapped[datetime] = mapped_column(nullable=False)


class Disclosure(Base):
    """One share with one recipient for one purpose: the categories, never their values."""

    __tablename__ = "disclosures"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "dsc_" + 26 base32
    recipient_id: Mapped[str] = mapped_column(String(64), nullable=False)
    recipient_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)
    categories: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)  # the API key id (or cli)
    policy_version: Mapped[int] = mapped_column(Integer, nullable=False)
    order_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)  # authorities only
    audience: Mapped[bool] = mapped_column(nullable=False, default=False)  # people chosen by the audience query
    people: Mapped[int] = mapped_column(Integer, nullable=False)  # how many people it reached
    disclosed_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (Index("ix_disclosures_recipient_id_disclosed_at", "recipient_id", "disclosed_at"),)


class DisclosureSubject(Base):
    """One person in one disclosure, with the reference the recipient knows them by (never the person id)."""

    __tablename__ = "disclosure_subjects"

    disclosure_id: Mapped[str] = mapped_column(String(40), ForeignKey("disclosures.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    recipient_ref: Mapped[str] = mapped_column(String(40), nullable=False)

    __table_args__ = (Index("ix_disclosure_subjects_person_id", "person_id"),)


class WebhookDelivery(Base):
    """One notice to one recipient about one person: queued in the transaction of the change, sent by the
    job `disclosures.deliver`, retried with a doubling wait for `GIVE_UP_AFTER` until a 2xx answers it
    (`delivered`), and `acknowledged` once the recipient confirms, by a signed call of its own, that it acted
    (`disclosures.acknowledgements`)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "whd_" + 26 base32; the webhook-id
    recipient_id: Mapped[str] = mapped_column(String(64), nullable=False)
    person_id: Mapped[str] = mapped_column(String(40), nullable=False)
    recipient_ref: Mapped[str] = mapped_column(String(40), nullable=False)
    event: Mapped[str] = mapped_column(String(16), nullable=False)  # personal_data.changes.ChangeKind
    categories: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    purposes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None: every purpose
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # pending, sending, delivered, acknowledged, failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(nullable=False)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)  # the 2xx that answered the notice
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)  # the recipient's signed confirmation
    acknowledgement: Mapped[str | None] = mapped_column(String(16), nullable=True)  # what it said: done, not_held
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the last HTTP status
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a code or exception class

    __table_args__ = (
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_person_id", "person_id"),
    )


class WebhookAttempt(Base):
    """One try of a delivery: when, the HTTP status or the error's class, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_deliveries.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id"),)


SUBJECTS_TABLE: Final = cast(Table, DisclosureSubject.__table__)
DELIVERIES_TABLE: Final = cast(Table, WebhookDelivery.__table__)
ATTEMPTS_TABLE: Final = cast(Table, WebhookAttempt.__table__)
