"""The verification_codes table: one row per one-time code challenge.

No identifier and no code is stored in clear: the identifier as its vault blind index (keyed HMAC, the
index the vault finds people by), the code as HMAC-SHA256 under a key derived from FIDUCIARY_SECRET_KEY and
bound to the challenge id (decision 0030). The lock-out lives here, in the database, so a restart does
not reset it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, cast

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class VerificationCode(Base):
    __tablename__ = "verification_codes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the challenge id: "vc_" + random hex
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)  # what the code proves, e.g. rights.request
    # None for a decoy (an identifier nobody holds): such a challenge never verifies.
    person_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("people.id"), nullable=True)
    identifier_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # email | phone
    identifier_index: Mapped[bytes] = mapped_column(LargeBinary(16), nullable=False)  # the vault's blind index
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)  # HMAC-SHA256; random for a decoy
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    consumed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (
        Index("ix_verification_codes_person_id", "person_id"),
        Index("ix_verification_codes_created_at", "created_at"),
    )


VERIFICATION_CODES_TABLE: Final = cast(Table, VerificationCode.__table__)
