"""The retention tables: staff holds, approved plans, the run journal and the anonymised counts.

No column holds a personal value: people appear by pseudonymous id (holds only), notes are redacted free
text, and the anonymised counts carry generalised quasi-identifiers of groups of at least k people and no
person reference at all.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class RetentionHold(Base):
    """A staff hold on a person (`category` NULL) or on one category of their data, for a dispute or an
    authority's order: the sweep and erasure keep what it covers until `until` or its release."""

    __tablename__ = "retention_holds"
    __table_args__ = (Index("ix_retention_holds_person_active", "person_id", "released_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "hold_" + 26 base32 characters
    person_id: Mapped[str] = mapped_column(String(40), nullable=False)
    category: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reason: Mapped[str] = mapped_column(String(40), nullable=False)  # a code: dispute, authority_order …
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # redacted before it is stored
    placed_by: Mapped[str] = mapped_column(String(100), nullable=False)
    placed_at: Mapped[datetime] = mapped_column(nullable=False)
    until: Mapped[date] = mapped_column(Date, nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class RetentionPlan(Base):
    """A plan the planner computed: its per-rule counts, and the admin approval a rule may require."""

    __tablename__ = "retention_plans"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "rplan_" + 26 base32 characters
    policy_hash: Mapped[str] = mapped_column(String(71), nullable=False)
    planned_at: Mapped[datetime] = mapped_column(nullable=False)
    summary: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)  # counts and dates, per rule
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RetentionRun(Base):
    """One sweep: its cursor (the last person id a committed window reached), so a crashed run resumes where
    its last committed batch ended; `finished_at` once every group is done and the anonymised counts settled."""

    __tablename__ = "retention_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "rrun_" + 26 base32 characters
    plan_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    started_at: Mapped[datetime] = mapped_column(nullable=False)
    now: Mapped[datetime] = mapped_column(nullable=False)  # the instant the run measures due dates against
    # {"after": the last person id a committed window reached} and {"done": true} once every window ran
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RetentionBatch(Base):
    """One committed batch of a run: what it did per rule (a row per rule, sharing the batch's `seq`), in
    counts, and its audit event's ledger position."""

    __tablename__ = "retention_batches"
    __table_args__ = (UniqueConstraint("run_id", "seq", "rule"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    rule: Mapped[str] = mapped_column(String(80), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    people: Mapped[int] = mapped_column(Integer, nullable=False)
    fields: Mapped[int] = mapped_column(Integer, nullable=False)
    ledger_position: Mapped[int] = mapped_column(BigInteger, nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)


class AnonymisedCount(Base):
    """What an anonymising rule keeps: how many people shared one combination of generalised
    quasi-identifiers. `run_id` set: staged during a run (not yet k-checked); NULL: settled, >= k."""

    __tablename__ = "retention_anonymised"
    __table_args__ = (Index("ix_retention_anonymised_rule", "rule", "run_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(80), nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    qi: Mapped[str] = mapped_column(String(400), nullable=False)  # canonical JSON of the generalised values
    people: Mapped[int] = mapped_column(Integer, nullable=False)
