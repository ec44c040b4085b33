"""The identity tables: verification_codes (one row per one-time code challenge) and customer_sessions (one
row per short-lived customer session opened after a verification).

No identifier and no code is stored in clear: the identifier as its vault blind index (keyed HMAC, the
index the vault finds people by), the code as HMAC-SHA256 under a key derived from FIDUCIARY_SECRET_KEY and
bound to the challenge id (decision 0030). The lock-out lives here, in the database, so a restart does
not reset it. A customer session keeps only the SHA-256 digest of its bearer secret, never the secret.
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


class CustomerSessionRecord(Base):
    """A customer's session: proof, for `expires_at - created_at` at most, that the bearer is `person_id`.

    The bearer token (`cst_<hex id>.<secret>`) is shown once, when the session opens; the table holds the
    SHA-256 of its secret (256 random bits, so an unkeyed digest cannot be reversed), like API keys
    (decision 0001). `client_hash` is an optional keyed digest of the client address, never the address.
    """

    __tablename__ = "customer_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "cs_" + 32 hex
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)  # SHA-256 of the bearer secret
    verified_by: Mapped[str] = mapped_column(String(32), nullable=False)  # signed_in_session | email_otp | sms_otp
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)  # absolute: never extended by use
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    client_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        Index("ix_customer_sessions_person_id", "person_id"),
        Index("ix_customer_sessions_expires_at", "expires_at"),
    )


CUSTOMER_SESSIONS_TABLE: Final = cast(Table, CustomerSessionRecord.__table__)
