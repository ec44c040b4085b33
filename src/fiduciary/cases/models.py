"""The cases tables: a case, its history, its clocks and its notes (issue 16 item 4; docs/cases.md).

A case outlives the data it is about, as a rights request does: after the person's erasure the row stays,
pseudonymous, as the store's proof that it answered in time (DPDP s.8(10) and Rule 14(3); GDPR Art 5(2)).
Free text (a complaint, a note, a reply, a contact address of someone who is not a customer) is sealed under
the case's own random data key, wrapped by the KEK (`cases.sealing`); `details` holds non-personal facts
only (policy codes, counts, categories).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final, cast

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, LargeBinary, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base

OPEN_CLOCK: Final = "met_at IS NULL AND stopped_at IS NULL"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "cs_" + 26 base32: meaningless
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # a registered CaseKind name
    state: Mapped[str] = mapped_column(String(24), nullable=False)  # one of the kind's states
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # every change adds one
    person_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("people.id"), nullable=True)
    assigned_to: Mapped[str | None] = mapped_column(String(100), nullable=True)  # a staff id, never a name
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)  # api, privacy_center, email, …
    actor: Mapped[str] = mapped_column(String(100), nullable=False)  # who opened it (a key id, a session)
    opened_at: Mapped[datetime] = mapped_column(nullable=False)
    aware_at: Mapped[datetime | None] = mapped_column(nullable=True)  # a breach: when the store became aware
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    outcome_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a code, never free text
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)  # non-personal facts
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # personal values, sealed
    key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # the case data key, by the KEK
    kek_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (
        Index("ix_cases_kind_state", "kind", "state"),
        Index("ix_cases_person_id", "person_id"),
        Index("ix_cases_kek_id", "kek_id"),
    )


class CaseEvent(Base):
    """One change of a case: the history shown with it. The audit ledger holds the tamper-evident copy."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(40), ForeignKey("cases.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)  # opened, a transition, assigned, escalated
    from_state: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_state: Mapped[str] = mapped_column(String(24), nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a code, never free text

    __table_args__ = (Index("ix_case_events_case_id", "case_id"),)


class CaseClock(Base):
    """One deadline of a case, counted on the policy's calendar. Open until met (the transition that answers
    it) or stopped (the case closed first); `escalated_at` is set once, when it became due soon."""

    __tablename__ = "case_clocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(40), ForeignKey("cases.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # the case's kind, for the due listing
    name: Mapped[str] = mapped_column(String(32), nullable=False)
    started_at: Mapped[datetime] = mapped_column(nullable=False)
    due_at: Mapped[datetime] = mapped_column(nullable=False)  # the instant it ends (overdue from then)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)  # its last day, in the policy's time zone
    escalate_at: Mapped[datetime] = mapped_column(nullable=False)  # from when it is due soon
    met_at: Mapped[datetime | None] = mapped_column(nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        Index("ix_case_clocks_case_id_name", "case_id", "name", unique=True),
        # The due listing's first page and the escalation sweep read open clocks only.
        Index(
            "ix_case_clocks_open_due",
            "due_at",
            "case_id",
            "name",
            sqlite_where=text(OPEN_CLOCK),
            postgresql_where=text(OPEN_CLOCK),
        ),
        Index(
            "ix_case_clocks_open_escalate",
            "escalate_at",
            sqlite_where=text(f"{OPEN_CLOCK} AND escalated_at IS NULL"),
            postgresql_where=text(f"{OPEN_CLOCK} AND escalated_at IS NULL"),
        ),
    )


class CaseNote(Base):
    """A note on a case: `internal` for staff, `reply` sent to the person. The text is sealed under the case
    key, so the person's erasure makes it unreadable with the case's other free text."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "cn_" + 26 base32
    case_id: Mapped[str] = mapped_column(String(40), ForeignKey("cases.id"), nullable=False)
    author: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # internal | reply
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (Index("ix_case_notes_case_id", "case_id", "at"),)


CASES_TABLE: Final = cast(Table, Case.__table__)
CLOCKS_TABLE: Final = cast(Table, CaseClock.__table__)
NOTES_TABLE: Final = cast(Table, CaseNote.__table__)
