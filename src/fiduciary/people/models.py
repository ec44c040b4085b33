"""The people tables: a pseudonymous id, a status and the age facts, never a personal value; and who was erased.

The date of birth is deliberately absent: only the day the person comes of age under the policy is kept
(`adult_on`), which is all the children's rules (DPDP s.9, Rule 10) need.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base, utcnow


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (Index("ix_people_closed_at", "closed_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "per_" + 26 base32 chars, meaningless
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active", server_default="active")
    age_status: Mapped[str] = mapped_column(String(16), nullable=False, default="unknown", server_default="unknown")
    adult_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)  # ix_people_closed_at: retention sweep
    # A lawful guardian of a person with a disability (DPDP s.9(1), Rule 11): in force once staff verified
    # the order of appointment (`fiduciary.people.guardianship`).
    lawful_guardian_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    guardianship_order: Mapped[str | None] = mapped_column(String(200), nullable=True)
    guardianship_verified_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    guardianship_verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Where the person lives, when the store knows it (a jurisdiction code the policy declared when it was
    # recorded): decisions then apply that jurisdiction's ground and age band (issue 12; policy.ages).
    jurisdiction: Mapped[str | None] = mapped_column(String(8), nullable=True)


class PersonErasure(Base):
    """Who was erased and when: the database copy of the vault's erasure journal.

    `purged_at` is set when the vault's ciphertext rows are gone. A fact about the person's life cycle, kept
    here so the consent projection can replay erasures without reading the vault.

    No foreign key to `people`: restore-replay records erasures of people an old backup may not know.
    """

    __tablename__ = "vault_erasures"
    __table_args__ = (Index("ix_vault_erasures_pending", "purged_at"),)

    person_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    journal_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(nullable=True)
