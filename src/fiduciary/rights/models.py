"""The rights requests tables: a request, its history of transitions and its manual steps.

A request outlives the data it is about: after an erasure the row stays (the person id is a pseudonym and
the row holds no personal value) as the store's proof that it answered, and when (GDPR Art 5(2), DPDP
Rule 14 and s.8(10)). What the person proposed or named (corrected values, a nominee's contact, an agent's
proof reference) is sealed under the person's vault key in `sealed`, so an erasure's crypto-shredding makes
it unreadable with everything else.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final, cast

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class RightsRequest(Base):
    __tablename__ = "rights_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "rr_" + 26 base32: meaningless
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # a policy RightKind
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False)
    jurisdiction: Mapped[str | None] = mapped_column(String(16), nullable=True)  # whose deadline applied
    state: Mapped[str] = mapped_column(String(24), nullable=False)  # rights.states.State
    made_by: Mapped[str] = mapped_column(String(16), nullable=False)  # person | store | agent | nominee
    channel: Mapped[str] = mapped_column(String(32), nullable=False)  # a policy RequestChannel
    actor: Mapped[str] = mapped_column(String(64), nullable=False)  # the key id or customer session that made it
    verified_by: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a policy Verification, once done
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    challenge_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the open one-time code, if any
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Non-personal parameters of the kind: purposes for a restriction, the fields a correction touches, the
    # recipients to propagate a correction to, what an erasure kept.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # personal parameters, sealed
    sealed_key_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at: Mapped[datetime] = mapped_column(nullable=False)
    acknowledge_by: Mapped[datetime | None] = mapped_column(nullable=True)
    due_at: Mapped[datetime] = mapped_column(nullable=False)  # the instant the deadline in force ends
    due_on: Mapped[date] = mapped_column(Date, nullable=False)  # its last day, in the policy's time zone
    respond_by: Mapped[datetime] = mapped_column(nullable=False)  # the first deadline, before any extension
    extension_limit: Mapped[datetime | None] = mapped_column(nullable=True)
    extended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    extension_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)  # sent to the person
    run_after: Mapped[datetime | None] = mapped_column(nullable=True)  # end of an erasure's waiting period
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    outcome_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a code: duplicate, …
    outcome_note: Mapped[str | None] = mapped_column(String(500), nullable=True)  # the reason, for the person
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # every transition adds one
    updated_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (
        # Open requests by due date: the staff listing's first page and the overdue sweep.
        Index("ix_rights_requests_state_due_at", "state", "due_at"),
        Index("ix_rights_requests_due_at", "due_at"),
        Index("ix_rights_requests_person_id", "person_id"),
    )


class RightsRequestEvent(Base):
    """One transition: the history shown with a request. The audit ledger holds the tamper-evident copy."""

    __tablename__ = "rights_request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("rights_requests.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)  # received, verified, approved, …
    from_state: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_state: Mapped[str] = mapped_column(String(24), nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a code, never free text

    __table_args__ = (Index("ix_rights_request_events_request_id", "request_id"),)


class RightsRequestStep(Base):
    """A manual step: a system outside Fiduciary staff must reach by hand. Who confirmed and when is the
    proof the step was done."""

    __tablename__ = "rights_request_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("rights_requests.id"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    system: Mapped[str] = mapped_column(String(200), nullable=False)  # from the policy, not personal
    action: Mapped[str | None] = mapped_column(String(200), nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_rights_request_steps_request_id", "request_id", "position", unique=True),)


REQUESTS_TABLE: Final = cast(Table, RightsRequest.__table__)
STEPS_TABLE: Final = cast(Table, RightsRequestStep.__table__)
