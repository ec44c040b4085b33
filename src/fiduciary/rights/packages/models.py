"""The access_packages and access_package_chunks tables: built access packages, stored encrypted.

A package is a ZIP (JSON, CSVs, HTML summary, receipts) sealed in chunks under a random package key; the
package key is stored only wrapped under the person's vault data key, so erasing the person (destroying that
key: crypto-shredding, DPDP s.8(7), GDPR Art 17) leaves every copy unreadable, backups too. The download link
lives on the package row: only the SHA-256 of its token is stored (the token itself is given once), with its
expiry and how many downloads it allows and has had.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, cast

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class AccessPackage(Base):
    __tablename__ = "access_packages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "pkg_" + random hex, meaningless
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the rights request, if any
    portability: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    key_version: Mapped[int] = mapped_column(Integer, nullable=False)  # the person's data key version
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # package key under the person's key
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)  # of the ZIP
    chunk_count: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of the ZIP, to check a download
    record_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    link_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True, unique=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    max_downloads: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    downloads: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_access_packages_person_id", "person_id"),)


class AccessPackageChunk(Base):
    """One sealed chunk: `nonce | ciphertext+tag` of up to `CHUNK_BYTES` of the ZIP, in order by `seq`."""

    __tablename__ = "access_package_chunks"

    package_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("access_packages.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


ACCESS_PACKAGES: Final = cast(Table, AccessPackage.__table__)
ACCESS_PACKAGE_CHUNKS: Final = cast(Table, AccessPackageChunk.__table__)
