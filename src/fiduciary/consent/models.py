"""Consent tables: the state projection and the bookkeeping around it.

`consent_state` is a projection of the "consent" ledger stream: it can always be rebuilt from the ledger
alone (`fiduciary consent rebuild-state`), so the ledger stays the evidence (DPDP s.6(10), GDPR Art 7(1))
and this table only makes reads fast.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base, utcnow


class ConsentState(Base):
    """The current status per (subject, purpose); a subject is a person ("per_…") or a visitor ("vis_…")."""

    __tablename__ = "consent_state"

    subject_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(80), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # granted | withdrawn | denied
    policy_version: Mapped[int] = mapped_column(Integer, nullable=False)
    notice_hash: Mapped[str] = mapped_column(String(71), nullable=False)
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    language: Mapped[str] = mapped_column(String(16), nullable=False)
    guardian_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
    # The ledger event this row comes from; for a row copied from a linked visitor it is the visitor's
    # event, which is how the row notes its source.
    ledger_position: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_consent_state_purpose_status", "purpose", "status", "subject_id"),)


class VisitorLink(Base):
    """A banner visitor who signed in: their visitor consents were copied to the person (newer wins)."""

    __tablename__ = "visitor_links"

    visitor_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False)
    linked_at: Mapped[datetime] = mapped_column(nullable=False)


class ProcessingRestriction(Base):
    """An objection (DPDP s.7(a) illustration, GDPR Art 21) or restriction (GDPR Art 18) by a person."""

    __tablename__ = "processing_restrictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False, index=True)
    purpose: Mapped[str | None] = mapped_column(String(80), nullable=True)  # NULL: every non-legal purpose
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # objection | restriction
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ConsentIdempotency(Base):
    """The answer to a request made with an `Idempotency-Key`, replayed when the same request comes again."""

    __tablename__ = "consent_idempotency"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "<api key id>:<client key>"
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    response: Mapped[Any] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, index=True)  # purge by age


class ReconsentFloor(Base):
    """Consent given under a version older than `min_version` no longer counts for the purpose."""

    __tablename__ = "reconsent_floors"

    purpose: Mapped[str] = mapped_column(String(80), primary_key=True)
    min_version: Mapped[int] = mapped_column(Integer, nullable=False)
    since: Mapped[datetime] = mapped_column(nullable=False)


class ReconsentNotice(Base):
    """A person to ask again after a material change of a purpose they consented to (ISO/IEC 29184 5.5.3)."""

    __tablename__ = "reconsent_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(80), nullable=False)
    policy_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (UniqueConstraint("person_id", "purpose", "policy_version"),)


class GpcOptOut(Base):
    """Which (subject, purpose) a Global Privacy Control signal already opted out (CCPA 11 CCR §7025).

    Kept so a browser that sends `Sec-GPC: 1` on every request records the opt-out once, and so a person
    who later opts in explicitly is not overridden on the next request (§7025(c)(3)). Rebuilt from the
    ledger with the state.
    """

    __tablename__ = "gpc_opt_outs"

    subject_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(80), primary_key=True)
    ledger_position: Mapped[int] = mapped_column(BigInteger, nullable=False)
